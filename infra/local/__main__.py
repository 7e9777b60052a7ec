"""`python -m infra.local`: the whole JetDesk system on this machine, in one process.

moto (server mode) → tables, queues, topic and demo data → sinks → event pump →
the Chalice app on HOST:PORT. Ctrl-C or SIGTERM stops everything.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading

from moto.server import ThreadedMotoServer

from . import demo, motofix, sinks, stage


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    from chalicelib import logs
    logs.configure()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    stage.load()
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))

    moto_port = int(os.environ.get("MOTO_PORT") or _free_port())
    motofix.install()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    sink = sinks.start()
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "TWILIO_API_BASE": sink.url + "/twilio",
        "META_API_BASE": sink.url + "/meta",
        "X_API_BASE": sink.url + "/x",
        "TELEGRAM_API_BASE": sink.url + "/telegram",
        "SES_ENDPOINT_URL": sink.url + "/ses",
        "JETDESK_SINK_URL": sink.url,
        "JETDESK_INTEGRATION_WEBHOOK_URL": sink.url + "/webhooks/demo",
    })

    from chalicelib.settings import Settings, override_settings
    os.environ.update(demo.create_resources(Settings.from_env(os.environ)))
    settings = Settings.from_env(os.environ)
    override_settings(settings)
    demo.seed()
    demo.seed_canned_responses()

    import app as application

    from .gateway import local_server
    from .pump import EventPump

    pump = (EventPump(settings.region, settings.aws_endpoint_url, on_failure=settings.stream_failures_queue)
            .stream(settings.table_name("inbound"), application.handle_inbound)
            .stream(settings.table_name("outbox"), application.handle_outbox)
            .queue(settings.notify_retry_queue, application.handle_notify_retry)
            .queue(settings.stream_failures_queue, application.handle_stream_failure)
            .queue(settings.inbound_mail_topic + "-local", application.handle_inbound_mail, sns=True)
            .every(60, application.sweep_timers))
    stop = threading.Event()
    pump_thread = threading.Thread(target=pump.run, args=(stop,), name="pump", daemon=True)
    pump_thread.start()

    server = local_server(application.app, host, port)
    server_thread = threading.Thread(target=server.serve_forever, name="chalice", daemon=True)

    def shutdown(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    server_thread.start()
    print(f"\nJetDesk is up on http://{host}:{port} (moto :{moto_port}, sinks {sink.url}); Ctrl-C stops it",
          flush=True)
    while not stop.wait(0.5):  # a wait with no timeout may sleep through a signal another thread took
        pass
    print("stopping…", flush=True)
    server.shutdown()
    pump_thread.join(timeout=5)
    sink.shutdown()
    moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

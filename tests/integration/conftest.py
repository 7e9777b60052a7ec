"""Integration tests: the real app and handlers on moto in-process, real sinks over HTTP."""
from __future__ import annotations

import os

import pytest
from moto import mock_aws


@pytest.fixture(scope="session")
def sink():
    from infra.local import sinks
    server = sinks.start()
    os.environ["TWILIO_API_BASE"] = server.url + "/twilio"
    os.environ["META_API_BASE"] = server.url + "/meta"
    os.environ["X_API_BASE"] = server.url + "/x"
    os.environ["TELEGRAM_API_BASE"] = server.url + "/telegram"
    os.environ["SES_ENDPOINT_URL"] = server.url + "/ses"
    os.environ["JETDESK_SINK_URL"] = server.url
    os.environ["JETDESK_INTEGRATION_WEBHOOK_URL"] = server.url + "/webhooks/demo"
    os.environ["JETDESK_AGENT_ALERT_TOPIC_ARN"] = "arn:aws:sns:us-east-1:123456789012:jetdesk-test-agent-alerts"
    yield server
    server.shutdown()


@pytest.fixture
def stack(sink):
    """A fresh AWS (moto), tables and demo data; yields the app module and a pump."""
    from chalicelib.services import jetconfig, providers
    from chalicelib.settings import Settings, override_settings
    from infra.local import demo, motofix
    from infra.local.pump import EventPump

    motofix.install()
    with mock_aws():
        settings = Settings.from_env(os.environ)
        override_settings(settings)
        providers.reset()
        jetconfig.forget()
        demo.create_resources(settings)
        demo.seed()
        import app
        pump = (EventPump(settings.region, None, on_failure=settings.stream_failures_queue)
                .stream(settings.table_name("inbound"), app.handle_inbound)
                .stream(settings.table_name("outbox"), app.handle_outbox)
                .queue(settings.notify_retry_queue, app.handle_notify_retry)
                .queue(settings.stream_failures_queue, app.handle_stream_failure)
                .queue(settings.inbound_mail_topic + "-local", app.handle_inbound_mail, sns=True))
        sink.records.clear()
        yield Stack(app, pump, sink, settings)


class Stack:
    def __init__(self, app, pump, sink, settings) -> None:
        self.app, self.pump, self.sink, self.settings = app, pump, sink, settings

    def sent(self, provider: str) -> list[dict]:
        return [r for r in self.sink.records if r["provider"] == provider]


@pytest.fixture
def http(stack):
    from chalice.test import Client

    from infra.local.stage import PROJECT
    with Client(stack.app.app, stage_name="local", project_dir=str(PROJECT)) as client:
        yield client.http


def bearer(settings, agent: str) -> dict:
    from chalicelib.auth import tokens
    from infra.local.demo import AGENTS
    return {"Authorization": "Bearer " + tokens.issue(settings, agent, AGENTS[agent]["role"])}


def sms(stack, http, sid: str, body: str, sender: str = "+14155550123", to: str = "+14155559999"):
    """Deliver one Twilio-signed SMS through the real route."""
    from tests.conftest import event
    from tests.helpers import twilio_signed
    params = {**event("twilio/sms_inbound.json"), "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid,
              "Body": body, "From": sender, "To": to}
    payload, headers = twilio_signed(stack.settings, "/channels/twilio/sms", params)
    return http.post("/channels/twilio/sms", headers=headers, body=payload)

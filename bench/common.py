"""What the bench sections share: the local stage on moto in-process, signed deliveries for
every inbound route, and a clock on the AWS emulator.

The stack is the one the integration tests run (tests/integration/conftest.py): the real
Chalice app behind chalice.test.Client, moto for AWS, the event pump for the streams and
the local sinks for Twilio/SES/Meta/X/Telegram/webhooks.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

PROJECT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
EVENTS = PROJECT / "tests" / "events"
RESULTS = BENCH / "results"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def environment() -> None:
    """The local stage's variables and fake credentials, as the tests set them."""
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    from infra.local import stage
    stage.load(os.environ)
    os.environ.setdefault("JETDESK_TABLE_PREFIX", "jetdesk-bench")


def event(name: str) -> Any:
    path = EVENTS / name
    return json.loads(path.read_text()) if path.suffix == ".json" else path.read_bytes()


def emit(result: dict) -> None:
    """A section's answer to the runner: one JSON line on stdout, marked."""
    sys.stdout.write("BENCH-RESULT " + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def quiet_logs() -> None:
    """Keep formatting every log record as the app does (Lambda pays for it), but write to /dev/null."""
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)
    logging.getLogger("jetdesk.pump").setLevel(logging.ERROR)


# ---- the time spent inside the AWS emulator ---------------------------------------------------

class EmulatorClock:
    """CPU seconds spent inside moto (every botocore request it answers in-process).

    moto answers botocore's ``before-send`` event itself, so ``Endpoint._send`` never runs
    under mock_aws; the place every emulated request passes is BotocoreStubber.process_request.
    What stays outside is what a Lambda would pay too: botocore building, signing and parsing.
    """

    def __init__(self) -> None:
        self.cpu = 0.0
        self.requests = 0
        self._depth = 0
        self.profiler = None   # a cProfile.Profile to pause while moto runs
        self.by_service: dict[str, int] = {}

    def install(self) -> "EmulatorClock":
        from moto.core.botocore_stubber import BotocoreStubber
        original = BotocoreStubber.process_request
        clock = self

        def timed(stubber, request):
            if clock._depth:
                return original(stubber, request)
            clock._depth += 1
            profiler = clock.profiler
            if profiler is not None:
                profiler.disable()
            start = time.process_time()
            try:
                return original(stubber, request)
            finally:
                clock.cpu += time.process_time() - start
                clock.requests += 1
                service = _service(request)
                clock.by_service[service] = clock.by_service.get(service, 0) + 1
                clock._depth -= 1
                if profiler is not None:
                    profiler.enable()

        BotocoreStubber.process_request = timed
        return self


def _service(request) -> str:
    """dynamodb, streams.dynamodb, sns, sqs, s3… from the request's host or target header."""
    from urllib.parse import urlparse
    host = urlparse(getattr(request, "url", "") or "").hostname or ""
    target = (request.headers.get("X-Amz-Target") or b"") if hasattr(request, "headers") else b""
    target = target.decode() if isinstance(target, bytes) else str(target)
    if target.startswith("DynamoDBStreams"):
        return "dynamodbstreams"
    if target.startswith("DynamoDB"):
        return "dynamodb"
    if target.startswith("AmazonSQS"):
        return "sqs"
    return host.split(".")[0] or "unknown"


# ---- the stack ----------------------------------------------------------------------------------

@dataclass
class Stack:
    app: Any
    http: Any                 # chalice.test.Client().http
    settings: Any
    inbound: Any              # EventPump over the inbound stream only
    outbox: Any               # EventPump over the outbox stream, the retry and stream-failures queues
    sink: Any

    def sent(self, provider: str) -> list[dict]:
        return [r for r in self.sink.records if r["provider"] == provider]


@contextmanager
def stack() -> Iterator[Stack]:
    environment()
    from moto import mock_aws

    from infra.local import motofix
    motofix.install()

    from infra.local import sinks
    sink = sinks.start()
    os.environ.update({
        "TWILIO_API_BASE": sink.url + "/twilio", "META_API_BASE": sink.url + "/meta",
        "X_API_BASE": sink.url + "/x", "TELEGRAM_API_BASE": sink.url + "/telegram",
        "SES_ENDPOINT_URL": sink.url + "/ses", "JETDESK_SINK_URL": sink.url,
        "JETDESK_INTEGRATION_WEBHOOK_URL": sink.url + "/webhooks/demo",
        "JETDESK_AGENT_ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:jetdesk-bench-agent-alerts",
    })
    try:
        with mock_aws():
            from chalice.test import Client

            from chalicelib.services import jetconfig, providers
            from chalicelib.settings import Settings, override_settings
            from infra.local import demo
            from infra.local.pump import EventPump

            settings = Settings.from_env(os.environ)
            override_settings(settings)
            providers.reset()
            jetconfig.forget()
            os.environ.update(demo.create_resources(settings))
            settings = Settings.from_env(os.environ)
            override_settings(settings)
            demo.seed()
            import app
            quiet_logs()
            failures = settings.stream_failures_queue
            inbound = EventPump(settings.region, None, on_failure=failures).stream(
                settings.table_name("inbound"), app.handle_inbound)
            outbox = (EventPump(settings.region, None, on_failure=failures)
                      .stream(settings.table_name("outbox"), app.handle_outbox)
                      .queue(settings.notify_retry_queue, app.handle_notify_retry)
                      .queue(failures, app.handle_stream_failure))
            with Client(app.app, stage_name="local", project_dir=str(PROJECT)) as client:
                yield Stack(app, client.http, settings, inbound, outbox, sink)
    finally:
        sink.shutdown()


# ---- one signed delivery per inbound route ------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


def _ok(response, route: str):
    if response.status_code >= 300:
        raise RuntimeError(f"{route} answered {response.status_code}: {response.body[:300]!r}")
    return response


@dataclass(frozen=True)
class Prepared:
    path: str
    headers: dict
    body: Any


class Deliveries:
    """Signed provider deliveries built from the captured payloads in tests/events.

    ``send(channel, customer, n)`` delivers the n-th message (0 = the first) of a customer on
    a channel through its public route; unique provider ids make every delivery new.
    """

    CHANNELS = ("twilio_sms", "email_relay", "meta_whatsapp", "x_dm", "telegram", "chat", "integration_ticket")

    def __init__(self, stack: Stack) -> None:
        self.stack, self.settings, self.http = stack, stack.settings, stack.http
        self._chat_sessions: dict[str, dict] = {}
        self._seq = 0
        self.last_sms: dict = {}

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def prepare(self, channel: str, customer: int, n: int, text: str | None = None) -> "Prepared":
        """Everything before the request (the bench's own look-ups included), so it can be metered alone."""
        return getattr(self, channel)(customer, n, text)

    def post(self, request: "Prepared"):
        return _ok(self.http.post(request.path, headers=request.headers, body=request.body), request.path)

    def send(self, channel: str, customer: int, n: int, text: str | None = None):
        return self.post(self.prepare(channel, customer, n, text))

    # Twilio Programmable Messaging webhook, form-encoded and signed over our public URL
    def twilio_sms(self, customer: int, n: int, text: str | None = None):
        from twilio.request_validator import RequestValidator
        sid = "SM" + hashlib.md5(f"bench-{customer}-{n}-{self._next()}".encode()).hexdigest()
        params = {**event("twilio/sms_inbound.json"), "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid,
                  "From": f"+1415{5550000 + customer:07d}"}
        if text is not None:
            params["Body"] = text
        elif n:
            params["Body"] = "Any news? I am still waiting at the airport and my connection leaves soon."
        self.last_sms = params
        path = "/channels/twilio/sms"
        signature = RequestValidator(self.settings.twilio_auth_token).compute_signature(
            self.settings.public_base_url + path, params)
        return Prepared(path, {"Content-Type": FORM, "X-Twilio-Signature": signature}, urlencode(params))

    # raw RFC 822 from the mail relay, X-JetDesk-Signature over the bytes
    def email_relay(self, customer: int, n: int, text: str | None = None):
        from chalicelib.auth.signatures import jetdesk_signature
        from chalicelib.storage.models import Customer, Identity, Message, Ticket
        raw = event("email/reply_en.eml").decode()
        head, _, body = raw.partition("\n\n")
        sender = f"maria.lopez+{customer}@example.com"
        keep = [line for line in head.splitlines()
                if not line.lower().startswith(("subject:", "message-id:", "in-reply-to:", "references:",
                                                "from:"))]
        headers = keep + [f"From: Maria Lopez <{sender}>",
                          f"Message-ID: <bench-{customer}-{n}-{self._next()}@example.com>"]
        if n == 0:
            headers.append("Subject: Missed connection in Frankfurt")
            body = body.split("\n-- \n")[0] + "\n"
        else:  # a reply to our acknowledgement, the way a mail client threads it
            ticket = Ticket.get(Customer.get(Identity.get(f"email:{sender}").customer_id).open_ticket_id)
            ours = [m.provider_message_id for m in Message.query(ticket.id)
                    if m.direction == "outbound" and m.provider_message_id]
            headers.append(f"Subject: Re: Missed connection in Frankfurt [{ticket.ref}]")
            if ours:
                headers += [f"In-Reply-To: <{ours[-1]}>", f"References: <{ours[-1]}>"]
        message = ("\r\n".join(headers) + "\r\n\r\n" + (text or body).replace("\n", "\r\n")).encode()
        path = "/channels/email/inbound"
        return Prepared(path, {"Content-Type": "message/rfc822",
                               "X-JetDesk-Signature": jetdesk_signature(self.settings.jetdesk_signing_secret, message)},
                        message)

    # WhatsApp Cloud API through Meta's webhook, X-Hub-Signature-256 over the raw bytes
    def meta_whatsapp(self, customer: int, n: int, text: str | None = None):
        payload = event("meta/whatsapp_text.json")
        value = payload["entry"][0]["changes"][0]["value"]
        phone = f"3361{2000000 + customer:07d}"
        value["contacts"][0]["wa_id"] = phone
        message = value["messages"][0]
        message.update({"from": phone, "id": f"wamid.bench{customer}x{n}x{self._next()}",
                        "timestamp": str(int(time.time()))})
        if text or n:
            message["text"]["body"] = text or "Toujours aucune nouvelle, ma correspondance part dans 2 heures."
        body = json.dumps(payload).encode()
        mac = hmac.new(self.settings.meta_app_secret.encode(), body, hashlib.sha256).hexdigest()
        path = "/channels/meta"
        return Prepared(path, {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + mac}, body)

    # X Account Activity API direct message, x-twitter-webhooks-signature
    def x_dm(self, customer: int, n: int, text: str | None = None):
        payload = event("x/dm.json")
        dm = payload["direct_message_events"][0]
        sender = str(2871945302 + customer)
        dm["id"] = str(1724398761538465798 + self._next())
        dm["message_create"]["sender_id"] = sender
        payload["users"][sender] = {**payload["users"].pop("2871945302"), "id": sender}
        if text or n:
            dm["message_create"]["message_data"]["text"] = text or "Still no answer, I need to rebook today."
        body = json.dumps(payload).encode()
        mac = base64.b64encode(hmac.new(self.settings.x_consumer_secret.encode(), body,
                                        hashlib.sha256).digest()).decode()
        path = "/channels/x"
        return Prepared(path, {"Content-Type": "application/json", "x-twitter-webhooks-signature": "sha256=" + mac},
                        body)

    # Telegram Bot API update, secret token header
    def telegram(self, customer: int, n: int, text: str | None = None):
        payload = event("telegram/message.json")
        seq = self._next()
        payload["update_id"] = 731946821 + seq
        payload["message"]["message_id"] = 1842 + seq
        payload["message"]["from"]["id"] = payload["message"]["chat"]["id"] = 5120384471 + customer
        if text or n:
            payload["message"]["text"] = text or "Any update on the wheelchair? My flight is tomorrow morning."
        path = "/channels/telegram"
        return Prepared(path, {"Content-Type": "application/json",
                               "X-Telegram-Bot-Api-Secret-Token": self.settings.telegram_secret_token},
                        json.dumps(payload).encode())

    # web chat: a session (not counted per message), then messages with its token
    def chat_session(self, customer: int) -> dict:
        key = str(customer)
        if key not in self._chat_sessions:
            response = _ok(self.http.post("/channels/chat/sessions", headers={"Content-Type": "application/json"},
                                          body=json.dumps({"name": f"Guest {customer}",
                                                           "email": f"guest{customer}@example.org"})),
                           "/channels/chat/sessions")
            self._chat_sessions[key] = response.json_body
        return self._chat_sessions[key]

    def chat(self, customer: int, n: int, text: str | None = None):
        session = self.chat_session(customer)
        text = text or ("My bag did not arrive on flight JD456 to Madrid." if n == 0
                        else "Any news about my bag? I leave Madrid tomorrow.")
        path = "/channels/chat/messages"
        return Prepared(path, {"Content-Type": "application/json", "Authorization": "Bearer " + session["token"]},
                        json.dumps({"text": text, "client_id": f"c{n}-{self._next()}"}))

    # integrator ticket.create, X-JetDesk-Signature
    def integration_ticket(self, customer: int, n: int, text: str | None = None):
        from chalicelib.auth.signatures import jetdesk_signature
        payload = event("integration/ticket_create.json")
        payload["id"] = f"evt_bench_{customer}_{n}_{self._next()}"
        payload["customer"] = {**payload["customer"], "email": f"jane.doe+{customer}@example.com",
                               "phone": f"+336{20000000 + customer:08d}"}
        if text or n:
            payload["data"] = {**payload["data"], "text": text or "The customer called again about the refund."}
        body = json.dumps(payload).encode()
        path = "/integrations/events"
        return Prepared(path, {"Content-Type": "application/json",
                               "X-JetDesk-Signature": jetdesk_signature(self.settings.jetdesk_signing_secret, body)},
                        body)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result

"""schemathesis against GET /openapi.json of a running local stack: whatever it sends, no 5xx, and every
error in the documented shape. Requests carry valid credentials (an agent token, a chat token, provider
signatures over the generated body) so the fuzzing reaches validation and the services, not only the doors."""
from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from twilio.request_validator import RequestValidator

from chalicelib import openapi
from chalicelib.auth.signatures import jetdesk_signature
from channels import twilio_sms
from infra.local.stage import stage_environment

from .conftest import start_stack

SECRETS = stage_environment("local")
EXAMPLES = 8      # per operation: ~35 operations, a few hundred requests in all

@schemathesis.serializer("message/rfc822")
def raw_mail(ctx, value) -> bytes:
    """The mail route takes raw RFC 822 bytes: generated objects become hostile headers, the rest a body."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        head = "".join(f"{name}: {text}\r\n" for name, text in value.items())
        return f"From: fuzz@example.com\r\n{head}\r\nWhere is my bag?".encode("utf-8", "surrogatepass")
    return f"From: fuzz@example.com\r\nSubject: fuzz\r\n\r\n{value}".encode("utf-8", "surrogatepass")


# The document the stack serves (test_the_stack_serves_the_document_fuzzed_here checks they are one).
OPERATIONS = [result.ok() for result in schemathesis.openapi.from_dict(openapi.document()).get_all_operations()]


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory):
    """A stack of its own: the fuzzer may save a JET configuration or subscribe webhooks."""
    stack = start_stack(tmp_path_factory.mktemp("fuzz"))
    yield stack
    stack.stop()


class Credentials(requests.auth.AuthBase):
    """Sign or authorize each request as its route expects, over the exact bytes generated."""

    def __init__(self, base_url: str, agent: str, chat: str) -> None:
        self.base_url, self.agent, self.chat = base_url, agent, chat

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        path = urlsplit(r.url).path
        body = r.body.encode() if isinstance(r.body, str) else (r.body or b"")
        if path == "/channels/chat/messages":
            r.headers["Authorization"] = "Bearer " + self.chat
        elif path.startswith(("/queues", "/tickets", "/customers", "/admin")):
            r.headers["Authorization"] = "Bearer " + self.agent
        elif path.startswith("/channels/twilio/"):
            r.headers["X-Twilio-Signature"] = RequestValidator(SECRETS["TWILIO_AUTH_TOKEN"]) \
                .compute_signature(self.base_url + path, twilio_sms.parse_form(body))
        elif path == "/channels/meta":
            digest = hmac.new(SECRETS["META_APP_SECRET"].encode(), body, hashlib.sha256).hexdigest()
            r.headers["X-Hub-Signature-256"] = "sha256=" + digest
        elif path == "/channels/x":
            mac = hmac.new(SECRETS["X_CONSUMER_SECRET"].encode(), body, hashlib.sha256).digest()
            r.headers["x-twitter-webhooks-signature"] = "sha256=" + base64.b64encode(mac).decode()
        elif path == "/channels/telegram":
            r.headers["X-Telegram-Bot-Api-Secret-Token"] = SECRETS["TELEGRAM_SECRET_TOKEN"]
        elif path in ("/channels/email/inbound", "/integrations/events"):
            r.headers["X-JetDesk-Signature"] = jetdesk_signature(SECRETS["JETDESK_SIGNING_SECRET"], body)
        return r


@pytest.fixture(scope="module")
def session(fuzzed_stack, token):
    chat = requests.post(fuzzed_stack.base_url + "/channels/chat/sessions", json={"name": "Fuzz"}, timeout=10)
    with requests.Session() as s:
        s.auth = Credentials(fuzzed_stack.base_url, token("sam"), chat.json()["token"])
        yield s


def test_the_stack_serves_the_document_fuzzed_here(fuzzed_stack):
    served = requests.get(fuzzed_stack.base_url + "/openapi.json", timeout=10).json()
    assert served == openapi.document()


def cases(operation):
    """Valid requests and, where the schema allows, requests that break it on purpose."""
    strategies = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    if operation.body or operation.path_parameters or operation.query:
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    return st.one_of(strategies)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_generated_request_gets_a_5xx_or_an_undocumented_error(operation, fuzzed_stack, session):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=cases(operation))
    def check(case):
        answers_well(case, fuzzed_stack, session)
    check()


def answers_well(case, fuzzed_stack, session):
    response = case.call(base_url=fuzzed_stack.base_url, session=session, timeout=30)
    described = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, described
    if response.status_code >= 400 and case.path.startswith("/help"):
        # the customer's help pages answer errors as HTML pages (README, changes from DESIGN)
        assert header(response, "content-type").startswith("text/html"), described
        return
    if response.status_code >= 400:
        assert header(response, "content-type").startswith("application/json"), described
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str), described
        assert isinstance(error["details"], list), described
        if response.status_code == 429:
            assert int(header(response, "retry-after")) > 0, described


def header(response, name: str) -> str:
    """schemathesis keeps headers lower-cased, each as a list of values."""
    values = response.headers.get(name) or [""]
    return values[0] if isinstance(values, list) else values

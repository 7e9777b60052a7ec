"""Every route is either behind the agent authorizer, with a row in the authorization matrix, or
public with a named guard; every public customer endpoint answers a flood with 429 and Retry-After."""
from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import pytest

from chalicelib.services import chat, helpdesk, ratelimit
from tests.e2e.test_authorization import AGENT_ROUTES

from .channels.test_chat_flow import start
from .channels.test_help_form import add_message, form_fields, status_token, submit

# what keeps each public route safe; a new public route fails the test below until it is named here
PUBLIC = {
    ("GET", "/health"): "static", ("GET", "/openapi.json"): "static", ("GET", "/console"): "static page",
    ("GET", "/chat"): "static page", ("GET", "/assets/{name}"): "static", ("GET", "/help"): "static page",
    ("POST", "/help"): "rate limit per address and per email",
    ("GET", "/help/status"): "signed status link", ("POST", "/help/status"): "signed status link, rate limit",
    ("POST", "/channels/twilio/sms"): "signature", ("POST", "/channels/twilio/status"): "signature",
    ("POST", "/channels/twilio/voice"): "signature", ("POST", "/channels/twilio/voice/recording"): "signature",
    ("POST", "/channels/twilio/voice/transcription"): "signature", ("POST", "/channels/email/inbound"): "signature",
    ("GET", "/channels/meta"): "verify token", ("POST", "/channels/meta"): "signature",
    ("GET", "/channels/x"): "CRC with the app secret", ("POST", "/channels/x"): "signature",
    ("POST", "/channels/telegram"): "secret token", ("POST", "/integrations/events"): "signature",
    ("POST", "/channels/chat/sessions"): "rate limit per address",
    ("POST", "/channels/chat/messages"): "session token, rate limit",
    ("GET", "/channels/chat/messages"): "session token (its own conversation only)",
    ("POST", "/channels/chat/feedback"): "session token, rate limit",
    ("GET", "/local/sent"): "local stage only", ("GET", "/local/agents"): "local stage only",
    ("POST", "/local/agents/{agent_id}/token"): "local stage only",
}
NAMES = {"{t}": "{ticket_id}", "{c}": "{customer_id}", "/disruption/": "/{queue}/",
         "/wh_none": "/{subscription_id}", "/none/": "/{letter_id}/",
         "/canned-responses/none": "/canned-responses/{canned_id}", "/agents/alice/": "/agents/{agent_id}/"}


def _route_of(path: str) -> str:
    path = path.split("?")[0]
    for row, name in NAMES.items():
        path = path.replace(row, name)
    return path


def test_every_route_is_in_the_authorization_matrix_or_public_with_a_named_guard(stack):
    routes = {(method, path): entry.authorizer is not None
              for path, methods in stack.app.app.routes.items() for method, entry in methods.items()}
    guarded = {route for route, has_authorizer in routes.items() if has_authorizer}
    assert guarded == {(method, _route_of(path)) for method, path in AGENT_ROUTES}
    assert set(routes) - guarded == set(PUBLIC)


@pytest.fixture
def one_window(monkeypatch):
    """All requests of a test in one rate window, however slow the run."""
    minute = (int(time.time()) // 60) * 60 + 1.0
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: minute))


def _chat(http, path: str, session: dict, body: dict):
    return http.post(path, body=json.dumps(body),
                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + session["token"]})


def _flood(call, limit: int) -> list:
    return [call(i) for i in range(limit + 1)]


def test_starting_chats_is_limited_per_address(stack, http, one_window):
    answers = _flood(lambda i: http.post("/channels/chat/sessions", headers={"Content-Type": "application/json"},
                                         body=json.dumps({"name": f"n{i}"})), chat.SESSIONS_PER_MINUTE)
    assert [a.status_code for a in answers] == [201] * chat.SESSIONS_PER_MINUTE + [429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].json_body["error"]["code"]


@pytest.mark.parametrize("path, body, limit", [
    ("/channels/chat/messages", lambda i: {"text": f"message {i}"}, chat.MESSAGES_PER_MINUTE),
    ("/channels/chat/feedback", lambda i: {"stage": "support", "rating": 4, "client_id": f"r{i}"},
     chat.RATINGS_PER_MINUTE),
])
def test_a_chat_session_flooding_an_endpoint_gets_429_with_retry_after(stack, http, one_window, path, body, limit):
    session = start(http)
    answers = _flood(lambda i: _chat(http, path, session, body(i)), limit)
    assert all(a.status_code in (200, 202) for a in answers[:-1]) and answers[-1].status_code == 429
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_the_help_form_and_the_status_page_are_limited(stack, http, one_window):
    forms = _flood(lambda i: submit(http, form_fields(nonce=f"01JDFLOOD{i:017d}", email=f"a{i}@example.com")),
                   helpdesk.FORMS_PER_MINUTE)
    assert [a.status_code for a in forms][-1] == 429 and int(forms[-1].headers["Retry-After"]) >= 1
    stack.pump.drain()
    token = status_token_of_first(stack)
    messages = _flood(lambda i: add_message(http, token, f"any news {i}?", nonce=f"01JDSTATUS{i:016d}"),
                      helpdesk.MESSAGES_PER_MINUTE)
    assert [a.status_code for a in messages][-1] == 429 and int(messages[-1].headers["Retry-After"]) >= 1
    assert all(a.status_code < 400 for a in messages[:-1])


def status_token_of_first(stack) -> str:
    first = stack.sent("ses")[:1]
    stack.sink.records[:] = first
    return status_token(stack)


def test_public_rows_name_a_real_guard():
    assert all(re.search(r"static|signature|token|limit|local|link|CRC", why) for why in PUBLIC.values())

"""What DESIGN.md promises integrators and agents, where an integrator's own tools would differ from ours."""
import hashlib
import hmac
import json
import time

import pytest

from chalicelib.services import notifier, webhooks
from chalicelib.storage.models import Message, Ticket
from tests.helpers import jetdesk_signed, twilio_signed

from .conftest import bearer, sms


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(notifier, "backoff", lambda attempt: 0)


def one_ticket(stack, http, text="Can I choose my seat on this flight?", sender="+14155550001"):
    sms(stack, http, "SM" + "1" * 32, text, sender=sender)
    stack.pump.drain()
    [ticket] = Ticket.scan()
    return ticket


def test_a_webhooks_timestamp_is_when_the_event_happened_the_same_on_a_retry(stack, http, monkeypatch):
    bodies, post = [], webhooks.post

    def fails_first(url, body, headers):
        bodies.append(json.loads(body))
        if len(bodies) == 1:
            time.sleep(1.1)   # the retry goes out at least a second after the event
            return 503
        return post(url, body, headers)
    monkeypatch.setattr(webhooks, "post", fails_first)
    one_ticket(stack, http)
    first, retried = bodies[:2]
    assert first["type"] == retried["type"] == "ticket.created"
    assert retried["timestamp"] == first["timestamp"]


def test_an_integrator_signature_in_upper_case_hex_is_accepted(stack, http):
    body = json.dumps({"id": "evt_hex1", "type": "ticket.create", "occurred_at": "2026-12-01T09:00:00Z",
                       "customer": {"email": "ana@example.com"}, "data": {"text": "Where is my refund?"}}).encode()
    t = str(int(time.time()))
    mac = hmac.new(stack.settings.jetdesk_signing_secret.encode(), t.encode() + b"." + body,
                   hashlib.sha256).hexdigest().upper()   # .NET's Convert.ToHexString
    answer = http.post("/integrations/events", body=body,
                       headers={"Content-Type": "application/json", "X-JetDesk-Signature": f"t={t},v1={mac}"})
    assert answer.status_code == 202


def test_customer_feedback_naming_only_the_ticket_rates_that_ticket(stack, http):
    ticket = one_ticket(stack, http)
    body, headers = jetdesk_signed(stack.settings, {
        "id": "evt_fb1", "type": "customer.feedback", "occurred_at": "2026-12-01T09:00:00Z", "customer": {},
        "data": {"ticket_id": ticket.id, "stage": "support", "rating": 1, "comment": "nobody answered"}})
    assert http.post("/integrations/events", headers=headers, body=body).status_code == 202
    stack.pump.drain()
    mood = next(i for i in Ticket.get(ticket.id).jet["indicators"] if i["key"] == "mood")
    assert "rated support 1/5" in mood["reason"]


def test_customer_feedback_for_a_ticket_that_does_not_exist_changes_nothing(stack, http):
    ticket = one_ticket(stack, http)
    body, headers = jetdesk_signed(stack.settings, {
        "id": "evt_fb2", "type": "customer.feedback", "occurred_at": "2026-12-01T09:00:00Z", "customer": {},
        "data": {"ticket_id": "01NOSUCHTICKET", "stage": "support", "rating": 1}})
    assert http.post("/integrations/events", headers=headers, body=body).status_code == 202
    stack.pump.drain()
    assert Ticket.get(ticket.id).version == ticket.version


def test_accepting_another_agents_claim_is_forbidden_as_releasing_it_is(stack, http):
    ticket = one_ticket(stack, http)
    assert http.post("/queues/general/claim", headers=bearer(stack.settings, "alice")).json_body["id"] == ticket.id
    bob = bearer(stack.settings, "bob")
    assert http.post(f"/tickets/{ticket.id}/release", headers=bob).status_code == 403
    assert http.post(f"/tickets/{ticket.id}/accept", headers=bob).status_code == 403


def test_a_message_twilio_cancelled_without_an_error_code_fails_with_a_reason(stack, http):
    ticket = one_ticket(stack, http)
    ack = next(m for m in Message.query(ticket.id) if m.author == "system")
    payload, headers = twilio_signed(stack.settings, "/channels/twilio/status", {
        "MessageSid": ack.provider_message_id, "MessageStatus": "canceled",
        "AccountSid": stack.settings.twilio_account_sid})
    assert http.post("/channels/twilio/status", headers=headers, body=payload).status_code == 204
    shown = http.get(f"/tickets/{ticket.id}", headers=bearer(stack.settings, "sam")).json_body
    [out] = [m for m in shown["messages"] if m["id"] == ack.id]
    assert (out["delivery_status"], out["failure_reason"]) == ("failed", "twilio canceled")


def test_a_json_body_sent_as_Application_JSON_is_accepted(stack, http):   # noqa: N802 - the header as sent
    answer = http.post("/channels/chat/sessions", headers={"Content-Type": "Application/JSON"},
                       body=json.dumps({"name": "Ana"}))
    assert answer.status_code == 201

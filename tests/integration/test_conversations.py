"""The async path: one ticket per customer problem, exactly once, scored and routed."""
import pytest

from chalicelib import logs
from chalicelib.services import conversations
from chalicelib.storage.models import Customer, Identity, InboundMessage, Message, Outbox, Ticket

from .conftest import sms


def ticket_of(phone):
    return Ticket.get(Customer.get(Identity.get(f"phone:{phone}").customer_id).open_ticket_id)


def test_a_first_sms_opens_a_scored_routed_ticket_with_an_acknowledgement(stack, http):
    sms(stack, http, "SM" + "a" * 32, "My flight was cancelled and nobody helps. Terrible!")
    stack.pump.drain()
    ticket = ticket_of("+14155550123")
    assert (ticket.status, ticket.queue, ticket.intent) == ("open", "disruption", "cancellation")
    assert {i["key"] for i in ticket.jet["indicators"]} == {
        "time_pressure", "disruption", "mood", "effort", "value", "care_needs"}
    assert ticket.sla_due_at is not None and ticket.rank
    messages = list(Message.query(ticket.id))
    assert [m.direction for m in messages] == ["inbound", "outbound"]
    assert ticket.ref in messages[1].text and messages[1].delivery_status == "queued"
    assert [r["body"]["To"] for r in stack.sent("twilio")] == ["+14155550123"]


def test_a_second_message_threads_into_the_same_ticket_and_is_not_acknowledged_again(stack, http):
    sms(stack, http, "SM" + "b" * 32, "Where is my bag?")
    sms(stack, http, "SM" + "c" * 32, "Still no news of my bag!")
    stack.pump.drain()
    ticket = ticket_of("+14155550123")
    assert Ticket.count() == 1 and ticket.inbound_count == 2
    assert [m.text for m in Message.query(ticket.id) if m.direction == "inbound"] == [
        "Where is my bag?", "Still no news of my bag!"]
    assert len(stack.sent("twilio")) == 1
    effort = next(i for i in ticket.jet["indicators"] if i["key"] == "effort")
    assert "1 repeat contact" in effort["reason"]


def test_another_sender_gets_a_ticket_of_their_own(stack, http):
    sms(stack, http, "SM" + "d" * 32, "Where is my bag?")
    sms(stack, http, "SM" + "e" * 32, "Where is my bag?", sender="+14155550999")
    stack.pump.drain()
    assert ticket_of("+14155550123").id != ticket_of("+14155550999").id


def test_processing_the_same_stored_message_twice_changes_nothing(stack, http):
    sms(stack, http, "SM" + "f" * 32, "Where is my bag?")
    item = InboundMessage.get("sms#SM" + "f" * 32)
    first = conversations.process(item)
    replayed = conversations.process(item)  # the stale stream image, as a Lambda retry would see it
    assert first == replayed
    assert len([m for m in Message.query(first) if m.direction == "inbound"]) == 1
    [change] = Outbox.scan()  # one outbox item per change: acknowledgement, event and alert in it (alert last)
    assert [p["kind"] for p in change.payload["parts"]] == ["customer_message", "integrator_event", "agent_alert"]


def test_events_for_a_new_customer_create_the_profile_without_a_ticket(stack, http):
    from tests.conftest import event
    from tests.helpers import jetdesk_signed
    payload = {**event("integration/journey_cancelled.json"), "customer": {"email": "new@example.com"}}
    body, headers = jetdesk_signed(stack.settings, payload)
    assert http.post("/integrations/events", headers=headers, body=body).status_code == 202
    stack.pump.drain()
    customer = Customer.get(Identity.get("email:new@example.com").customer_id)
    assert customer.journey["segments"][0]["status"] == "cancelled"
    assert customer.open_ticket_id is None and Ticket.count() == 0


def test_the_acknowledgement_speaks_the_customers_language(stack, http):
    sms(stack, http, "SM" + "9" * 32, "Bonjour, mon vol est annulé, que dois-je faire ?", sender="+33612345678")
    stack.pump.drain()
    ticket = ticket_of("+33612345678")
    ack = [m for m in Message.query(ticket.id) if m.author == "system"][0]
    assert ticket.language == "fr" and ack.text.startswith("Merci, nous avons bien reçu votre message")


def test_after_a_conflict_the_contacts_identities_are_read_again_consistently(stack, http, monkeypatch):
    import json

    from chalicelib.storage import models
    sms(stack, http, "SM" + "c" * 32, "Where is my bag?")
    commit, conflicts = conversations._commit, iter([conversations.Conflict("another message won")])

    def once_in_conflict(*args, **kwargs):
        failure = next(conflicts, None)
        if failure:
            raise failure
        return commit(*args, **kwargs)
    monkeypatch.setattr(conversations, "_commit", once_in_conflict)
    monkeypatch.setattr(conversations, "CONFLICT_BACKOFF_SECONDS", 0)
    reads = []

    def keep(model, params, **kwargs):
        if model.name == "BatchGetItem":
            [(table, request)] = json.loads(params["body"])["RequestItems"].items()
            if table.endswith("identities"):
                reads.append(request.get("ConsistentRead", False))
    client = models._shared["connection"].client
    client.meta.events.register("before-call.dynamodb", keep)
    try:
        assert conversations.process(InboundMessage.get("sms#SM" + "c" * 32))
    finally:
        client.meta.events.unregister("before-call.dynamodb", keep)
    assert reads == [False, True]


def test_a_delivery_given_up_after_conflicts_is_named_by_its_log_reference_not_its_key(stack, http, monkeypatch):
    sms(stack, http, "SM" + "d" * 32, "Where is my bag?")
    key = "sms#SM" + "d" * 32

    def always_in_conflict(*args, **kwargs):
        raise conversations.Conflict("another message won")
    monkeypatch.setattr(conversations, "_commit", always_in_conflict)
    monkeypatch.setattr(conversations, "CONFLICT_BACKOFF_SECONDS", 0)
    with pytest.raises(RuntimeError) as gave_up:
        conversations.process(InboundMessage.get(key))
    assert key not in str(gave_up.value) and "SM" + "d" * 32 not in str(gave_up.value)
    assert logs.inbound_ref(key) in str(gave_up.value)

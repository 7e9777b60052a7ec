"""POST /integrations/events: signed envelopes, schema-checked, idempotent per event id."""
import time

from chalicelib.services import scoring
from chalicelib.storage.models import Customer, DeadLetter, Identity, InboundMessage, Message, Ticket
from tests.conftest import event
from tests.helpers import jetdesk_signed

from .conftest import sms

PATH = "/integrations/events"


def post(stack, http, payload, at=None):
    body, headers = jetdesk_signed(stack.settings, payload, at)
    return http.post(PATH, headers=headers, body=body)


def test_ticket_create_opens_a_ticket_for_a_customer_known_by_email_and_phone(stack, http):
    response = post(stack, http, event("integration/ticket_create.json"))
    assert response.status_code == 202
    stack.pump.drain()
    customer_id = Identity.get("email:jane.doe@example.com").customer_id
    assert Identity.get("phone:+33612345678").customer_id == customer_id
    ticket = Ticket.get(Customer.get(customer_id).open_ticket_id)
    assert (ticket.channel, ticket.subject, ticket.intent) == ("api", "Refund for PNR X7K2QD", "refund")
    assert [m.text for m in Message.query(ticket.id)] == ["Please refund the unused return leg of my booking."]


def test_the_integrators_own_reference_is_on_the_ticket_and_in_its_events(stack, http):
    from tests.helpers import outbox_intents

    from .conftest import bearer
    post(stack, http, event("integration/ticket_create.json"))
    stack.pump.drain()
    [ticket] = Ticket.scan()
    shown = http.get(f"/tickets/{ticket.id}", headers=bearer(stack.settings, "sam")).json_body
    assert shown["external_ref"] == "CRM-4411"
    [created] = [i for i in outbox_intents() if i.kind == "integrator_event" and i.payload["type"] == "ticket.created"]
    assert created.payload["data"]["external_ref"] == "CRM-4411"


def test_a_redelivered_event_is_a_no_op(stack, http):
    payload = event("integration/ticket_create.json")
    assert post(stack, http, payload).status_code == 202
    again = post(stack, http, payload)
    assert again.status_code == 200 and again.json_body == {"accepted": True, "duplicate": True}
    stack.pump.drain()
    assert Ticket.count() == 1


def test_a_stale_or_future_signature_is_refused(stack, http):
    for skew in (-301, 301):
        response = post(stack, http, event("integration/ticket_create.json"), at=int(time.time()) + skew)
        assert response.status_code == 401
    assert InboundMessage.count() == 0


def test_a_body_off_schema_gets_422_with_details_and_changes_nothing(stack, http):
    payload = {**event("integration/ticket_create.json"), "type": "ticket.create", "data": {"subject": "x"}}
    response = post(stack, http, payload)
    assert response.status_code == 422
    error = response.json_body["error"]
    assert error["code"] == "unprocessable" and error["details"][0]["path"] == "/data"
    assert InboundMessage.count() == 0 and DeadLetter.count() == 1


def test_malformed_json_gets_400(stack, http):
    body, headers = jetdesk_signed(stack.settings, {})
    body = b"{not json"
    headers = jetdesk_signed(stack.settings, {})[1]
    from chalicelib.auth.signatures import jetdesk_signature
    headers["X-JetDesk-Signature"] = jetdesk_signature(stack.settings.jetdesk_signing_secret, body)
    response = http.post(PATH, headers=headers, body=body)
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "bad_request"


def rescored_by(stack, http, text, journey_event):
    """The customer's open ticket after their SMS and then the journey event, with its score before."""
    sms(stack, http, "SM" + "3" * 32, text)
    stack.pump.drain()
    ticket_id = Customer.get(Identity.get("phone:+14155550123").customer_id).open_ticket_id
    before = Ticket.get(ticket_id).jet["score"]
    assert post(stack, http, event(journey_event)).status_code == 202
    stack.pump.drain()
    after = Ticket.get(ticket_id)
    return before, after, next(i for i in after.jet["indicators"] if i["key"] == "disruption")


def test_a_cancelled_flight_raises_the_priority_of_the_open_ticket(stack, http):
    before, after, disruption = rescored_by(stack, http, "Hi, can I change my seat?",
                                            "integration/journey_cancelled.json")
    assert after.jet["score"] > before
    assert disruption["value"] == 1.0 and "AF123 is cancelled" in disruption["reason"]
    assert scoring.history(after.id)[-1]["cause"] == "journey.updated"
    assert after.queue == "disruption"


def test_a_bag_the_tracer_reports_lost_raises_the_baggage_ticket(stack, http):
    before, after, disruption = rescored_by(stack, http, "Where is my bag? It was not on the belt",
                                            "integration/journey_bag_lost.json")
    assert after.jet["score"] > before and disruption["reason"] == "baggage from AF123 is lost"


def test_an_event_naming_only_the_booking_reference_finds_the_customer(stack, http):
    booking = {**event("integration/journey_cancelled.json"), "id": "evt_booking_1"}
    assert post(stack, http, booking).status_code == 202  # links booking X7K2QD to +14155550123
    stack.pump.drain()
    sms(stack, http, "SM" + "9" * 32, "Hello, any news?")
    stack.pump.drain()
    ticket_id = Customer.get(Identity.get("phone:+14155550123").customer_id).open_ticket_id
    before = Ticket.get(ticket_id).jet["score"]
    update = {"id": "evt_booking_2", "type": "booking.updated", "occurred_at": "2026-11-23T09:10:00Z",
              "customer": {}, "data": {"booking_ref": "x7k2qd", "loyalty_tier": "platinum",
                                       "special_services": ["WCHR"]}}
    assert post(stack, http, update).status_code == 202
    stack.pump.drain()
    after = Ticket.get(ticket_id)
    assert after.jet["score"] > before
    assert "Confirm wheelchair assistance at the new gate" in after.jet["recommendations"]
    assert Identity.get("booking:X7K2QD").customer_id == after.customer_id


def test_a_journey_event_older_than_the_one_applied_last_changes_nothing(stack, http):
    cancelled = event("integration/journey_cancelled.json")
    segment = {**cancelled["data"]["segments"][0], "status": "scheduled"}
    rebooked = {**cancelled, "id": "evt_later", "occurred_at": "2026-11-23T10:00:00Z",
                "data": {**cancelled["data"], "segments": [segment]}}
    assert post(stack, http, rebooked).status_code == 202
    stack.pump.drain()
    assert post(stack, http, cancelled).status_code == 202   # 09:05, reaching us after 10:00's
    stack.pump.drain()
    customer = Customer.get(Identity.get("phone:+14155550123").customer_id)
    assert customer.journey["segments"][0]["status"] == "scheduled"
    assert InboundMessage.get("event#" + cancelled["id"]).reason.startswith("stale")


def test_a_p1_a_cancelled_flight_moves_to_another_queue_pages_that_queue(stack, http):
    import copy
    import json

    from chalicelib.config import DEFAULT_JET
    from tests.helpers import outbox_intents

    from .conftest import bearer
    config = copy.deepcopy(DEFAULT_JET)
    config["bands"] = [["P1", 10], ["P2", 5], ["P3", 1], ["P4", 0]]
    http.put("/admin/jet-config", headers={**bearer(stack.settings, "sam"), "Content-Type": "application/json"},
             body=json.dumps(config))
    sms(stack, http, "SM" + "3" * 32, "Hello, a question about my trip please")
    stack.pump.drain()
    platinum = {"id": "evt_b1", "type": "booking.updated", "occurred_at": "2026-11-23T09:00:00Z",
                "customer": {"phone": "+14155550123"}, "data": {"booking_ref": "X7K2QD", "loyalty_tier": "platinum"}}
    post(stack, http, platinum)
    stack.pump.drain()
    [ticket] = Ticket.scan()
    assert (ticket.queue, ticket.jet["tier"]) == ("general", "P1")
    post(stack, http, event("integration/journey_cancelled.json"))
    stack.pump.drain()
    after = Ticket.get(ticket.id)
    assert (after.queue, after.jet["tier"]) == ("disruption", "P1")   # a P1 before and after: only moved
    pages = [i.payload["page"] for i in outbox_intents() if i.kind == "agent_alert" and i.payload.get("page")]
    assert pages == ["general", "disruption"]


def test_a_booking_event_with_fields_of_its_own_keeps_only_the_booking_and_leaves_ours_alone(stack, http):
    feedback = {"id": "evt_f1", "type": "customer.feedback", "occurred_at": "2026-11-23T08:00:00Z",
                "customer": {"phone": "+14155550123"}, "data": {"stage": "boarding", "rating": 2}}
    booking = {"id": "evt_b1", "type": "booking.updated", "occurred_at": "2026-11-23T09:00:00Z",
               "customer": {"phone": "+14155550123"},   # the CRM's own "ratings" mean something else
               "data": {"booking_ref": "X7K2QD", "fare_class": "business", "ratings": [{"stars": 4}]}}
    assert post(stack, http, feedback).status_code == 202 and post(stack, http, booking).status_code == 202
    stack.pump.drain()
    sms(stack, http, "SM" + "3" * 32, "My flight was cancelled")
    stack.pump.drain()
    customer = Customer.get(Identity.get("phone:+14155550123").customer_id)
    assert customer.profile["fare_class"] == "business" and customer.profile["ratings"][0]["rating"] == 2
    assert Ticket.count() == 1 and DeadLetter.count() == 0


def test_a_second_passenger_on_the_same_booking_stays_a_customer_of_their_own(stack, http):
    def journey(event_id, phone, at):
        return {"id": event_id, "type": "journey.updated", "occurred_at": at, "customer": {"phone": phone},
                "data": {"booking_ref": "X7K2QD", "segments": [{"flight": "AF123", "status": "cancelled",
                                                                "scheduled_departure": "2099-01-01T18:00:00Z"}]}}
    sms(stack, http, "SM" + "2" * 32, "My flight was cancelled, help")
    stack.pump.drain()
    post(stack, http, journey("evt_a", "+14155550123", "2026-11-23T09:00:00Z"))
    post(stack, http, journey("evt_b", "+14155550199", "2026-11-23T09:30:00Z"))   # another passenger, same PNR
    stack.pump.drain()
    first, second = (Identity.get(f"phone:{p}").customer_id for p in ("+14155550123", "+14155550199"))
    assert first != second and Identity.get("booking:X7K2QD").customer_id == first
    sms(stack, http, "SM" + "3" * 32, "Hi, this is the other passenger: I need a wheelchair", sender="+14155550199")
    stack.pump.drain()
    theirs = Ticket.get(Customer.get(second).open_ticket_id)
    assert theirs.id != Customer.get(first).open_ticket_id and theirs.reply_to["address"] == "+14155550199"
    assert "phone:+14155550199" not in Customer.get(first).contacts
    assert "booking:X7K2QD" not in (Customer.get(second).contacts or ())


def test_an_event_dated_in_the_future_is_refused_so_later_events_still_apply(stack, http):
    ahead = {**event("integration/journey_cancelled.json"), "id": "evt_future", "occurred_at": "2999-01-01T00:00:00Z"}
    answer = post(stack, http, ahead)
    assert answer.status_code == 422
    assert answer.json_body["error"]["message"] == \
        "occurred_at 2999-01-01T00:00:00Z is in the future (more than 5 minutes ahead of our clock)"
    assert InboundMessage.count() == 0

"""Canned responses: supervisors manage them; agents get the best ones for a ticket, filled, and send one."""
import json

import pytest

from chalicelib.storage.models import CannedResponse, Customer, Identity, Message, Ticket, TicketEvent
from tests.conftest import event
from tests.helpers import jetdesk_signed, outbox_intents

from .conftest import bearer, sms

JSON = {"Content-Type": "application/json"}


def admin(stack, http, method, path, body=None, agent="sam"):
    call = getattr(http, method)
    kwargs = {"body": json.dumps(body)} if body is not None else {}
    return call(path, headers={**bearer(stack.settings, agent), **JSON}, **kwargs)


def create(stack, http, title, intent, language, text):
    response = admin(stack, http, "post", "/admin/canned-responses",
                     {"title": title, "intent": intent, "language": language, "text": text})
    assert response.status_code == 201, response.json_body
    return response.json_body


def bag_ticket(stack, http, text="Where is my bag? It did not arrive in Lisbon.", journey=True) -> Ticket:
    sms(stack, http, "SM" + "1" * 32, text)
    if journey:
        body, headers = jetdesk_signed(stack.settings, event("integration/journey_delayed.json"))
        assert http.post("/integrations/events", headers=headers, body=body).status_code == 202
    stack.pump.drain()
    ticket = Ticket.get(Customer.get(Identity.get("phone:+14155550123").customer_id).open_ticket_id)
    assert (ticket.intent, ticket.queue) == ("baggage", "general")
    return ticket


def test_a_supervisor_creates_lists_updates_and_deletes_canned_responses(stack, http):
    made = create(stack, http, "Bag on its way", "baggage", "en", "Dear {customer_name}, your bag ({ref}) is coming.")
    assert (made["version"], made["created_by"], made["placeholders"]) == (1, "sam", ["customer_name", "ref"])
    listed = admin(stack, http, "get", "/admin/canned-responses").json_body
    assert [i["id"] for i in listed["items"]] == [made["id"]] and listed["next"] is None
    body = {"title": "Bag found", "intent": "baggage", "language": "en", "text": "Found it, {customer_name}.",
            "version": 1}
    updated = admin(stack, http, "put", f"/admin/canned-responses/{made['id']}", body).json_body
    assert (updated["version"], updated["title"], updated["text"]) == (2, "Bag found", "Found it, {customer_name}.")
    stale = admin(stack, http, "put", f"/admin/canned-responses/{made['id']}", body)   # still says version 1
    assert stale.status_code == 409 and CannedResponse.get(made["id"]).version == 2
    assert admin(stack, http, "delete", f"/admin/canned-responses/{made['id']}").status_code == 204
    assert admin(stack, http, "delete", f"/admin/canned-responses/{made['id']}").status_code == 404
    assert admin(stack, http, "put", f"/admin/canned-responses/{made['id']}", {**body, "version": 2}).status_code == 404
    assert admin(stack, http, "get", "/admin/canned-responses").json_body["items"] == []


def test_the_list_pages(stack, http, monkeypatch):
    from chalicelib.services import canned
    monkeypatch.setattr(canned, "PAGE", 2)
    made = [create(stack, http, f"T{n}", "general", "en", f"Text {n}")["id"] for n in range(3)]
    first = admin(stack, http, "get", "/admin/canned-responses").json_body
    second = admin(stack, http, "get", f"/admin/canned-responses?cursor={first['next']}").json_body
    assert [i["id"] for i in first["items"] + second["items"]] == made and second["next"] is None
    from chalicelib.services.presenters import encode_cursor
    for foreign in ("bm90IGpzb24", encode_cursor({"id": {"S": "x"}, "listing": {"S": "other"}}), encode_cursor([1])):
        assert admin(stack, http, "get", f"/admin/canned-responses?cursor={foreign}").status_code == 400


def test_unknown_placeholders_and_intents_are_422_with_details_and_change_nothing(stack, http):
    refused = admin(stack, http, "post", "/admin/canned-responses", {
        "title": "x", "intent": "bagage", "language": "en", "text": "Hi {name}, {ref:>9} and {customer_name}"})
    assert refused.status_code == 422
    assert refused.json_body["error"]["details"] == [
        {"path": "/intent", "message": refused.json_body["error"]["details"][0]["message"]},
        {"path": "/text", "message": "unknown placeholder {name}; use {customer_name}, {ref}, {flight}, "
                                     "{new_departure}"},
        {"path": "/text", "message": "unknown placeholder {ref:>9}; use {customer_name}, {ref}, {flight}, "
                                     "{new_departure}"}]
    assert "unknown intent 'bagage'" in refused.json_body["error"]["details"][0]["message"]
    assert admin(stack, http, "post", "/admin/canned-responses", {"title": "x", "intent": "baggage",
                                                                 "language": "english", "text": "y"}).status_code == 422
    assert CannedResponse.count() == 0


@pytest.mark.parametrize("method, path", [
    ("get", "/admin/canned-responses"), ("post", "/admin/canned-responses"), ("put", "/admin/canned-responses/x"),
    ("delete", "/admin/canned-responses/x")])
def test_agents_may_not_manage_canned_responses(stack, http, method, path):
    body = {"title": "x", "intent": "general", "language": "en", "text": "y", "version": 1}
    response = admin(stack, http, method, path, body if method in ("post", "put") else None, agent="alice")
    assert response.status_code == 403 and CannedResponse.count() == 0


def test_suggestions_put_the_tickets_intent_and_language_first_then_general_then_other_languages(stack, http):
    fr = create(stack, http, "Bagage", "baggage", "fr", "Votre bagage {ref} arrive.")
    general = create(stack, http, "Thanks", "general", "en", "Thanks for your patience, {customer_name}.")
    create(stack, http, "Merci", "general", "fr", "Merci.")
    create(stack, http, "Refund", "refund", "en", "About your refund.")
    en = create(stack, http, "Bag on its way", "baggage", "en", "Your bag ({ref}) flies on {flight}.")
    ticket = bag_ticket(stack, http)
    got = http.get(f"/tickets/{ticket.id}/canned-responses", headers=bearer(stack.settings, "bob")).json_body
    assert [(i["id"], i["match"]) for i in got["items"]] == [
        (en["id"], "intent_language"), (general["id"], "general_language"), (fr["id"], "intent_other_language")]
    assert got["items"][0]["text"] == f"Your bag ({ticket.ref}) flies on JD456." and got["next"] is None


def test_filled_values_come_from_the_ticket_and_the_journey_and_inject_nothing(stack, http):
    create(stack, http, "Delay", "baggage", "en",
           "Dear {customer_name}, for {ref}: {flight} now leaves {new_departure}.")
    ticket = bag_ticket(stack, http)   # the customer is named "Ana <script>alert(1)</script>{ref} Lima"
    [item] = http.get(f"/tickets/{ticket.id}/canned-responses", headers=bearer(stack.settings, "bob")).json_body[
        "items"]
    assert item["text"] == f"Dear Ana alert(1)ref Lima, for {ticket.ref}: JD456 now leaves 2099-01-01 15:55 UTC."
    assert item["missing"] == [] and item["text"].count(ticket.ref) == 1


def test_a_placeholder_the_ticket_cannot_fill_stays_visible_for_the_agent(stack, http):
    create(stack, http, "Delay", "baggage", "en", "Your flight {flight} leaves at {new_departure}.")
    ticket = bag_ticket(stack, http, journey=False)
    [item] = http.get(f"/tickets/{ticket.id}/canned-responses", headers=bearer(stack.settings, "bob")).json_body[
        "items"]
    assert item["text"] == "Your flight {flight} leaves at {new_departure}." and item["missing"] == [
        "flight", "new_departure"]
    refused = http.post(f"/tickets/{ticket.id}/replies", headers={**bearer(stack.settings, "bob"), **JSON},
                        body=json.dumps({"canned_response_id": item["id"]}))
    assert refused.status_code == 422 and [d["message"] for d in refused.json_body["error"]["details"]] == [
        "no value for {flight}", "no value for {new_departure}"]
    assert [m.direction for m in Message.query(ticket.id)] == ["inbound", "outbound"]   # only the acknowledgement


def test_suggestions_are_for_those_who_may_see_the_ticket(stack, http):
    sms(stack, http, "SM" + "1" * 32, "My flight was cancelled, help")
    stack.pump.drain()
    ticket = next(iter(Ticket.queue_rank.query("disruption")))
    path = f"/tickets/{ticket.id}/canned-responses"
    assert http.get(path, headers=bearer(stack.settings, "bob")).status_code == 403
    assert http.get(path, headers=bearer(stack.settings, "alice")).status_code == 200
    assert http.get("/tickets/nope/canned-responses", headers=bearer(stack.settings, "sam")).status_code == 404


def test_an_agent_sends_one_as_it_is_filled_on_the_server_and_the_audit_names_it(stack, http):
    made = create(stack, http, "Bag", "baggage", "en", "Dear {customer_name}, your bag ({ref}) is on {flight}.")
    ticket = bag_ticket(stack, http)
    sent = http.post(f"/tickets/{ticket.id}/replies", headers={**bearer(stack.settings, "bob"), **JSON},
                     body=json.dumps({"canned_response_id": made["id"]}))
    assert sent.status_code == 201
    assert sent.json_body["text"] == f"Dear Ana alert(1)ref Lima, your bag ({ticket.ref}) is on JD456."
    assert Ticket.get(ticket.id).assignee == "bob"
    [replied] = [e for e in TicketEvent.query(ticket.id) if e.action == "replied"]
    assert replied.detail == {"canned_response": made["id"]}
    intent = next(o for o in outbox_intents() if o.kind == "customer_message" and o.message_id == sent.json_body["id"])
    assert intent.payload["text"] == sent.json_body["text"]


def test_an_edited_one_is_an_ordinary_text_reply(stack, http):
    ticket = bag_ticket(stack, http)
    sent = http.post(f"/tickets/{ticket.id}/replies", headers={**bearer(stack.settings, "bob"), **JSON},
                     body=json.dumps({"text": "Edited: your bag is on JD456, sorry."}))
    assert sent.status_code == 201
    [replied] = [e for e in TicketEvent.query(ticket.id) if e.action == "replied"]
    assert replied.detail is None


@pytest.mark.parametrize("body", [{}, {"text": "hi", "canned_response_id": "x"}, {"status": "pending"},
                                  {"canned_response_id": ""}])
def test_a_reply_has_exactly_one_of_text_and_canned_response_id(stack, http, body):
    ticket = bag_ticket(stack, http, journey=False)
    response = http.post(f"/tickets/{ticket.id}/replies", headers={**bearer(stack.settings, "bob"), **JSON},
                         body=json.dumps(body))
    assert response.status_code == 422 and len(list(Message.query(ticket.id))) == 2


def test_an_unknown_canned_response_is_404_and_sends_nothing(stack, http):
    ticket = bag_ticket(stack, http, journey=False)
    response = http.post(f"/tickets/{ticket.id}/replies", headers={**bearer(stack.settings, "bob"), **JSON},
                         body=json.dumps({"canned_response_id": "nope"}))
    assert response.status_code == 404 and len(list(Message.query(ticket.id))) == 2

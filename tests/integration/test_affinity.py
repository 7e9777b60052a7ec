"""The customer's own agent: a follow-up goes first to whoever last handled the case, with controlled time."""
import dataclasses
import json
from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.services import sweep
from chalicelib.settings import override_settings
from chalicelib.storage.models import Agent, Customer, Identity, Message, Ticket, TicketEvent
from tests.helpers import outbox_intents

from .conftest import bearer, sms

JSON = {"Content-Type": "application/json"}
PHONE = "+14155550123"


def handled(stack, http, agent="alice", text="Where is my bag? It did not arrive."):
    """A ticket the agent claimed and resolved: they are now the customer's own agent."""
    sms(stack, http, "SM" + "1" * 32, text)
    stack.pump.drain()
    ticket = http.post("/queues/general/claim", headers=bearer(stack.settings, agent)).json_body
    assert ticket["assignee"] == agent
    assert http.post(f"/tickets/{ticket['id']}/resolve", headers=bearer(stack.settings, agent)).status_code == 200
    return ticket


def follow_up(stack, http, text="The bag is still not here", sid="SM" + "2" * 32) -> Ticket:
    sms(stack, http, sid, text)
    stack.pump.drain()
    return Ticket.get(Customer.get(Identity.get(f"phone:{PHONE}").customer_id).open_ticket_id)


def duty(stack, http, agent, on):
    return http.put("/agents/me/duty", headers={**bearer(stack.settings, agent), **JSON},
                    body=json.dumps({"on_duty": on}))


def test_resolving_a_ticket_makes_its_agent_the_customers_own(stack, http):
    ticket = handled(stack, http)
    customer = Customer.get(ticket["customer_id"])
    assert customer.last_agent == "alice" and customer.last_agent_at is not None


def test_replying_while_holding_it_makes_the_agent_the_customers_own(stack, http):
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    stack.pump.drain()
    ticket = http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).json_body
    http.post(f"/tickets/{ticket['id']}/replies", headers={**bearer(stack.settings, "bob"), **JSON},
              body=json.dumps({"text": "Looking into it"}))
    assert Customer.get(ticket["customer_id"]).last_agent == "bob"
    sam = {**bearer(stack.settings, "sam"), **JSON}   # a supervisor answering for him does not take his place
    http.post(f"/tickets/{ticket['id']}/replies", headers=sam, body=json.dumps({"text": "Also: found it"}))
    assert Customer.get(ticket["customer_id"]).last_agent == "bob"


def test_a_follow_up_is_offered_to_the_customers_own_agent_in_their_personal_slot(stack, http):
    first = handled(stack, http)
    again = follow_up(stack, http)
    assert again.id == first["id"] and (again.status, again.assignee) == ("open", None)   # reopened, unassigned
    assert (again.queue, again.queue_slot, again.offered_to) == ("general", "agent:alice", "alice")
    assert Ticket.queue_rank.count("general") == 0
    assert again.due_at <= clock.sortable(again.offer_expires_at)     # the sweep looks when the offer ends
    queues = {q["name"]: q for q in http.get("/queues", headers=bearer(stack.settings, "alice")).json_body["items"]}
    assert queues["mine"]["depth"] == 1 and queues["general"]["depth"] == 0
    mine = http.get("/queues/mine/tickets", headers=bearer(stack.settings, "alice")).json_body["items"]
    assert [t["id"] for t in mine] == [first["id"]] and mine[0]["queue"] == "general"
    assert "mine" not in [q["name"] for q in http.get("/queues", headers=bearer(stack.settings, "bob")).json_body[
        "items"]]
    [offered] = [e for e in TicketEvent.query(first["id"]) if e.action == "offered"]
    assert offered.detail["agent"] == "alice" and offered.detail["queue"] == "general"


def test_the_known_agent_claims_it_from_mine_reading_the_rest_by_key(stack, http):
    first = handled(stack, http)
    follow_up(stack, http)
    claimed = http.post("/queues/mine/claim", headers=bearer(stack.settings, "alice"))
    assert claimed.status_code == 200
    body = claimed.json_body
    assert (body["id"], body["assignee"], body["status"], body["queue"]) == (first["id"], "alice", "assigned",
                                                                             "general")
    assert body["lease"]["expires_at"] and body["ref"] == first["ref"]
    held = Ticket.get(first["id"])
    assert (held.queue_slot, held.offered_to, held.offer_expires_at, held.queue) == (None, None, None, "general")
    assert int(Agent.get("alice").load["sms"]) == 1
    claim = [e for e in TicketEvent.query(first["id"]) if e.action == "claimed"][-1]
    assert claim.detail == {"queue": "general", "offered": True}
    assigned = [o for o in outbox_intents() if o.payload.get("type") == "ticket.assigned"][-1]
    assert assigned.payload["data"]["queue"] == "general" and assigned.payload["data"]["ref"] == first["ref"]
    assert http.post("/queues/mine/claim", headers=bearer(stack.settings, "alice")).status_code == 204


def test_unclaimed_it_falls_back_to_its_queue_when_the_offer_ends(stack, http):
    first = handled(stack, http)
    offered = follow_up(stack, http)
    assert sweep.run(offered.offer_expires_at - timedelta(seconds=1))["offers"] == 0
    assert Ticket.get(first["id"]).queue_slot == "agent:alice"
    done = sweep.run(offered.offer_expires_at + timedelta(seconds=1))
    assert done["offers"] == 1
    back = Ticket.get(first["id"])
    assert (back.queue_slot, back.offered_to, back.status) == ("general", None, "open")
    lapsed = [e.detail for e in TicketEvent.query(first["id"]) if e.action == "offer lapsed"]
    assert [{k: v for k, v in d.items() if k != "jet"} for d in lapsed] == [{"agent": "alice", "queue": "general"}]
    assert lapsed[0]["jet"]["cause"] == "time passing"   # the re-score's history entry rides on it
    assert http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).json_body["id"] == first["id"]


def test_the_offer_lasts_the_configured_time(stack, http):
    override_settings(dataclasses.replace(stack.settings, known_agent_offer_seconds=30))
    handled(stack, http)
    offered = follow_up(stack, http)
    waited = offered.offer_expires_at - Message.query(offered.id).next().created_at
    assert timedelta(seconds=29) < waited <= timedelta(seconds=31)


def test_a_new_message_during_the_offer_keeps_it_in_the_personal_slot(stack, http):
    first = handled(stack, http)
    follow_up(stack, http)
    follow_up(stack, http, "Hello? Anyone?", sid="SM" + "3" * 32)
    again = Ticket.get(first["id"])
    assert (again.queue_slot, again.offered_to) == ("agent:alice", "alice") and again.inbound_count == 3


def test_nobody_else_claims_or_takes_from_someone_elses_personal_slot(stack, http):
    first = handled(stack, http)
    follow_up(stack, http)
    bob, sam = bearer(stack.settings, "bob"), bearer(stack.settings, "sam")
    assert http.post("/queues/agent:alice/claim", headers=bob).status_code == 403
    assert http.post("/queues/agent:alice/claim", headers=sam).status_code == 403
    assert http.get("/queues/agent:alice/tickets", headers=sam).status_code == 403
    assert http.post("/queues/mine/claim", headers=bob).status_code == 204      # his own slot is empty
    assert http.post("/queues/general/claim", headers=bob).status_code == 204
    for action, body in (("replies", {"text": "Me!"}), ("transfer", {"agent": "bob"}),
                         ("transfer", {"queue": "general"}), ("resolve", None)):
        refused = http.post(f"/tickets/{first['id']}/{action}", headers={**bob, **JSON},
                            body=json.dumps(body) if body else None)
        assert refused.status_code == 403 and "offered to alice" in refused.json_body["error"]["message"], action
    assert Ticket.get(first["id"]).offered_to == "alice"


@pytest.mark.parametrize("why", ["off duty", "at capacity"])
def test_an_agent_who_cannot_take_it_now_is_skipped_for_the_queue(stack, http, why):
    first = handled(stack, http)
    if why == "off duty":
        assert duty(stack, http, "alice", False).status_code == 200
    else:
        Agent("alice").update(actions=[Agent.load["sms"].set(5)])
    again = follow_up(stack, http)
    assert (again.id, again.queue_slot, again.offered_to) == (first["id"], "general", None)
    assert not [e for e in TicketEvent.query(first["id"]) if e.action == "offered"]


def test_an_agent_outside_the_queue_the_follow_up_routes_to_is_skipped(stack, http):
    duty(stack, http, "bob", True)   # bob works general only
    first = handled(stack, http, agent="bob")
    again = follow_up(stack, http, "And now my flight was cancelled!")
    assert (again.id, again.queue, again.queue_slot, again.offered_to) == (first["id"], "disruption", "disruption",
                                                                           None)


def test_an_on_duty_known_agent_in_the_queue_gets_it(stack, http):
    duty(stack, http, "bob", True)
    first = handled(stack, http, agent="bob")
    assert follow_up(stack, http).queue_slot == "agent:bob" and Ticket.get(first["id"]).offered_to == "bob"


def test_a_follow_up_outside_the_window_goes_to_the_queue(stack, http, monkeypatch):
    handled(stack, http)
    later = clock.now() + timedelta(days=stack.settings.known_agent_days, hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    again = follow_up(stack, http, "A new problem: my seat was changed")
    assert Ticket.count() == 2 and (again.queue_slot, again.offered_to) == ("general", None)


def test_a_new_ticket_within_the_window_is_offered_and_the_acknowledgement_names_the_agent(stack, http, monkeypatch):
    override_settings(dataclasses.replace(stack.settings, reopen_days=1))
    first = handled(stack, http)
    later = clock.now() + timedelta(days=2)   # past the reopen window, within the known-agent one
    monkeypatch.setattr(clock, "now", lambda: later)
    stack.sink.records.clear()
    fresh = follow_up(stack, http, "A new problem: my seat was changed")
    assert fresh.id != first["id"] and (fresh.queue_slot, fresh.offered_to) == ("agent:alice", "alice")
    [ack] = [m for m in Message.query(fresh.id) if m.author == "system"]
    assert ack.text.startswith("Thanks, we have your message. Alice is handling your case, reference " + fresh.ref)
    assert "Martin" not in ack.text and "+1555" not in ack.text    # first name only, never the agent's contacts
    assert any("Alice is handling your case" in json.dumps(r) for r in stack.sent("twilio"))


def test_the_acknowledgement_names_the_agent_in_the_customers_language(stack, http, monkeypatch):
    override_settings(dataclasses.replace(stack.settings, reopen_days=1))
    handled(stack, http, text="Bonjour, ma valise n'est pas arrivée à Lisbonne, pouvez-vous m'aider ?")
    later = clock.now() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    fresh = follow_up(stack, http, "Bonjour, mon siège a été changé sans me prévenir, pourquoi ?")
    assert fresh.language == "fr" and fresh.offered_to == "alice"
    [ack] = [m for m in Message.query(fresh.id) if m.author == "system"]
    assert ack.text == ("Merci, nous avons bien reçu votre message. Alice s'occupe de votre dossier, "
                        f"référence {fresh.ref}, et vous répondra ici.")


def test_without_a_known_agent_the_acknowledgement_is_the_usual_one(stack, http):
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    stack.pump.drain()
    ticket = Ticket.get(next(iter(Ticket.queue_rank.query("general"))).id)
    [ack] = [m for m in Message.query(ticket.id) if m.author == "system"]
    assert ack.text.startswith("Thanks, we have your message. Your reference is")


def test_a_p1_offered_to_the_customers_own_agent_pages_them_alone_and_the_queue_once_the_offer_lapses(stack, http):
    import copy

    from chalicelib.config import DEFAULT_JET
    config = copy.deepcopy(DEFAULT_JET)
    config["bands"] = [["P1", 10], ["P2", 5], ["P3", 1], ["P4", 0]]
    sam = {**bearer(stack.settings, "sam"), **JSON}
    assert http.put("/admin/jet-config", headers=sam, body=json.dumps(config)).status_code == 200
    handled(stack, http, "alice")
    stack.sink.records.clear()

    def paged():
        return ([r["body"].get("To") for r in stack.sent("twilio") if r["body"].get("To") == "+15550100001"]
                + ["sam" for r in stack.sent("ses") if "sam@jetdesk.local" in str(r)])

    ticket = follow_up(stack, http, "My flight was cancelled and I need to get home tonight")
    assert (ticket.jet["tier"], ticket.offered_to, ticket.queue) == ("P1", "alice", "disruption")
    assert paged() == ["+15550100001"]                  # the ticket waits where only alice reaches it
    sweep.run(ticket.offer_expires_at + timedelta(seconds=1))
    stack.pump.drain()
    assert Ticket.get(ticket.id).queue_slot == "disruption"
    assert sorted(paged()) == ["+15550100001", "+15550100001", "sam"]

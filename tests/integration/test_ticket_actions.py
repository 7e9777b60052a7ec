"""Agent actions on a ticket: accept, release, transfer, resolve (and reopen), live feedback."""
import json
from datetime import timedelta

import pytest
from pynamodb.exceptions import PutError

from chalicelib import clock
from chalicelib.services import scoring
from chalicelib.storage.models import Agent, Customer, Ticket

from .conftest import bearer, sms

JSON = {"Content-Type": "application/json"}


def claimed(stack, http, agent="bob", text="Where is my bag?", sid="SM" + "1" * 32):
    sms(stack, http, sid, text)
    stack.pump.drain()
    response = http.post("/queues/general/claim", headers=bearer(stack.settings, agent))
    assert response.status_code == 200
    return response.json_body


def act(stack, http, agent, ticket_id, action, body=None):
    headers = {**bearer(stack.settings, agent), **JSON}
    payload = json.dumps(body) if body is not None else None
    return http.post(f"/tickets/{ticket_id}/{action}", headers=headers, body=payload)


def test_accepting_a_claim_ends_its_lease(stack, http):
    ticket = claimed(stack, http)
    response = act(stack, http, "bob", ticket["id"], "accept")
    assert response.status_code == 200 and Ticket.get(ticket["id"]).lease_expires_at is None
    assert act(stack, http, "alice", ticket["id"], "accept").status_code == 403   # bob holds it


def test_a_released_ticket_goes_back_to_its_queue_in_score_order(stack, http):
    ticket = claimed(stack, http)
    assert act(stack, http, "bob", ticket["id"], "release").json_body["status"] == "open"
    assert [t.id for t in Ticket.queue_rank.query("general")] == [ticket["id"]]
    assert act(stack, http, "alice", ticket["id"], "release").status_code == 403


def test_transfer_to_a_queue_and_to_an_agent(stack, http):
    ticket = claimed(stack, http)
    moved = act(stack, http, "bob", ticket["id"], "transfer", {"queue": "disruption"}).json_body
    assert (moved["queue"], moved["assignee"], moved["status"]) == ("disruption", None, "open")
    given = act(stack, http, "sam", ticket["id"], "transfer", {"agent": "alice"}).json_body
    assert (given["assignee"], given["status"]) == ("alice", "assigned")
    assert act(stack, http, "sam", ticket["id"], "transfer", {"agent": "bob"}).status_code == 409  # not his queue
    assert act(stack, http, "sam", ticket["id"], "transfer", {}).status_code == 422


def test_a_ticket_transferred_to_another_agent_is_theirs_to_accept_and_back_in_its_queue_if_they_do_not(stack, http):
    from chalicelib.services import sweep
    ticket = claimed(stack, http)
    act(stack, http, "bob", ticket["id"], "accept")
    act(stack, http, "bob", ticket["id"], "transfer", {"agent": "alice"})
    given = Ticket.get(ticket["id"])
    assert given.assignee == "alice" and given.lease_expires_at is not None
    shown = http.get(f"/tickets/{ticket['id']}", headers=bearer(stack.settings, "alice")).json_body
    assert shown["lease"] == {"expires_at": clock.iso(given.lease_expires_at)}
    assert sweep.run(given.lease_expires_at + timedelta(seconds=1))["leases"] == 1
    back = Ticket.get(ticket["id"])
    assert (back.assignee, back.status, back.queue_slot) == (None, "open", "general")
    assert Agent.get("alice").load.as_dict() == {"sms": 0}


def test_a_transfer_accepted_in_time_stays_with_the_agent_it_was_given_to(stack, http):
    from chalicelib.services import sweep
    ticket = claimed(stack, http)
    act(stack, http, "sam", ticket["id"], "transfer", {"agent": "alice"})
    assert act(stack, http, "alice", ticket["id"], "accept").status_code == 200
    sweep.run(Ticket.get(ticket["id"]).updated_at + timedelta(seconds=stack.settings.lease_seconds + 1))
    assert Ticket.get(ticket["id"]).assignee == "alice"


def test_a_supervisors_note_on_a_claim_not_yet_accepted_leaves_its_lease_running(stack, http):
    from chalicelib.services import sweep
    ticket = claimed(stack, http)
    assert act(stack, http, "sam", ticket["id"], "replies", {"text": "Quick note.", "status": "assigned"}).status_code \
        == 201
    sweep.run(clock.now() + timedelta(seconds=stack.settings.lease_seconds + 5))
    back = Ticket.get(ticket["id"])   # bob never accepted: back in its queue for someone else
    assert (back.assignee, back.queue_slot) == (None, "general")


def test_a_supervisor_answering_an_unassigned_ticket_takes_it_so_someone_holds_it(stack, http):
    sms(stack, http, "SM" + "9" * 32, "Where is my bag?")
    stack.pump.drain()
    waiting = next(iter(Ticket.queue_rank.query("general"))).id
    assert act(stack, http, "sam", waiting, "replies", {"text": "We are looking into it."}).status_code == 201
    answered = Ticket.get(waiting)   # waiting on the customer, and not in nobody's hands and no queue
    assert (answered.status, answered.assignee, answered.queue_slot) == ("pending", "sam", None)


def test_resolving_closes_the_ticket_and_a_reply_soon_after_reopens_it(stack, http):
    ticket = claimed(stack, http)
    resolved = act(stack, http, "bob", ticket["id"], "resolve").json_body
    assert resolved["status"] == "resolved" and Ticket.queue_rank.count("general") == 0
    assert Customer.get(resolved["customer_id"]).open_ticket_id is None
    sms(stack, http, "SM" + "2" * 32, "Thanks, but the bag is still not here")
    stack.pump.drain()
    again = Ticket.get(ticket["id"])   # bob is off duty: back in its queue, not offered to him (test_affinity)
    assert (again.status, again.assignee, again.queue_slot) == ("open", None, "general") and again.inbound_count == 2
    assert Ticket.count() == 1


def test_a_reopened_ticket_gets_its_sla_targets_again_from_its_reopening(stack, http):
    from chalicelib.services import sweep
    ticket = claimed(stack, http)
    act(stack, http, "bob", ticket["id"], "replies", {"text": "Found it: it comes today.", "status": "assigned"})
    act(stack, http, "bob", ticket["id"], "resolve")
    old = Ticket.get(ticket["id"])     # opened 8 days ago (past any tier's resolution target), resolved yesterday
    for field in ("created_at", "first_response_at", "sla_due_at", "resolution_due_at"):
        setattr(old, field, getattr(old, field) - timedelta(days=8))
    old.resolved_at -= timedelta(days=1)
    old.save()
    sms(stack, http, "SM" + "2" * 32, "It did not come after all")
    stack.pump.drain()
    done = sweep.run(clock.now() + timedelta(seconds=1))
    assert done["breaches"] == 0        # not overdue the moment it reopens
    again = Ticket.get(ticket["id"])
    assert again.reopened_at is not None and again.first_response_at is None and again.sla_breached_at is None
    assert again.sla_due_at > again.reopened_at and again.resolution_due_at > again.reopened_at


def test_a_reply_after_the_reopen_window_opens_a_new_ticket(stack, http):
    ticket = claimed(stack, http)
    act(stack, http, "bob", ticket["id"], "resolve")
    old = Ticket.get(ticket["id"])
    old.resolved_at = old.resolved_at - timedelta(days=stack.settings.reopen_days + 1)
    old.save()
    sms(stack, http, "SM" + "3" * 32, "A new problem: my seat was changed")
    stack.pump.drain()
    assert Ticket.count() == 2 and Ticket.get(ticket["id"]).status == "resolved"


def test_live_feedback_rescores_at_once_and_explains_why(stack, http):
    ticket = claimed(stack, http, text="Hello, a question about my booking please")
    before = ticket["jet"]["score"]
    after = act(stack, http, "bob", ticket["id"], "feedback", {"emotion": "angry", "note": "shouting"}).json_body
    mood = next(i for i in after["jet"]["indicators"] if i["key"] == "mood")
    assert after["jet"]["score"] > before and "agent reads them as angry" in mood["reason"]
    assert scoring.history(ticket["id"])[-1]["cause"] == "agent feedback: angry"
    assert act(stack, http, "bob", ticket["id"], "feedback", {"emotion": "sleepy"}).status_code == 422


def test_the_customer_view_shows_contacts_and_tickets_to_those_who_may_see_them(stack, http):
    ticket = claimed(stack, http)
    view = http.get(f"/customers/{ticket['customer_id']}", headers=bearer(stack.settings, "bob")).json_body
    assert "phone:+14155550123" in view["contacts"] and [t["id"] for t in view["tickets"]] == [ticket["id"]]
    sms(stack, http, "SM" + "4" * 32, "My flight was cancelled", sender="+14155550777")
    stack.pump.drain()
    other = Ticket.get(Ticket.queue_rank.query("disruption").next().id)
    assert http.get(f"/customers/{other.customer_id}", headers=bearer(stack.settings, "bob")).status_code == 403
    assert http.get("/customers/nobody", headers=bearer(stack.settings, "sam")).status_code == 404


def test_every_change_leaves_an_audit_event_returned_with_the_ticket(stack, http):
    ticket = claimed(stack, http)
    act(stack, http, "bob", ticket["id"], "accept")
    act(stack, http, "bob", ticket["id"], "replies", {"text": "On it"})
    act(stack, http, "bob", ticket["id"], "feedback", {"emotion": "calm"})
    act(stack, http, "sam", ticket["id"], "transfer", {"queue": "disruption"})
    act(stack, http, "alice", ticket["id"], "resolve")
    events = http.get(f"/tickets/{ticket['id']}", headers=bearer(stack.settings, "sam")).json_body["events"]
    assert [(e["actor"], e["action"]) for e in events] == [
        ("customer", "opened"), ("agent:bob", "claimed"), ("agent:bob", "accepted"), ("agent:bob", "replied"),
        ("agent:bob", "feedback"), ("agent:sam", "transferred"), ("agent:alice", "resolved")]
    assert events[0]["via"] == "sms" and events[5]["queue"] == "disruption"


def test_a_transfer_to_a_queue_that_does_not_exist_is_404(stack, http):
    ticket = claimed(stack, http)
    assert act(stack, http, "sam", ticket["id"], "transfer", {"queue": "nowhere"}).status_code == 404
    assert Ticket.get(ticket["id"]).queue == "general"


def test_the_ticket_view_carries_the_customer(stack, http):
    ticket = claimed(stack, http)
    view = http.get(f"/tickets/{ticket['id']}", headers=bearer(stack.settings, "bob")).json_body
    assert view["customer"]["id"] == ticket["customer_id"] and "phone:+14155550123" in view["customer"]["contacts"]


def test_a_ticket_moved_by_hand_then_resolved_is_routed_afresh_when_it_reopens(stack, http):
    ticket = claimed(stack, http)
    act(stack, http, "bob", ticket["id"], "transfer", {"queue": "disruption"})   # pinned there by a person
    act(stack, http, "sam", ticket["id"], "resolve")
    sms(stack, http, "SM" + "8" * 32, "The bag is still not here")
    stack.pump.drain()
    reopened = Ticket.get(ticket["id"])
    assert reopened.status == "open" and not reopened.queue_pinned and reopened.queue == "general"


def test_a_resolved_ticket_takes_no_reply_release_transfer_or_feedback_and_stays_resolved(stack, http):
    ticket = claimed(stack, http)
    act(stack, http, "bob", ticket["id"], "resolve")
    before = Ticket.get(ticket["id"])
    for action, body in [("replies", {"text": "One more thing"}), ("release", None),
                         ("transfer", {"queue": "disruption"}), ("accept", None), ("feedback", {"emotion": "angry"})]:
        response = act(stack, http, "bob", ticket["id"], action, body)
        assert response.status_code == 409 and "resolved" in response.json_body["error"]["message"], action
    after = Ticket.get(ticket["id"])
    assert (after.status, after.version, after.queue_slot) == ("resolved", before.version, None)


def test_an_agent_cannot_transfer_to_themselves_a_ticket_in_a_language_they_do_not_handle(stack, http):
    sms(stack, http, "SM" + "5" * 32, "Bonjour, ma valise n'est pas arrivée à Lisbonne")
    stack.pump.drain()
    [waiting] = list(Ticket.queue_rank.query("general"))
    refused = act(stack, http, "bob", waiting.id, "transfer", {"agent": "bob"})
    assert refused.status_code == 403 and "language" in refused.json_body["error"]["message"]
    assert Ticket.get(waiting.id).assignee is None


def test_a_claim_moves_the_version_on_so_a_copy_read_before_it_cannot_undo_it(stack, http):
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    stack.pump.drain()
    [stale] = list(Ticket.queue_rank.query("general"))
    stale = Ticket.get(stale.id, consistent_read=True)
    claimed_id = http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).json_body["id"]
    assert Ticket.get(claimed_id, consistent_read=True).version == stale.version + 1
    with pytest.raises(PutError):
        stale.save()  # a writer that read the ticket before the claim (a reply, the sweep, a new message)
    assert Ticket.get(claimed_id, consistent_read=True).assignee == "bob"


def test_a_transfer_to_the_agent_who_holds_the_ticket_is_409_and_changes_nothing(stack, http):
    ticket = claimed(stack, http)
    version = Ticket.get(ticket["id"], consistent_read=True).version
    assert act(stack, http, "sam", ticket["id"], "transfer", {"agent": "bob"}).status_code == 409
    assert act(stack, http, "bob", ticket["id"], "transfer", {"agent": "bob"}).status_code == 409
    kept = Ticket.get(ticket["id"], consistent_read=True)
    assert (kept.assignee, kept.status, kept.version) == ("bob", "assigned", version)
    assert Agent.get("bob", consistent_read=True).load.as_dict() == {"sms": 1}


def test_a_supervisor_can_release_resolve_or_answer_the_tickets_of_an_agent_deleted_since(stack, http):
    for n, text in enumerate(("Where is my bag?", "My refund?", "Seat change?")):
        sms(stack, http, "SM" + str(n) * 32, text, sender=f"+1415555010{n}")
    stack.pump.drain()
    released, resolved, kept = [http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).json_body
                                for _ in range(3)]
    Agent.get("bob").delete()                  # bob left; his tickets stayed with him
    answer = act(stack, http, "sam", released["id"], "release")
    assert answer.status_code == 200 and (answer.json_body["status"], answer.json_body["assignee"]) == ("open", None)
    assert act(stack, http, "sam", resolved["id"], "resolve").json_body["status"] == "resolved"
    reply = act(stack, http, "sam", kept["id"], "replies", {"text": "Done."})   # then it waits on the customer
    assert reply.status_code == 201 and Ticket.get(kept["id"]).assignee == "sam"    # nobody else's any more
    assert Agent.count("bob") == 0   # no agent item made up for bob by a load update


def test_a_customer_answering_a_ticket_whose_agent_was_deleted_is_threaded_and_queued_again(stack, http):
    ticket = claimed(stack, http)
    act(stack, http, "bob", ticket["id"], "replies", {"text": "Which flight?"})   # waits on the customer
    assert Ticket.get(ticket["id"]).status == "pending"
    Agent.get("bob").delete()
    sms(stack, http, "SM" + "2" * 32, "JD412 to Lisbon")
    stack.pump.drain()
    after = Ticket.get(ticket["id"])
    assert (after.status, after.assignee, after.inbound_count) == ("open", None, 2)
    assert [t.id for t in Ticket.queue_rank.query("general")] == [ticket["id"]]


def test_a_supervisors_answer_to_a_claimed_ticket_leaves_it_waiting_with_its_agent_past_the_lease(stack, http):
    from chalicelib.services import sweep
    ticket = claimed(stack, http)                        # bob has not accepted it yet
    act(stack, http, "sam", ticket["id"], "replies", {"text": "A supervisor here: we are on it."})
    waiting = Ticket.get(ticket["id"])
    assert (waiting.status, waiting.assignee, waiting.lease_expires_at) == ("pending", "bob", None)
    sweep.run(clock.now() + timedelta(seconds=stack.settings.lease_seconds + 1))
    after = Ticket.get(ticket["id"])
    assert (after.status, after.assignee, after.queue_slot) == ("pending", "bob", None)
    assert Agent.get("bob").load.as_dict().get("sms", 0) == 0   # freed once, by the answer


def test_the_sweep_lets_no_lease_lapse_on_a_ticket_that_no_longer_weighs_on_its_agent(stack, http):
    from chalicelib.services import sweep
    ticket = claimed(stack, http)
    act(stack, http, "bob", ticket["id"], "replies", {"text": "Which flight?"})
    Ticket.get(ticket["id"]).update(actions=[Ticket.lease_expires_at.set(clock.now())])  # a lease left behind
    sweep.run(clock.now() + timedelta(minutes=20))
    after = Ticket.get(ticket["id"])
    assert (after.status, after.assignee, after.lease_expires_at) == ("pending", "bob", None)
    assert Agent.get("bob").load.as_dict().get("sms", 0) == 0


def test_feedback_that_makes_a_waiting_ticket_a_p1_pages_its_queue(stack, http):
    import copy

    from chalicelib.config import DEFAULT_JET
    from tests.helpers import outbox_intents
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    stack.pump.drain()
    [ticket] = Ticket.scan()
    config = copy.deepcopy(DEFAULT_JET)
    score = ticket.jet["score"]
    config["bands"] = [["P1", score + 1], ["P2", score + 0.5], ["P3", score], ["P4", 0]]
    assert http.put("/admin/jet-config", headers={**bearer(stack.settings, "sam"), **JSON},
                    body=json.dumps(config)).status_code == 200
    after = act(stack, http, "bob", ticket.id, "feedback", {"emotion": "angry"}).json_body
    assert after["jet"]["tier"] == "P1" and after["queue"] == "general" and after["assignee"] is None
    assert [i.payload["page"] for i in outbox_intents() if i.kind == "agent_alert" and i.payload.get("page")] \
        == ["general"]

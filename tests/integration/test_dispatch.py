"""Dispatch over time: tickets waiting on the customer, escalation of unclaimed tickets,
resolution targets, and pages to the agents on duty."""
import copy
import json
from datetime import timedelta

from chalicelib.config import DEFAULT_JET
from chalicelib.services import sweep
from chalicelib.storage.models import Agent, Outbox, Queue, Ticket

from .conftest import bearer, sms

JSON = {"content-type": "application/json"}


def as_agent(stack, agent: str) -> dict:
    return {**bearer(stack.settings, agent), **JSON}


def claimed_by_bob(stack, http, text="Where is my bag?") -> Ticket:
    sms(stack, http, "SM" + "1" * 32, text)
    stack.pump.drain()
    answer = http.post("/queues/general/claim", headers=bearer(stack.settings, "bob"))
    return Ticket.get(answer.json_body["id"])


def load(agent: str, channel: str = "sms") -> int:
    return int((Agent.get(agent).load.as_dict() or {}).get(channel, 0))


def test_a_reply_leaves_the_ticket_waiting_on_the_customer_and_off_the_agents_capacity(stack, http):
    ticket = claimed_by_bob(stack, http)
    assert load("bob") == 1
    answer = http.post(f"/tickets/{ticket.id}/replies", headers=as_agent(stack, "bob"),
                       body=json.dumps({"text": "We are looking into it"}))
    assert answer.status_code == 201
    after = Ticket.get(ticket.id)
    assert (after.status, after.assignee, after.lease_expires_at) == ("pending", "bob", None)
    assert load("bob") == 0


def test_the_customers_answer_puts_a_pending_ticket_back_in_the_agents_hands(stack, http):
    ticket = claimed_by_bob(stack, http)
    http.post(f"/tickets/{ticket.id}/replies", headers=as_agent(stack, "bob"), body=json.dumps({"text": "Which bag?"}))
    sms(stack, http, "SM" + "2" * 32, "The blue one")
    stack.pump.drain()
    after = Ticket.get(ticket.id)
    assert (after.status, after.assignee, after.queue_slot) == ("assigned", "bob", None)
    assert load("bob") == 1


def test_an_agent_may_keep_the_ticket_in_hand_when_replying(stack, http):
    ticket = claimed_by_bob(stack, http)
    http.post(f"/tickets/{ticket.id}/replies", headers=as_agent(stack, "bob"),
              body=json.dumps({"text": "One moment", "status": "assigned"}))
    assert Ticket.get(ticket.id).status == "assigned" and load("bob") == 1


def test_resolving_a_pending_ticket_frees_nothing_twice(stack, http):
    ticket = claimed_by_bob(stack, http)
    http.post(f"/tickets/{ticket.id}/replies", headers=as_agent(stack, "bob"), body=json.dumps({"text": "Found it"}))
    assert http.post(f"/tickets/{ticket.id}/resolve", headers=bearer(stack.settings, "bob")).status_code == 200
    assert load("bob") == 0


def test_a_ticket_nobody_claims_moves_to_the_next_queue_of_its_rule_and_stays_there(stack, http):
    sms(stack, http, "SM" + "1" * 32, "A question about seats")
    stack.pump.drain()
    ticket = Ticket.get(next(iter(Ticket.queue_rank.query("general"))).id)
    assert ticket.escalations == [{"after_minutes": 240, "queue": "escalations"}]
    done = sweep.run(ticket.queued_at + timedelta(minutes=240, seconds=1))
    assert done["escalations"] == 1
    moved = Ticket.get(ticket.id)
    assert (moved.queue, moved.queue_slot, moved.queue_pinned, moved.escalations) == \
        ("escalations", "escalations", True, None)
    sms(stack, http, "SM" + "2" * 32, "Hello? Still waiting")
    stack.pump.drain()
    assert Ticket.get(ticket.id).queue == "escalations"  # re-scoring does not route it back


def test_a_claimed_ticket_is_not_escalated_for_waiting(stack, http):
    ticket = claimed_by_bob(stack, http)
    http.post(f"/tickets/{ticket.id}/accept", headers=bearer(stack.settings, "bob"))
    sweep.run(ticket.queued_at + timedelta(minutes=241))
    assert Ticket.get(ticket.id).queue == "general"


def test_a_missed_resolution_target_alerts_supervisors_and_leaves_the_ticket_with_its_agent(stack, http):
    ticket = claimed_by_bob(stack, http)
    http.post(f"/tickets/{ticket.id}/replies", headers=as_agent(stack, "bob"), body=json.dumps({"text": "On it"}))
    held = Ticket.get(ticket.id)
    assert held.resolution_due_at > held.sla_due_at
    done = sweep.run(held.resolution_due_at + timedelta(seconds=1))
    assert done["breaches"] == 1
    after = Ticket.get(ticket.id)
    assert after.resolution_breached_at and (after.assignee, after.queue) == ("bob", "general")
    alert = next(o for o in Outbox.scan() if o.payload.get("what") == "SLA breach: resolution overdue")
    assert alert.payload["page"] == "escalations"


def make_cancellations_p1(stack, http):
    config = copy.deepcopy(DEFAULT_JET)
    config["bands"] = [["P1", 10], ["P2", 5], ["P3", 1], ["P4", 0]]
    assert http.put("/admin/jet-config", headers=as_agent(stack, "sam"), body=json.dumps(config)).status_code == 200


def test_a_p1_landing_in_a_queue_pages_its_on_duty_agents_by_their_own_channel(stack, http):
    make_cancellations_p1(stack, http)
    sms(stack, http, "SM" + "1" * 32, "My flight was cancelled and I need to get home tonight")
    stack.pump.drain()
    ticket = Ticket.get(next(iter(Ticket.queue_rank.query("disruption"))).id)
    assert ticket.jet["tier"] == "P1"
    texts = [r for r in stack.sent("twilio") if r["body"].get("To") == "+15550100001"]
    assert len(texts) == 1 and texts[0]["body"]["From"] == "+15550009999" and ticket.ref in texts[0]["body"]["Body"]
    assert "+14155550123" not in texts[0]["body"]["Body"]  # pages carry the ref, not the customer
    mails = [r for r in stack.sent("ses") if "sam@jetdesk.local" in str(r)]
    assert len(mails) == 1
    sms(stack, http, "SM" + "2" * 32, "Please hurry")
    stack.pump.drain()
    assert len([r for r in stack.sent("twilio") if r["body"].get("To") == "+15550100001"]) == 1  # not again


def test_an_agent_off_duty_is_not_paged(stack, http):
    make_cancellations_p1(stack, http)
    answer = http.put("/agents/me/duty", headers=as_agent(stack, "alice"), body=json.dumps({"on_duty": False}))
    assert answer.status_code == 200 and answer.json_body["on_duty"] is False
    assert "alice" not in (Queue.get("disruption").on_duty or set()) and not Agent.get("alice").on_duty
    sms(stack, http, "SM" + "1" * 32, "My flight was cancelled and I need to get home tonight")
    stack.pump.drain()
    assert not [r for r in stack.sent("twilio") if r["body"].get("To") == "+15550100001"]
    assert [r for r in stack.sent("ses") if "sam@jetdesk.local" in str(r)]


def test_going_on_duty_leaves_out_a_queue_deleted_since_and_joins_the_others(stack, http):
    queues = list(Agent.get("alice").queues)
    Queue("disruption").delete()
    answer = http.put("/agents/me/duty", headers=as_agent(stack, "alice"), body=json.dumps({"on_duty": True}))
    assert answer.status_code == 200 and answer.json_body["queues"] == [q for q in queues if q != "disruption"]
    assert Agent.get("alice").on_duty and all("alice" in Queue.get(q).on_duty for q in answer.json_body["queues"])


def test_going_on_duty_needs_a_boolean(stack, http):
    answer = http.put("/agents/me/duty", headers=as_agent(stack, "alice"), body=json.dumps({"on_duty": "yes"}))
    assert answer.status_code == 422 and answer.json_body["error"]["details"]


def test_a_run_that_dies_after_paging_some_agents_pages_nobody_twice_when_run_again(stack, http, monkeypatch):
    from chalicelib.services import notifier
    make_cancellations_p1(stack, http)
    page, published, crashed = notifier._HANDLERS["agent_page"], [], []

    def sam_crashes_once(intent):
        if intent.payload["agent_id"] == "sam" and not crashed:
            crashed.append(intent.id)
            raise RuntimeError("the run died here")
        page(intent)
    monkeypatch.setitem(notifier._HANDLERS, "agent_page", sam_crashes_once)
    monkeypatch.setattr(notifier, "_publish", lambda *args: published.append(args))
    sms(stack, http, "SM" + "1" * 32, "My flight was cancelled and I need to get home tonight")
    stack.pump.drain()                                    # the stream delivers the change again
    assert crashed
    assert len([r for r in stack.sent("twilio") if r["body"].get("To") == "+15550100001"]) == 1
    assert len([r for r in stack.sent("ses") if "sam@jetdesk.local" in str(r)]) == 1
    assert len(published) == 1


def test_a_page_whose_note_is_throttled_once_is_not_sent_again(stack, http, monkeypatch):
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import UpdateError

    from chalicelib.services import notifier
    make_cancellations_p1(stack, http)
    conditional, failed = notifier._conditional, []

    def throttled_once(intent, actions, condition):
        if not failed and intent.kept is None and len(actions) == 1 and "kept" in str(actions[0]):
            failed.append(intent.id)
            raise UpdateError("Failed to update item", cause=ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "UpdateItem"))
        return conditional(intent, actions, condition)
    monkeypatch.setattr(notifier, "_conditional", throttled_once)
    monkeypatch.setattr(notifier, "HANDOVER_NOTE_PAUSE", 0)
    sms(stack, http, "SM" + "1" * 32, "My flight was cancelled and I need to get home tonight")
    for _ in range(3):
        stack.pump.drain()
    assert failed
    assert len([r for r in stack.sent("twilio") if r["body"].get("To") == "+15550100001"]) == 1
    assert {o.status for o in Outbox.scan()} == {"done"}

"""The scheduled sweep, with controlled time: leases expire, SLAs breach, scores age."""
from datetime import timedelta

from chalicelib import clock
from chalicelib.services import scoring, sweep
from chalicelib.storage.models import Outbox, Ticket

from .conftest import bearer, sms


def queued_ticket(stack, http, text="Where is my bag?"):
    sms(stack, http, "SM" + "1" * 32, text)
    stack.pump.drain()
    return Ticket.get(next(iter(Ticket.queue_rank.query("general"))).id)


def test_an_unaccepted_claim_returns_to_the_queue_when_its_lease_ends(stack, http):
    ticket = queued_ticket(stack, http)
    http.post("/queues/general/claim", headers=bearer(stack.settings, "bob"))
    held = Ticket.get(ticket.id)
    assert held.assignee == "bob" and held.due_at <= clock.sortable(held.lease_expires_at)
    done = sweep.run(held.lease_expires_at + timedelta(seconds=1))
    assert done["leases"] == 1
    back = Ticket.get(ticket.id)
    assert (back.assignee, back.status, back.queue_slot) == (None, "open", "general")
    assert any(o.payload.get("what", "").startswith("lease expired") for o in Outbox.scan())


def test_an_accepted_claim_is_not_taken_back(stack, http):
    ticket = queued_ticket(stack, http)
    http.post("/queues/general/claim", headers=bearer(stack.settings, "bob"))
    http.post(f"/tickets/{ticket.id}/accept", headers=bearer(stack.settings, "bob"))
    sweep.run(clock.now() + timedelta(seconds=stack.settings.lease_seconds + 1))
    assert Ticket.get(ticket.id).assignee == "bob"


def test_a_missed_first_response_moves_to_the_escalation_queue_first_in_line_and_pages_supervisors(stack, http):
    calm = queued_ticket(stack, http, "Just a question about seats")
    done = sweep.run(Ticket.get(calm.id).sla_due_at + timedelta(seconds=1))
    assert done["breaches"] == 1
    breached = Ticket.get(calm.id)
    assert breached.sla_breached_at and scoring.history(breached.id)[-1]["cause"] == "SLA breach"
    assert (breached.queue, breached.queue_slot, breached.queue_pinned) == ("escalations", "escalations", True)
    alert = next(o for o in Outbox.scan() if o.payload.get("what", "").startswith("SLA breach"))
    assert alert.payload["page"] == "escalations"
    sms(stack, http, "SM" + "2" * 32, "My bag is lost and I am furious!!! Terrible service", sender="+14155550888")
    stack.pump.drain()
    furious = next(iter(Ticket.queue_rank.query("general")))
    http.post(f"/tickets/{furious.id}/transfer", body='{"queue": "escalations"}',
              headers={**bearer(stack.settings, "sam"), "content-type": "application/json"})
    ranked = [Ticket.get(t.id) for t in Ticket.queue_rank.query("escalations")]
    assert [t.id for t in ranked] == [calm.id, furious.id] and ranked[1].jet["score"] > ranked[0].jet["score"]
    pages = [r for r in stack.sent("ses") if "sam@jetdesk.local" in str(r)]
    assert len(pages) == 1 and breached.ref in str(pages[0])


def test_waiting_raises_effort_when_time_passes(stack, http):
    ticket = queued_ticket(stack, http)
    later = clock.now() + timedelta(hours=3)
    sweep.run(later)
    effort = next(i for i in Ticket.get(ticket.id).jet["indicators"] if i["key"] == "effort")
    assert effort["value"] > 0 and "waited 3.0 h" in effort["reason"]


def test_the_sweep_reads_nothing_when_nothing_is_due(stack, http):
    queued_ticket(stack, http)
    assert sweep.run(clock.now()) == {"leases": 0, "offers": 0, "breaches": 0, "escalations": 0, "rescored": 0,
                                      "failed": 0}


def _waiting(stack, http, count):
    for n in range(count):
        sms(stack, http, "SM" + f"{n:032d}", "Where is my bag?", sender=f"+1415555{n:04d}")
    stack.pump.drain()
    return [t.id for t in Ticket.queue_rank.query("general")]


def test_a_run_short_of_time_takes_no_more_tickets_and_leaves_them_due_for_the_next(stack, http):
    ids = _waiting(stack, http, 3)
    later = clock.now() + timedelta(minutes=16)
    short = sweep.run(later, seconds_left=lambda: sweep.MARGIN_SECONDS)
    assert short["rescored"] == 0 and all(Ticket.get(i).due_at <= clock.sortable(later) for i in ids)
    assert sweep.run(later, seconds_left=lambda: 60.0)["rescored"] == 3


class _LambdaContext:
    def __init__(self, seconds_left):
        self.seconds_left = seconds_left

    def get_remaining_time_in_millis(self):
        return int(self.seconds_left * 1000)


def test_the_scheduled_function_keeps_within_the_time_its_lambda_has_left(stack, http):
    [ticket_id] = _waiting(stack, http, 1)
    Ticket.get(ticket_id).update(actions=[Ticket.due_at.set(clock.sortable(clock.now() - timedelta(seconds=1)))])
    scheduled = {"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "123456789012", "region": "us-east-1", "time": "2026-12-07T14:00:00Z",
                 "resources": [], "detail": {}}
    stack.app.sweep_timers(scheduled, _LambdaContext(seconds_left=1))
    assert Ticket.get(ticket_id).due_at < clock.sortable(clock.now())   # not reached: still due
    stack.app.sweep_timers(scheduled, _LambdaContext(seconds_left=25))
    assert Ticket.get(ticket_id).due_at > clock.sortable(clock.now())   # re-scored and re-armed


def test_a_claim_whose_agent_was_deleted_since_still_goes_back_to_its_queue(stack, http):
    from chalicelib.storage.models import Agent
    ticket = queued_ticket(stack, http)
    http.post("/queues/general/claim", headers=bearer(stack.settings, "bob"))
    held = Ticket.get(ticket.id)
    Agent.get("bob").delete()
    assert sweep.run(held.lease_expires_at + timedelta(seconds=1))["leases"] == 1
    back = Ticket.get(ticket.id)
    assert (back.assignee, back.queue_slot) == (None, "general")
    assert not any(a.id == "bob" for a in Agent.scan())   # and no load item made up for the agent deleted

"""The scheduled sweep: expired leases back to their queue, lapsed offers to the customer's own agent
into their queue, SLA breaches escalated, scores aged.

Reads only the tickets that are due (the timers index), so its work follows what is
due, not how many tickets exist. The shards are swept side by side, one thread each (the
work is DynamoDB round trips), so no shard waits behind another, and each stops taking
tickets shortly before the function's time is up: what it did not reach stays due.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable, Optional

from pynamodb.exceptions import PutError, TransactWriteError

from .. import clock
from ..domain import timers
from ..storage.models import Customer, Ticket, TicketEvent, transaction
from ..storage.writes import New
from . import affinity, agents, audit, bot, jetconfig, outbox, routing, scoring

log = logging.getLogger(__name__)
BATCH = 500  # per shard and run: at most 4,000 due tickets a minute
MARGIN_SECONDS = 5.0  # kept back from the function's timeout: a shard stops taking tickets then
KINDS = ("leases", "offers", "breaches", "escalations", "rescored", "failed")


def arm(ticket: Ticket, now: datetime) -> None:
    """Set when the ticket next needs the sweep (call before every save of a ticket)."""
    due = timers.next_due(now, routing.clocks(ticket))
    ticket.timer_shard = timers.shard(ticket.id) if due else None
    ticket.due_at = clock.sortable(due) if due else None


def run(now: Optional[datetime] = None, seconds_left: Optional[Callable[[], float]] = None) -> dict[str, int]:
    """Act on every due ticket, each shard in its own thread; ``seconds_left`` (the Lambda
    context's remaining time) stops a shard MARGIN_SECONDS before the timeout."""
    now = now or clock.now()
    with ThreadPoolExecutor(max_workers=timers.SHARDS, thread_name_prefix="sweep") as pool:
        shards = list(pool.map(lambda n: _sweep_shard(f"t{n}", now, seconds_left), range(timers.SHARDS)))
    done = {what: sum(shard[what] for shard in shards) for what in KINDS}
    if any(done.values()):
        log.info("sweep", extra=done)
    return done


def _sweep_shard(shard: str, now: datetime, seconds_left: Optional[Callable[[], float]]) -> dict[str, int]:
    done = dict.fromkeys(KINDS, 0)
    for key in Ticket.timers.query(shard, Ticket.due_at <= clock.sortable(now), limit=BATCH):
        if seconds_left is not None and seconds_left() <= MARGIN_SECONDS:
            log.warning("sweep: out of time; the rest of the shard stays due", extra={"shard": shard})
            break
        try:
            for what in _tick(key.id, now):
                done[what] += 1
        except Exception:  # one bad ticket must not stop the others; it stays due for the next run
            log.exception("sweep: ticket failed", extra={"ticket": key.id})
            done["failed"] += 1
    return done


def _tick(ticket_id: str, now: datetime) -> list[str]:
    ticket = Ticket.get(ticket_id, consistent_read=True)
    if not ticket.due_at or ticket.due_at > clock.sortable(now):
        return []  # changed since the index was read
    config, before = jetconfig.current(), routing.placement(ticket)
    did, writes, updates = [], [], []
    moved = False
    if ticket.lease_expires_at and ticket.status != "assigned":
        ticket.lease_expires_at = None   # a claim only lapses while the ticket weighs on its agent
    if ticket.lease_expires_at and ticket.lease_expires_at <= now:
        if agents.find(ticket.assignee) is not None:   # an agent deleted since has no load to free
            updates.append(agents.load_of(ticket.assignee, ticket.channel, -1))
        previous = ticket.assignee
        routing.requeue(ticket, now)
        moved = True
        writes += [outbox.agent_alert(ticket, "lease expired: back in the queue"),
                   audit.entry(ticket.id, "system", "lease expired", previous=previous)]
        did.append("leases")
    if affinity.lapsed(ticket, now):   # the customer's own agent did not take it in time: to its queue
        agent = affinity.withdraw(ticket)
        moved = True
        writes += [outbox.agent_alert(ticket, "not taken by the customer's agent in time: in the queue"),
                   audit.entry(ticket.id, "system", "offer lapsed", agent=agent, queue=ticket.queue)]
        did.append("offers")
    clocks = routing.clocks(ticket)
    for what, due, field in (("first response", clocks.first_response_due, "sla_breached_at"),
                             ("resolution", clocks.resolution_due, "resolution_breached_at")):
        if due and due <= now:
            setattr(ticket, field, now)
            moved |= _to_escalation_queue(ticket, config, now)
            writes += [outbox.agent_alert(ticket, f"SLA breach: {what} overdue", page=config.get("escalation_queue")),
                       audit.entry(ticket.id, "system", "SLA breached", sla=what, queue=ticket.queue)]
            did.append("breaches")
    if clocks.escalate_at and clocks.escalate_at <= now and routing.is_queued(ticket) and ticket.escalations:
        step, left = ticket.escalations[0], ticket.escalations[1:]
        waited = step["after_minutes"]
        routing.enqueue(ticket, step["queue"], now, left, pinned=True)
        moved = True
        writes += [outbox.agent_alert(ticket, f"escalated: unclaimed for {waited} min"),
                   audit.entry(ticket.id, "system", "escalated", queue=step["queue"], unclaimed_minutes=waited)]
        did.append("escalations")
    cause = "SLA breach" if "breaches" in did else "escalated" if "escalations" in did else "time passing"
    customer = Customer.get(ticket.customer_id, consistent_read=ticket.status == "bot")
    result = scoring.rescore(ticket, customer, cause, now)
    turn = bot.on_rescore(ticket, customer, result, now)  # quiet after the bot's answer: closed; risen: to people
    writes += turn.writes
    updates += turn.updates
    logged = [w for w in writes if isinstance(w, TicketEvent)]
    if logged:  # the score's history entry rides on the change's audit entry
        logged[-1].detail = {**(logged[-1].detail or {}), "jet": ticket.score_change}
    elif scoring.worth_recording(ticket.score_change, before.tier):
        writes.append(audit.entry(ticket.id, "system", "rescored", jet=ticket.score_change))
    page = routing.page_for(ticket, before, moved)
    if page and not turn.handed_over:
        writes.append(outbox.agent_alert(ticket, "P1 waiting", page=page))
    did.append("rescored")
    ticket.updated_at = now
    arm(ticket, now)
    try:
        if not writes and not updates and not turn.customer_changed:
            ticket.save()  # only re-scored, too little to record (most runs): a plain versioned put
        else:
            with transaction() as tx:
                tx.save(ticket)
                if turn.customer_changed:
                    tx.save(customer)
                for item in outbox.bundle(writes):
                    New(item).into(tx)
                for update in updates:
                    update.into(tx)
    except (TransactWriteError, PutError) as exc:
        if exc.cause_response_code not in ("TransactionCanceledException", "ConditionalCheckFailedException"):
            raise
        return []  # someone acted on it meanwhile; it is re-armed by their save
    return did


def _to_escalation_queue(ticket: Ticket, config: dict, now: datetime) -> bool:
    """A breached ticket nobody holds goes to the escalation queue, first in line there."""
    target = config.get("escalation_queue")
    if not target or not routing.is_queued(ticket) or ticket.queue == target:
        return False
    routing.enqueue(ticket, target, now, None, pinned=True)
    return True

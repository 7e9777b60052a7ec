"""The scheduled sweep: expired leases back to their queue, SLA breaches escalated, scores aged.

Reads only the tickets that are due (the timers index), so its work follows what is
due, not how many tickets exist.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from pynamodb.exceptions import TransactWriteError

from .. import clock
from ..domain import timers
from ..storage.models import Customer, Ticket, transaction
from . import agents, audit, outbox, scoring

log = logging.getLogger(__name__)
BATCH = 100


def arm(ticket: Ticket, now: datetime) -> None:
    """Set when the ticket next needs the sweep (call before every save of a ticket)."""
    due = timers.next_due(now, ticket.status, ticket.lease_expires_at, ticket.sla_due_at,
                          ticket.first_response_at, ticket.sla_breached_at)
    ticket.timer_shard = timers.shard(ticket.id) if due else None
    ticket.due_at = clock.sortable(due) if due else None


def run(now: Optional[datetime] = None) -> dict[str, int]:
    now = now or clock.now()
    done = {"leases": 0, "breaches": 0, "rescored": 0}
    for n in range(timers.SHARDS):
        for key in Ticket.timers.query(f"t{n}", Ticket.due_at <= clock.sortable(now), limit=BATCH):
            for what in _tick(key.id, now):
                done[what] += 1
    if any(done.values()):
        log.info("sweep", extra=done)
    return done


def _tick(ticket_id: str, now: datetime) -> list[str]:
    ticket = Ticket.get(ticket_id, consistent_read=True)
    if not ticket.due_at or ticket.due_at > clock.sortable(now):
        return []  # changed since the index was read
    did, others = [], []
    updates = []
    if ticket.lease_expires_at and ticket.lease_expires_at <= now:
        updates.append(agents.load_of(ticket.assignee, ticket.channel, -1))
        ticket.assignee = ticket.lease_expires_at = None
        ticket.status = "open"
        others.append(outbox.agent_alert(ticket, "lease expired: back in the queue"))
        others.append(audit.entry(ticket.id, "system", "lease expired", previous=updates[-1][0].id)[0])
        did.append("leases")
    breached = (ticket.sla_due_at and ticket.sla_due_at <= now and not ticket.first_response_at
                and not ticket.sla_breached_at)
    if breached:
        ticket.sla_breached_at = now
        others.append(outbox.agent_alert(ticket, "SLA breach: first response overdue"))
        others.append(audit.entry(ticket.id, "system", "SLA breached")[0])
        did.append("breaches")
    scoring.rescore(ticket, Customer.get(ticket.customer_id), "SLA breach" if breached else "time passing", now)
    did.append("rescored")
    ticket.updated_at = now
    arm(ticket, now)
    try:
        with transaction() as tx:
            tx.save(ticket)
            for item in others:
                tx.save(item)
            for model, actions, condition in updates:
                tx.update(model, actions=actions, condition=condition, add_version_condition=False)
    except TransactWriteError as exc:
        if exc.cause_response_code != "TransactionCanceledException":
            raise
        return []  # someone acted on it meanwhile; it is re-armed by their save
    return did

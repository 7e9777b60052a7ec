"""Where an unassigned ticket waits: its queue, its place in it, and where it goes if nobody claims it."""
from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple, Optional

from ..domain import tickets as rules
from ..domain import timers
from ..domain.conditions import Context
from ..storage.models import Ticket


def is_queued(ticket: Ticket) -> bool:
    return ticket.status == "open" and not ticket.assignee


def breached(ticket: Ticket) -> bool:
    return ticket.sla_breached_at is not None or ticket.resolution_breached_at is not None


def enqueue(ticket: Ticket, queue: str, now: datetime, steps: Optional[list] = None, pinned: bool = False) -> None:
    """Unassigned and waiting in ``queue``; the escalation clock starts when the queue changes.
    A pinned ticket (moved by a person or an escalation) stays where it is when it is re-scored."""
    ticket.assignee = ticket.lease_expires_at = None
    ticket.status = "open"
    if ticket.queue != queue or ticket.queue_slot is None or ticket.queued_at is None:
        ticket.queued_at = now
    ticket.queue = ticket.queue_slot = queue
    ticket.offered_to = ticket.offer_expires_at = None   # a move to a queue ends an offer to the customer's agent
    ticket.escalations = list(steps) if steps else None
    ticket.queue_pinned = True if pinned else None
    rerank(ticket)


def requeue(ticket: Ticket, now: datetime) -> None:
    """Back in its own queue after a claim ended (release, lease expiry): its wait starts again."""
    enqueue(ticket, ticket.queue, now, ticket.escalations, pinned=bool(ticket.queue_pinned))
    ticket.queued_at = now


def rerank(ticket: Ticket) -> None:
    """Its place in its queue, or in the personal slot of the agent it is offered to (services/affinity)."""
    ticket.queue_slot = rules.personal_slot(ticket.offered_to) if ticket.offered_to else ticket.queue
    ticket.rank = rules.rank_for((ticket.jet or {}).get("score", 0), ticket.id, breached(ticket))


def route(ticket: Ticket, ctx: Context, routes: list[dict[str, Any]], now: datetime) -> None:
    """Queue an unassigned ticket by the routing rules, unless a person or an escalation placed it."""
    if ticket.queue_pinned and ticket.queue_slot is not None:
        rerank(ticket)
        return
    rule = rules.routing_rule(ctx, routes)
    if rule["queue"] == ticket.queue and ticket.queue_slot is not None:
        rerank(ticket)  # same queue: it keeps its wait and its escalation steps
        return
    enqueue(ticket, rule["queue"], now, rule.get("escalate"), pinned=bool(ticket.queue_pinned))


def take_off_queue(ticket: Ticket) -> None:
    ticket.queue_slot = ticket.rank = None
    ticket.offered_to = ticket.offer_expires_at = None


def clocks(ticket: Ticket) -> timers.Clocks:
    """While the bot holds a ticket no agent SLA runs: it waits on nobody but the customer."""
    by_bot = ticket.status == "bot"
    return timers.Clocks(
        status=ticket.status,
        lease_expires_at=ticket.lease_expires_at,
        first_response_due=None if by_bot or ticket.first_response_at or ticket.sla_breached_at
        else ticket.sla_due_at,
        resolution_due=None if by_bot or ticket.resolution_breached_at else ticket.resolution_due_at,
        escalate_at=timers.escalate_at(ticket.queued_at, ticket.escalations) if is_queued(ticket) else None,
        bot_quiet_until=timers.parse((ticket.bot or {}).get("quiet_until")) if by_bot else None,
        offer_expires_at=ticket.offer_expires_at if is_queued(ticket) and ticket.offered_to else None,
    )


class Placement(NamedTuple):
    """A ticket's tier and queue slot before a change: what ``page_for`` compares against."""
    tier: Optional[str]
    slot: Optional[str]


NOWHERE = Placement(None, None)   # a ticket people get now (new, or handed over by the bot)


def placement(ticket: Ticket) -> Placement:
    return Placement((ticket.jet or {}).get("tier"), ticket.queue_slot)


def page_for(ticket: Ticket, before: Placement, moved: bool = False) -> Optional[str]:
    """Where a P1 that newly waits (new, risen to P1, or moved) is paged: its queue's on-duty agents,
    or, while it is offered to the customer's own agent, that agent alone (their personal slot)."""
    tier = (ticket.jet or {}).get("tier")
    if is_queued(ticket) and tier == "P1" and (before.tier != "P1" or moved or ticket.queue_slot != before.slot):
        return ticket.queue_slot
    return None

"""Queues: what waits where, in JET order, and atomic claims under a lease."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Optional

from pynamodb.exceptions import UpdateError

from .. import clock
from ..domain import timers
from ..errors import BadRequest
from ..settings import get_settings
from ..storage.models import Ticket
from . import presenters
from .agents import Actor, require_queue

CANDIDATES = 10


def summary(who: Actor) -> list[dict[str, Any]]:
    """Depth, oldest wait and top score of each of the agent's queues (three Queries each)."""
    now = clock.now()
    out = []
    for name in who.queues:
        depth = Ticket.queue_rank.count(name)
        top = next(iter(Ticket.queue_rank.query(name, limit=1)), None)
        oldest = next(iter(Ticket.queue_age.query(name, limit=1)), None)
        oldest_wait = max(0, int((now - clock.id_time(oldest.id)).total_seconds())) if oldest else None
        out.append({"name": name, "depth": depth, "oldest_wait_seconds": oldest_wait,
                    "top_score": (top.jet or {}).get("score") if top else None})
    return out


def tickets(who: Actor, queue: str, cursor: Optional[str] = None, limit: Optional[int] = None) -> dict:
    require_queue(who, queue)
    start = presenters.decode_cursor(cursor)
    if start is not None and start.get("queue_slot", {}).get("S") != queue:
        raise BadRequest("cursor belongs to another queue")
    result = Ticket.queue_rank.query(queue, limit=limit or get_settings().queue_page_size,
                                     last_evaluated_key=start)
    items = [presenters.ticket(t) for t in result]
    return presenters.page(items, result.last_evaluated_key)


def claim(who: Actor, queue: str) -> Optional[tuple[Ticket, Any]]:
    """Reserve the best ticket this agent may take; None when there is none.

    The index read is eventually consistent, so every candidate is taken with a
    conditional write: it must still be queued here and unassigned.
    """
    require_queue(who, queue)
    now = clock.now()
    lease_until = now + timedelta(seconds=get_settings().lease_seconds)
    for candidate in Ticket.queue_rank.query(queue, limit=CANDIDATES):
        if not who.speaks(candidate.language):
            continue
        try:
            candidate.update(
                actions=[Ticket.assignee.set(who.id), Ticket.status.set("assigned"),
                         Ticket.lease_expires_at.set(lease_until), Ticket.updated_at.set(now),
                         Ticket.queue_slot.remove(), Ticket.rank.remove(),
                         Ticket.timer_shard.set(timers.shard(candidate.id)),
                         Ticket.due_at.set(min(clock.sortable(lease_until), candidate.due_at or "~"))],
                condition=(Ticket.queue_slot == queue) & Ticket.assignee.does_not_exist()
                & (Ticket.status == "open"),
                add_version_condition=False,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                continue
            raise
        return candidate, lease_until
    return None

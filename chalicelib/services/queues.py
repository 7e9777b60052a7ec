"""Queues: what waits where, in JET order, and atomic claims under a lease."""
from __future__ import annotations

import random
from datetime import timedelta
from typing import Any, Optional

from pynamodb.constants import COUNT
from pynamodb.exceptions import TransactWriteError

from .. import clock
from ..domain import tickets as rules
from ..domain import timers
from ..domain.inbound import CHANNELS
from ..errors import BadRequest
from ..settings import get_settings
from ..storage.models import Ticket, tickets_by_id, transaction
from ..storage.writes import New, Update, failed_conditions
from . import affinity, agents, audit, outbox, presenters
from .agents import Actor

CANDIDATES = 10
ROUNDS = 5
MAX_PAGE = 1000   # index entries a page may read (≈ 100 bytes each: well under a 1 MB page)
DEPTH_SHOWN = 1000   # a queue's depth is counted exactly up to here, and shown as "at least" beyond


def summary(who: Actor) -> list[dict[str, Any]]:
    """Depth, oldest wait and top score of each of the agent's queues (three one-page Queries each), then
    ``mine`` (tickets offered to them as their customers' own agent) when it holds any."""
    out = [_figures(name, name) for name in who.queues]
    mine = _figures(rules.MINE, rules.personal_slot(who.id))
    return out + [mine] if mine["depth"] else out


def _figures(name: str, slot: str) -> dict[str, Any]:
    depth, more = _depth(slot)
    if not depth:
        return {"name": name, "depth": 0, "depth_capped": False, "oldest_wait_seconds": None, "top_score": None}
    top = next(iter(Ticket.queue_rank.query(slot, limit=1)), None)
    oldest = next(iter(Ticket.queue_age.query(slot, limit=1)), None)
    oldest_wait = max(0, int((clock.now() - clock.id_time(oldest.id)).total_seconds())) if oldest else None
    return {"name": name, "depth": depth, "depth_capped": more, "oldest_wait_seconds": oldest_wait,
            "top_score": rules.score_from_rank(top.rank) if top else None}


def _depth(slot: str) -> tuple[int, bool]:
    """The queue's waiting tickets, counted in one ``Select=COUNT`` page of at most DEPTH_SHOWN + 1
    index entries (a count of every page would read the whole queue on every console poll), and
    whether there are more than DEPTH_SHOWN."""
    page = Ticket._get_connection().query(slot, index_name=Ticket.queue_rank.Meta.index_name,
                                          limit=DEPTH_SHOWN + 1, select=COUNT)
    return min(page["Count"], DEPTH_SHOWN), page["Count"] > DEPTH_SHOWN


def tickets(who: Actor, queue: str, cursor: Optional[str] = None, limit: Optional[int] = None) -> dict:
    slot = affinity.slot(who, queue)
    start = presenters.decode_cursor(cursor, ("queue_slot", "rank", "id"))
    if start is not None and start["queue_slot"]["S"] != slot:
        raise BadRequest("cursor belongs to another queue")
    result = Ticket.queue_rank.query(slot, limit=limit or get_settings().queue_page_size,
                                     last_evaluated_key=start)
    items = [presenters.ticket(t) for t in tickets_by_id([key.id for key in result])]
    return presenters.page(items, result.last_evaluated_key)


def claim(who: Actor, queue: str) -> Optional[tuple[Ticket, Any]]:
    """Reserve the best ticket this agent may take; None when there is none.

    The index read is eventually consistent, so every candidate is taken in one
    transaction with two conditions: it is still queued here and unassigned, and
    the agent still has room on its channel. Uncontended, a claim reads one page of
    CANDIDATES whatever the queue's depth; a race lost to other agents, or a page it
    may not take, makes it read on (at most ROUNDS pages, each reading ten times more of the
    index than the one before, up to MAX_PAGE), so an agent is not sent away while tickets
    it may take are waiting (a page read whole is ≈ 100 KB: the index holds only the claim's
    filters, language, channel and due time, beside the keys). ``mine`` claims
    from the agent's personal slot (tickets offered to them as their customers' own agent); the
    index holds only claim filters there too.
    """
    slot = affinity.slot(who, queue)
    now = clock.now()
    lease_until = now + timedelta(seconds=get_settings().lease_seconds)
    full = {c for c in CHANNELS if not who.has_room(c)}
    seen: set[str] = set()
    start, lost, spread = None, False, False
    for round_ in range(ROUNDS):
        if len(full) == len(CHANNELS):
            return None
        result = Ticket.queue_rank.query(slot, limit=min(MAX_PAGE, CANDIDATES * 10 ** round_), last_evaluated_key=start)
        page = [c for c in result if c.id not in seen]
        seen.update(c.id for c in page)
        page = _ties_shuffled(page) if spread else page
        while page:
            candidate = page.pop(0)
            if not who.speaks(candidate.language) or candidate.channel in full:
                continue
            outcome = _take(who, queue, slot, candidate, now, lease_until)
            if outcome == "taken":
                return Ticket.get(candidate.id, consistent_read=True), lease_until
            if outcome == "full":
                full.add(candidate.channel)
            else:  # others are claiming here: spread out over what ranks the same
                lost = True
                page = page if spread else _ties_shuffled(page)
                spread = True
        start = result.last_evaluated_key
        if start is None:  # the end of the queue: from the top again only if a race was lost on the way
            if not lost:
                return None
            lost = False
    return None


def _ties_shuffled(page: list[Ticket]) -> list[Ticket]:
    """The same order by score; tickets of equal score in random order (not oldest first), so
    agents claiming at once do not all race for the same one."""
    order = {c.id: (c.rank[:7], random.random()) for c in page}
    return sorted(page, key=lambda c: order[c.id])


def _take(who: Actor, queue: str, slot: str, candidate: Ticket, now, lease_until) -> str:
    """One conditional transaction: "taken", "lost" (someone else has it, or it moved), or
    "full" (the agent has no room left on its channel)."""
    taken = [Ticket.assignee.set(who.id), Ticket.status.set("assigned"),
             Ticket.lease_expires_at.set(lease_until), Ticket.updated_at.set(now),
             Ticket.queue_slot.remove(), Ticket.rank.remove(),
             Ticket.offered_to.remove(), Ticket.offer_expires_at.remove(),
             Ticket.timer_shard.set(timers.shard(candidate.id)),
             Ticket.due_at.set(min(clock.sortable(lease_until), candidate.due_at or "~"))]
    load = agents.taking(who, candidate.channel)
    try:
        with transaction() as tx:
            Update(candidate, taken, (Ticket.queue_slot == slot) & Ticket.assignee.does_not_exist()
                   & (Ticket.status == "open")).into(tx)
            load.into(tx)
            held = _as_taken(candidate.id, who.id, None if slot != queue else queue)
            New(audit.entry(candidate.id, f"agent:{who.id}", "claimed", queue=held.queue,
                            offered=True if slot != queue else None)).into(tx)
            New(outbox.integrator_event(held, "ticket.assigned")).into(tx)
    except TransactWriteError as exc:
        if exc.cause_response_code != "TransactionCanceledException":
            raise
        # the agent's load update is the transaction's last item (puts go before updates)
        failed = failed_conditions(exc)
        return "full" if failed and failed[-1] else "lost"
    return "taken"


def _as_taken(ticket_id: str, agent_id: str, queue: Optional[str]) -> Ticket:
    """The candidate as the claim leaves it, for its event and audit entry, read by key: the index holds
    only what claims filter on (from a personal slot, the ticket's own queue comes from this read)."""
    ticket = Ticket.get(ticket_id)
    ticket.assignee, ticket.status = agent_id, "assigned"
    ticket.queue = queue or ticket.queue
    return ticket

"""Audit entries, written in the same transaction as the change they record."""
from __future__ import annotations

from typing import Any, Optional

from .. import clock
from ..storage.models import Ticket, TicketEvent


def entry(ticket_id: str, actor: str, action: str, via: Optional[str] = None,
          **detail: Any) -> TicketEvent:
    """A new event, for the transaction of the change it records (written as ``writes.New``)."""
    return TicketEvent(ticket_id, clock.new_id(), at=clock.now(), actor=actor, action=action, via=via,
                       detail={k: v for k, v in detail.items() if v is not None} or None)


def trail(ticket: Ticket, events: Optional[list[TicketEvent]] = None) -> list[dict[str, Any]]:
    """The audit trail (``events`` when already read). Its first entry, the customer opening the
    ticket, is read from the ticket (created_at, channel): no item is written for it (tickets
    opened before 2026-12 have it stored). A change's score entry is in the history, not here."""
    events = list(TicketEvent.query(ticket.id)) if events is None else events
    opened = [] if any(e.action == "opened" for e in events) else \
        [{"at": clock.iso(ticket.created_at), "actor": "customer", "action": "opened", "via": ticket.channel}]
    return opened + [{"at": clock.iso(e.at), "actor": e.actor, "action": e.action, "via": e.via,
                      **{k: v for k, v in (e.detail or {}).items() if k != "jet"}} for e in events]

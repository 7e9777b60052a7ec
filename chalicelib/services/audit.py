"""Audit entries, written in the same transaction as the change they record."""
from __future__ import annotations

from typing import Any, Optional

from .. import clock
from ..storage.models import TicketEvent


def entry(ticket_id: str, actor: str, action: str, via: Optional[str] = None,
          **detail: Any) -> tuple[TicketEvent, Any]:
    """A (item, condition) pair for a transaction: a new, never overwritten event."""
    event = TicketEvent(ticket_id, clock.new_id(), at=clock.now(), actor=actor, action=action, via=via,
                        detail={k: v for k, v in detail.items() if v is not None} or None)
    return event, TicketEvent.id.does_not_exist()


def trail(ticket_id: str) -> list[dict[str, Any]]:
    return [{"at": clock.iso(e.at), "actor": e.actor, "action": e.action, "via": e.via, **(e.detail or {})}
            for e in TicketEvent.query(ticket_id)]

"""Notification intents, written in the same transaction as the change they announce."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError

from .. import clock
from ..storage.models import Message, Outbox, Ticket

KEEP = timedelta(days=30)


def _intent(kind: str, ticket: Ticket, payload: dict[str, Any], message_id: str | None = None) -> Outbox:
    created = clock.now()
    return Outbox(clock.new_id(), kind=kind, ticket_id=ticket.id, message_id=message_id,
                  payload=payload, created_at=created, expires_at=created + KEEP)


def customer_message(ticket: Ticket, message: Message, text: str | None = None) -> Outbox:
    """``text`` when what is sent differs from what is kept (a status link is sent, never stored in the timeline)."""
    return _intent("customer_message", ticket,
                   {"reply_to": dict(ticket.reply_to), "text": message.text if text is None else text}, message.id)


def agent_alert(ticket: Ticket, what: str, page: str | None = None) -> Outbox:
    """An operational alert (to the alert topic); with ``page``, also to the on-duty agents of that queue."""
    return _intent("agent_alert", ticket, {
        "what": what, "queue": ticket.queue, "assignee": ticket.assignee, "ref": ticket.ref,
        "tier": (ticket.jet or {}).get("tier"), "score": (ticket.jet or {}).get("score"),
        **({"page": page} if page else {}),
    })


def integrator_event(ticket: Ticket, event_type: str, data: dict[str, Any] | None = None) -> Outbox:
    return _intent("integrator_event", ticket, {
        "type": event_type,
        "data": {"ticket_id": ticket.id, "ref": ticket.ref, "status": ticket.status,
                 "queue": ticket.queue, "customer_id": ticket.customer_id,
                 "jet": {"score": (ticket.jet or {}).get("score"), "tier": (ticket.jet or {}).get("tier")},
                 **(data or {})},
    })


def fan_out(intent: Outbox, kind: str, payloads: dict[str, dict[str, Any]]) -> int:
    """One intent per target, each delivered and retried on its own, with an id stable across
    retries of the parent (a redelivered parent writes nothing new)."""
    for target, payload in payloads.items():
        child = Outbox(f"{intent.id}.{target}", kind=kind, ticket_id=intent.ticket_id, payload=payload,
                       created_at=clock.now(), expires_at=clock.now() + KEEP)
        try:
            child.save(condition=Outbox.id.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
    return len(payloads)

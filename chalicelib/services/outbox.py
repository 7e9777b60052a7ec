"""Notification intents, written in the same transaction as the change they announce.

A change that announces several things (the customer's acknowledgement, an agent alert, an
integrator event) writes them as ONE outbox item of kind ``change``: a transaction bills 2 write
units per KB per item, so three small items cost three times one that carries all three. The
notifier delivers its parts (``parts``) one by one and writes a part as an intent of its own only
when it has to be retried or failed, so each target keeps its own retries and dead letter.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterable

from .. import clock
from ..storage.models import Message, Outbox, Ticket
from ..storage.writes import written

KEEP = timedelta(days=30)

AUTOMATIC_AUTHORS = ("system", "bot")   # acknowledgements, confirmations, the bot's answers


def _intent(kind: str, ticket: Ticket, payload: dict[str, Any], message_id: str | None = None) -> Outbox:
    created = clock.now()
    return Outbox(clock.new_id(), kind=kind, ticket_id=ticket.id, message_id=message_id,
                  payload=payload, created_at=created, expires_at=created + KEEP)


def customer_message(ticket: Ticket, message: Message, text: str | None = None) -> Outbox:
    """``text`` when what is sent differs from what is kept (a status link is sent, never stored in the timeline)."""
    reply_to = dict(ticket.reply_to)
    if message.author in AUTOMATIC_AUTHORS:
        reply_to["automatic"] = True    # mail says so (Auto-Submitted), so no auto-responder answers it
    return _intent("customer_message", ticket,
                   {"reply_to": reply_to, "text": message.text if text is None else text}, message.id)


def agent_alert(ticket: Ticket, what: str, page: str | None = None) -> Outbox:
    """An operational alert (to the alert topic); with ``page``, also to the on-duty agents of that queue."""
    return _intent("agent_alert", ticket, {
        "what": what, "queue": ticket.queue, "assignee": ticket.assignee, "ref": ticket.ref,
        "tier": (ticket.jet or {}).get("tier"), "score": (ticket.jet or {}).get("score"),
        **({"page": page} if page else {}),
    })


def integrator_event(ticket: Ticket, event_type: str, data: dict[str, Any] | None = None) -> Outbox:
    """``at``: when it happened, the webhook body's ``timestamp`` on every delivery and retry."""
    return _intent("integrator_event", ticket, {
        "type": event_type, "at": clock.iso(ticket.updated_at or clock.now()),
        "data": {"ticket_id": ticket.id, "ref": ticket.ref, "status": ticket.status,
                 "queue": ticket.queue, "customer_id": ticket.customer_id,
                 **({"external_ref": ticket.external_ref} if ticket.external_ref else {}),
                 "jet": {"score": (ticket.jet or {}).get("score"), "tier": (ticket.jet or {}).get("tier")},
                 **(data or {})},
    })


# The order a change's parts go out in: first those a rerun sends again harmlessly (a customer
# message is guarded by its recorded handover, a webhook keeps its webhook-id), alerts and pages
# last, so a run that fails part-way (and is retried whole) has sent none of them yet.
PART_ORDER = {"customer_message": 0, "integrator_event": 1}


def bundle(items: Iterable[Any]) -> list:
    """The writes of one change with its outbox intents folded into one ``change`` item (in the
    place of the first); a single intent stays as it is."""
    items = list(items)
    intents = [i for i in items if isinstance(i, Outbox)]
    if len(intents) < 2:
        return items
    first = intents[0]
    ordered = sorted(intents, key=lambda i: PART_ORDER.get(i.kind, len(PART_ORDER)))
    change = Outbox(first.id, kind="change", ticket_id=first.ticket_id, created_at=first.created_at,
                    expires_at=first.expires_at,
                    payload={"parts": [{"kind": i.kind, "payload": i.payload,
                                        **({"message_id": i.message_id} if i.message_id else {})} for i in ordered]})
    return [change if i is first else i for i in items if not isinstance(i, Outbox) or i is first]


def parts(change: Outbox) -> list[Outbox]:
    """The intents a ``change`` item carries, as unsaved intents with ids stable across its
    redeliveries (``<change id>.<n>``: a webhook's ``webhook-id`` is built on it)."""
    return [Outbox(f"{change.id}.{n}", kind=p["kind"], ticket_id=change.ticket_id, message_id=p.get("message_id"),
                   payload=p["payload"], status="pending", attempts=0, created_at=change.created_at,
                   expires_at=change.expires_at)
            for n, p in enumerate(change.payload["parts"])]


def child(intent: Outbox, target: str, kind: str, payload: dict[str, Any]) -> Outbox:
    """An unsaved intent for one target of ``intent``, with an id stable across its retries."""
    return Outbox(f"{intent.id}.{target}", kind=kind, ticket_id=intent.ticket_id, payload=payload,
                  status="pending", attempts=0, created_at=clock.now(), expires_at=clock.now() + KEEP)


def keep(intent: Outbox) -> bool:
    """Write an intent that has to go on by itself (retried, or failed for replay); False when a
    redelivered parent already wrote it (its id is stable)."""
    return written(lambda: intent.save(condition=Outbox.id.does_not_exist()))


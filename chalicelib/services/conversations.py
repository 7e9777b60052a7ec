"""Step two of the data path: thread a stored message into a ticket, score, route, notify.

Runs from the inbound table's stream. Exactly once: the transaction that writes the
ticket also flips the inbound item from ``stored`` to ``processed`` on condition.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from pynamodb.exceptions import TransactWriteError

from .. import clock
from ..domain import contacts, tickets as rules
from ..domain.inbound import InboundMessage, IntegrationEvent
from ..storage.models import Customer, InboundMessage as InboundItem, Message, Ticket, transaction
from . import customers, outbox, scoring

log = logging.getLogger(__name__)
ATTEMPTS = 4
RECENT_TEXTS = 3
ACK_CHANNELS = ("sms", "whatsapp")


class Conflict(Exception):
    """Someone else changed the same items; the caller retries from fresh reads."""


def process(item: InboundItem) -> Optional[str]:
    """Handle one stored delivery; returns the ticket id it landed in (None for events)."""
    for _ in range(ATTEMPTS):
        if item.status != "stored":
            return item.ticket_id
        try:
            if item.kind == "event":
                return _apply_event(item, IntegrationEvent.from_dict(item.body))
            return _thread(item, InboundMessage.from_dict(item.body))
        except Conflict:
            item = InboundItem.get(item.key, consistent_read=True)
    raise RuntimeError(f"gave up on {item.key} after {ATTEMPTS} conflicting attempts")


def _contacts(msg: InboundMessage) -> list[contacts.Contact]:
    return [contacts.Contact(msg.sender_kind, msg.sender)] + \
        [contacts.Contact(k, v) for k, v in msg.extra_contacts]


def _open_ticket(customer: Customer) -> Optional[Ticket]:
    """The customer's open ticket, read consistently through the pointer on the customer."""
    if not customer.open_ticket_id:
        return None
    try:
        ticket = Ticket.get(customer.open_ticket_id, consistent_read=True)
    except Ticket.DoesNotExist:
        return None
    return ticket if ticket.status in rules.OPEN_STATES else None


def _new_ticket(msg: InboundMessage, customer: Customer, now: datetime) -> Ticket:
    ticket_id = clock.new_id()
    return Ticket(ticket_id, ref=rules.ref_for(ticket_id), status="open", channel=msg.channel,
                  queue="general", customer_id=customer.id, state_key=rules.state_key("open", ticket_id),
                  subject=msg.subject, language=customer.language, created_at=now, updated_at=now,
                  inbound_count=0, recent_texts=[], history=[], jet={}, reply_to={})


def _thread(item: InboundItem, msg: InboundMessage) -> str:
    now = clock.now()
    who = customers.resolve(_contacts(msg), msg.sender_name)
    ticket = _open_ticket(who.customer)
    is_new_ticket = ticket is None
    if is_new_ticket:
        ticket = _new_ticket(msg, who.customer, now)
        who.customer.open_ticket_id = ticket.id
        who.changed = True

    message = Message(ticket.id, item.message_id, direction="inbound", channel=msg.channel,
                      text=msg.text, created_at=now, author="customer", delivery_status="delivered",
                      provider_message_id=msg.provider_message_id,
                      media=[m.__dict__ for m in msg.media] or None)
    ticket.inbound_count = int(ticket.inbound_count or 0) + 1
    ticket.channels_used = set(ticket.channels_used or ()) | {msg.channel}
    ticket.recent_texts = (list(ticket.recent_texts or []) + [msg.text[:1000]])[-RECENT_TEXTS:]
    ticket.updated_at = now
    if msg.channel != "api":
        ticket.reply_to = {"channel": msg.channel, "address": msg.sender, "from": msg.recipient}
    elif not ticket.reply_to:
        ticket.reply_to = {"channel": "api"}
    result = scoring.rescore(ticket, who.customer, "new ticket" if is_new_ticket else "customer wrote again", now)
    if not ticket.first_response_at:
        ticket.sla_due_at = rules.sla_due(ticket.created_at, result.tier)

    intents = [outbox.integrator_event(ticket, "ticket.created" if is_new_ticket else "ticket.message",
                                       {"message_id": message.id, "channel": msg.channel}),
               outbox.agent_alert(ticket, "new ticket" if is_new_ticket else "customer replied")]
    writes: list = [message]
    if is_new_ticket and msg.channel in ACK_CHANNELS:
        ack = Message(ticket.id, clock.new_id(), direction="outbound", channel=msg.channel,
                      text=f"Thanks, we have your message. Your reference is {ticket.ref}; "
                           "an agent will reply here.",
                      created_at=now, author="system", delivery_status="pending")
        writes.append(ack)
        intents.append(outbox.customer_message(ticket, ack))

    _commit(item, ticket, who, writes + intents)
    log.info("threaded", extra={"inbound": item.key, "ticket": ticket.id, "new_ticket": is_new_ticket,
                                "score": result.score, "queue": ticket.queue})
    return ticket.id


def _apply_event(item: InboundItem, event: IntegrationEvent) -> None:
    """Journey, booking and feedback events update the customer and re-score their open tickets."""
    from channels.integration import customer_contacts

    who = customers.resolve(customer_contacts(event.customer), event.customer.get("name"))
    profile, journey = dict(who.customer.profile or {}), dict(who.customer.journey or {})
    if event.type == "journey.updated":
        journey = {"booking_ref": event.data["booking_ref"], "segments": event.data["segments"]}
    elif event.type == "booking.updated":
        profile.update({k: v for k, v in event.data.items() if k != "booking_ref"})
        profile["booking_ref"] = event.data["booking_ref"]
    elif event.type == "customer.feedback":
        profile["ratings"] = (profile.get("ratings", []) + [
            {"stage": event.data["stage"], "rating": event.data["rating"], "at": event.occurred_at}])[-10:]
    who.customer.profile, who.customer.journey = profile, journey
    who.changed = True
    ticket = _open_ticket(who.customer)
    if ticket is not None:
        ticket.updated_at = clock.now()
        scoring.rescore(ticket, who.customer, event.type)
    _commit(item, ticket, who, [outbox.integrator_event(ticket, "ticket.rescored")] if ticket else [])
    return None


def _commit(item: InboundItem, ticket: Optional[Ticket], who: customers.Resolution, others: list) -> None:
    try:
        with transaction() as tx:
            done = [InboundItem.status.set("processed")]
            if ticket is not None:
                done.append(InboundItem.ticket_id.set(ticket.id))
            tx.update(item, actions=done, condition=InboundItem.status == "stored")
            if who.changed:
                tx.save(who.customer, condition=Customer.id.does_not_exist() if who.is_new else None)
            for identity in who.new_identities:
                tx.save(identity, condition=type(identity).identity.does_not_exist())
            if ticket is not None:
                tx.save(ticket)
            for other in others:
                tx.save(other, condition=type(other)._hash_key_attribute().does_not_exist())
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            raise Conflict(str(exc)) from None
        raise

"""Reading tickets and answering customers on their own channel."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError

from .. import clock
from ..domain import contacts
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..storage.models import Message, Ticket, transaction
from . import customers, outbox, presenters
from .agents import Actor

ATTEMPTS = 3


def _load(ticket_id: str) -> Ticket:
    try:
        return Ticket.get(ticket_id, consistent_read=True)
    except Ticket.DoesNotExist:
        raise NotFound(f"no ticket {ticket_id}") from None


def _visible(who: Actor, ticket_id: str) -> Ticket:
    ticket = _load(ticket_id)
    if not who.may_see(ticket):
        raise Forbidden("this ticket is outside your queues")
    return ticket


def get(who: Actor, ticket_id: str) -> dict[str, Any]:
    ticket = _visible(who, ticket_id)
    return presenters.ticket_with_timeline(ticket, Message.query(ticket.id))


def for_contact(who: Actor, raw_contact: str) -> dict[str, Any]:
    """A customer's tickets found by any of their contact identities, newest first."""
    try:
        contact = contacts.parse(raw_contact)
    except contacts.InvalidContact as exc:
        raise BadRequest(f"contact: {exc}") from None
    customer_id = customers.find(contact)
    if customer_id is None:
        return presenters.page([], None)
    found = Ticket.customer_tickets.query(customer_id, scan_index_forward=False, limit=100)
    return presenters.page([presenters.ticket(t) for t in found if who.may_see(t)], None)


def reply(who: Actor, ticket_id: str, text: str) -> dict[str, Any]:
    """Write the reply and its send intent atomically; an eligible agent takes an unassigned ticket."""
    for _ in range(ATTEMPTS):
        ticket = _visible(who, ticket_id)
        if ticket.assignee and ticket.assignee != who.id and not who.is_supervisor:
            raise Forbidden(f"ticket is assigned to {ticket.assignee}")
        if not who.speaks(ticket.language) and not who.is_supervisor:
            raise Forbidden("ticket is in a language you do not handle")
        now = clock.now()
        message = Message(ticket.id, clock.new_id(), direction="outbound", channel=ticket.reply_to.get("channel", ticket.channel),
                          text=text, created_at=now, author=who.id, delivery_status="pending")
        if ticket.assignee == who.id:
            ticket.lease_expires_at = None  # replying accepts the claim
        elif not ticket.assignee and not who.is_supervisor:
            ticket.assignee, ticket.status, ticket.lease_expires_at = who.id, "assigned", None
            ticket.queue_slot = ticket.rank = None
        ticket.first_response_at = ticket.first_response_at or now
        ticket.updated_at = now
        try:
            with transaction() as tx:
                tx.save(ticket)
                tx.save(message, condition=Message.id.does_not_exist())
                tx.save(outbox.customer_message(ticket, message))
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                continue
            raise
        return presenters.message(message)
    raise Conflict("the ticket kept changing; try again")

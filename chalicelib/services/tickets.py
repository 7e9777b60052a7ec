"""Reading tickets and acting on them: reply, accept, release, transfer, resolve, feedback."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Optional

from pynamodb.exceptions import TransactWriteError

from .. import clock
from ..domain import contacts
from ..domain import tickets as rules
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..settings import get_settings
from ..storage.models import Agent, Customer, Message, Outbox, Ticket, TicketEvent, tickets_by_id, transaction
from ..storage.writes import New, Put
from . import affinity, agents, audit, bot, canned, customers, outbox, presenters, routing, scoring, sweep
from .agents import Actor

ATTEMPTS = 3
EMOTIONS = ("calm", "anxious", "frustrated", "angry")
FEEDBACK_KEPT = 10


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
    """The ticket, then its timeline and audit trail, all read consistently and in that order:
    everything the ticket reflects was committed with it, so the timeline shows it (and
    perhaps a message newer than the ticket), never a ticket ahead of its own messages."""
    ticket = _visible(who, ticket_id)
    messages = list(Message.query(ticket.id, consistent_read=True))
    events = list(TicketEvent.query(ticket.id, consistent_read=True))
    return {**presenters.ticket_with_timeline(ticket, messages, scoring.history(ticket.id, events, messages)),
            "events": audit.trail(ticket, events), "customer": presenters.customer(Customer.get(ticket.customer_id))}


def canned_responses(who: Actor, ticket_id: str) -> dict[str, Any]:
    """The canned responses that fit this ticket best, filled from it (for those who may see it)."""
    return canned.suggestions(_visible(who, ticket_id))


def for_contact(who: Actor, raw_contact: str) -> dict[str, Any]:
    """A customer's tickets found by any of their contact identities, newest first."""
    if len(raw_contact) > contacts.MAX_LENGTH:  # no identity is that long, and DynamoDB refuses long keys
        raise BadRequest(f"contact: longer than {contacts.MAX_LENGTH} characters")
    try:
        contact = contacts.parse(raw_contact)
    except contacts.InvalidContact as exc:
        raise BadRequest(f"contact: {exc}") from None
    customer_id = customers.find(contact)
    if customer_id is None:
        return presenters.page([], None)
    found = tickets_by_id([k.id for k in Ticket.customer_tickets.query(customer_id, scan_index_forward=False,
                                                                       limit=100)])
    return presenters.page([presenters.ticket(t) for t in found if who.may_see(t)], None)


def _change(who: Actor, ticket_id: str, change: Callable[[Ticket], list]) -> Ticket:
    """Apply ``change`` to a fresh read and write the ticket with the writes it returns
    (``storage.writes`` Put / New / Update: messages, intents, audit entries, agent loads) in one
    transaction. A concurrent change (version or capacity condition) is retried from a new read.
    A ticket whose assignee was deleted since (their load update cancelled the transaction) is
    unassigned, back in its queue, before it is changed again."""
    for attempt in range(ATTEMPTS):
        ticket = _visible(who, ticket_id)
        ticket.updated_at = clock.now()
        if attempt and ticket.assignee and agents.find(ticket.assignee) is None:
            routing.requeue(ticket, ticket.updated_at)
        others = _one_outbox_item(change(ticket))
        sweep.arm(ticket, ticket.updated_at)
        try:
            with transaction() as tx:
                tx.save(ticket)
                for write in others:
                    write.into(tx)
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                continue
            raise
        return ticket
    raise Conflict("the ticket kept changing, or the agent is at capacity; try again")


def _one_outbox_item(writes: list) -> list:
    """The change's outbox intents as one item (``outbox.bundle``)."""
    def is_intent(write) -> bool:
        return isinstance(write, Put) and isinstance(write.item, Outbox)
    return [w for w in writes if not is_intent(w)] + [New(item) for item in outbox.bundle(
        [w.item for w in writes if is_intent(w)])]


def _freed(ticket: Ticket) -> list:
    """The load a held ticket stops weighing on its assignee (one waiting on the customer weighs nothing)."""
    return [agents.load_of(ticket.assignee, ticket.channel, -1)] if ticket.assignee and ticket.status == "assigned" \
        else []


def _must_be_open(ticket: Ticket) -> None:
    """A resolved ticket is done: the customer's next message reopens it (within the reopen window)."""
    if ticket.status == "resolved":
        raise Conflict("ticket is resolved; the customer's next message reopens it")


def _must_hold(who: Actor, ticket: Ticket) -> None:
    if ticket.assignee != who.id and not who.is_supervisor:
        raise Forbidden("only the assignee or a supervisor can do this")


def _unassign(ticket: Ticket, queue: Optional[str] = None) -> None:
    """Back to a queue: its own (its wait starts again), or another one a person chose (pinned there)."""
    if queue and queue != ticket.queue:
        routing.enqueue(ticket, queue, ticket.updated_at, None, pinned=True)
    else:
        routing.requeue(ticket, ticket.updated_at)


def reply(who: Actor, ticket_id: str, text: Optional[str], status: str = "pending",
          canned_response_id: Optional[str] = None) -> dict[str, Any]:
    """Write the reply and its send intent atomically; whoever answers an unassigned ticket takes it.
    The ticket then waits on the customer (``pending``, off the agent's capacity) unless the agent
    keeps it ``assigned`` because there is more to do. With ``canned_response_id`` the text is that
    canned response, filled from the ticket, and the audit entry names it."""
    written: list[Message] = []
    if canned_response_id:
        text = canned.filled(_visible(who, ticket_id), canned_response_id)

    def change(ticket: Ticket) -> list:
        if ticket.assignee and ticket.assignee != who.id and not who.is_supervisor:
            raise Forbidden(f"ticket is assigned to {ticket.assignee}")
        _must_be_open(ticket)
        affinity.check_reserved(who, ticket)
        if not who.speaks(ticket.language) and not who.is_supervisor:
            raise Forbidden("ticket is in a language you do not handle")
        from_bot = bot.taken_by_person(ticket)
        message = Message(ticket.id, clock.new_id(), direction="outbound",
                          channel=ticket.reply_to.get("channel", ticket.channel), text=text,
                          created_at=ticket.updated_at, author=who.id, delivery_status="pending")
        held = ticket.status == "assigned"
        if not ticket.assignee:
            # whoever answers an unassigned ticket takes it (a supervisor too: a ticket waiting on the
            # customer with nobody holding it would be in no queue), with room for it, as a claim needs
            if not who.is_supervisor and not who.has_room(ticket.channel):
                raise Conflict(f"you are at capacity on {ticket.channel}")
            ticket.assignee = who.id
        routing.take_off_queue(ticket)
        ticket.status = status
        if ticket.assignee == who.id or status == "pending":
            # replying accepts the claim; someone else's reply accepts it only by leaving the ticket
            # waiting on the customer (a lease there would send it back to the queue, its load freed twice)
            ticket.lease_expires_at = None
        load = _load_change(who, ticket, held, ticket.status == "assigned")
        ticket.first_response_at = ticket.first_response_at or ticket.updated_at
        written[:] = [message]
        own = [affinity.remember(ticket.customer_id, who.id, ticket.updated_at)] if ticket.assignee == who.id else []
        return load + from_bot + own + [
            New(message),
            New(outbox.customer_message(ticket, message)),
            New(outbox.integrator_event(ticket, "ticket.replied", {"message_id": message.id})),
            New(audit.entry(ticket.id, f"agent:{who.id}", "replied", ticket.reply_to.get("channel"),
                            canned_response=canned_response_id)),
        ]

    _change(who, ticket_id, change)
    return presenters.message(written[0])


def _load_change(who: Actor, ticket: Ticket, held_before: bool, held_after: bool) -> list:
    """The assignee's load follows whether the ticket weighs on them (assigned) or not (pending)."""
    if held_before == held_after or not ticket.assignee:
        return []
    if held_after:   # within the assignee's capacity, whoever replies
        holder = who if ticket.assignee == who.id else agents.find(ticket.assignee)
        if holder is None:   # deleted since: this update cancels the transaction, and _change unassigns it
            return [agents.load_of(ticket.assignee, ticket.channel, +1)]
        return [agents.taking(holder, ticket.channel)]
    return [agents.load_of(ticket.assignee, ticket.channel, -1)]


def accept(who: Actor, ticket_id: str) -> dict[str, Any]:
    def change(ticket: Ticket) -> list:
        if ticket.assignee and ticket.assignee != who.id:
            raise Forbidden("another agent holds this ticket")
        if ticket.assignee != who.id:
            raise Conflict("claim the ticket first; nobody holds it")
        _must_be_open(ticket)
        ticket.lease_expires_at = None
        return [New(audit.entry(ticket.id, f"agent:{who.id}", "accepted"))]
    return presenters.ticket(_change(who, ticket_id, change))


def release(who: Actor, ticket_id: str) -> dict[str, Any]:
    def change(ticket: Ticket) -> list:
        _must_hold(who, ticket)
        _must_be_open(ticket)
        freed = _freed(ticket) + bot.taken_by_person(ticket)   # a supervisor moving the bot's ticket to people
        _unassign(ticket)
        return freed + [New(outbox.agent_alert(ticket, "released")),
                        New(audit.entry(ticket.id, f"agent:{who.id}", "released", queue=ticket.queue))]
    return presenters.ticket(_change(who, ticket_id, change))


def transfer(who: Actor, ticket_id: str, queue: Optional[str], agent: Optional[str]) -> dict[str, Any]:
    """To a queue (unassigned, queued there) or to an agent (assigned, lease to accept)."""
    if agent:
        try:
            target = Agent.get(agent)
        except Agent.DoesNotExist:
            raise NotFound(f"no agent {agent}") from None
    if queue:
        agents.must_exist(queue)

    def change(ticket: Ticket) -> list:
        if ticket.assignee:
            _must_hold(who, ticket)
        _must_be_open(ticket)
        affinity.check_reserved(who, ticket)
        if agent and agent == ticket.assignee and ticket.status == "assigned":
            raise Conflict(f"{agent} already holds this ticket")
        if agent == who.id and not who.speaks(ticket.language) and not who.is_supervisor:
            raise Forbidden("ticket is in a language you do not handle")
        if queue and not who.may_work(queue) and not who.is_supervisor and ticket.assignee != who.id:
            raise Forbidden(f"not a member of queue {queue!r}")
        moves = _freed(ticket) + bot.taken_by_person(ticket)
        _unassign(ticket, queue)
        if agent:
            if target.role != "supervisor" and ticket.queue not in (target.queues or []):
                raise Conflict(f"{agent} does not work queue {ticket.queue!r}")
            ticket.assignee, ticket.status = agent, "assigned"
            if agent != who.id:  # theirs to accept, as a claim is: back in its queue if they do not in time
                ticket.lease_expires_at = ticket.updated_at + timedelta(seconds=get_settings().lease_seconds)
            routing.take_off_queue(ticket)
            moves.append(agents.taking(target, ticket.channel))
            moves.append(New(outbox.integrator_event(ticket, "ticket.assigned")))
        return moves + [New(outbox.agent_alert(ticket, f"transferred by {who.id}")),
                        New(audit.entry(ticket.id, f"agent:{who.id}", "transferred", queue=ticket.queue, agent=agent))]
    return presenters.ticket(_change(who, ticket_id, change))


def resolve(who: Actor, ticket_id: str) -> dict[str, Any]:
    """Closed, out of every queue; the customer's next message threads here only within the reopen window."""
    def change(ticket: Ticket) -> list:
        if ticket.assignee:
            _must_hold(who, ticket)
        if ticket.status == "resolved":
            raise Conflict("already resolved")
        affinity.check_reserved(who, ticket)
        freed = _freed(ticket) + bot.taken_by_person(ticket)
        ticket.status, ticket.resolved_at, ticket.resolved_by = "resolved", ticket.updated_at, who.id
        ticket.state_key = rules.state_key("resolved", ticket.id)
        ticket.lease_expires_at = None
        routing.take_off_queue(ticket)
        customer = Customer.get(ticket.customer_id, consistent_read=True)
        if customer.open_ticket_id == ticket.id:
            customer.open_ticket_id, customer.last_ticket_id = None, ticket.id
        affinity.remembered(customer, ticket.assignee or who.id, ticket.updated_at)  # their agent for a while
        return freed + [Put(customer), New(outbox.integrator_event(ticket, "ticket.resolved")),
                        New(audit.entry(ticket.id, f"agent:{who.id}", "resolved"))]
    return presenters.ticket(_change(who, ticket_id, change))


def feedback(who: Actor, ticket_id: str, emotion: str, note: Optional[str]) -> dict[str, Any]:
    """Live JET: the agent's reading of the customer moves mood and the score at once."""
    def change(ticket: Ticket) -> list:
        _must_be_open(ticket)   # a resolved ticket is scored no more (its next message reopens it)
        entry = {"at": clock.iso(ticket.updated_at), "agent": who.id, "emotion": emotion}
        if note:
            entry["note"] = note[:500]
        ticket.agent_feedback = (list(ticket.agent_feedback or []) + [entry])[-FEEDBACK_KEPT:]
        before = routing.placement(ticket)
        result = scoring.rescore(ticket, Customer.get(ticket.customer_id), f"agent feedback: {emotion}")
        turn = bot.risen(ticket, result, ticket.updated_at)   # risen beyond the bot: to people now
        page = routing.page_for(ticket, before)
        alert = [outbox.agent_alert(ticket, "P1 after agent feedback", page=page)] if page and not turn.handed_over \
            else []
        return [New(audit.entry(ticket.id, f"agent:{who.id}", "feedback", emotion=emotion, jet=ticket.score_change)),
                New(outbox.integrator_event(ticket, "jet.changed"))] + [New(w) for w in turn.writes + alert] + \
            list(turn.updates)
    return presenters.ticket(_change(who, ticket_id, change))


def customer_view(who: Actor, customer_id: str) -> dict[str, Any]:
    """A customer's status across channels: contacts, profile, journey and the tickets you may see."""
    try:
        customer = Customer.get(customer_id)
    except Customer.DoesNotExist:
        raise NotFound(f"no customer {customer_id}") from None
    found = tickets_by_id([k.id for k in Ticket.customer_tickets.query(customer_id, scan_index_forward=False,
                                                                       limit=50)])
    visible = [t for t in found if who.may_see(t)]
    if not visible and not who.is_supervisor:
        raise Forbidden("none of this customer's tickets is in your queues")
    return {**presenters.customer(customer), "tickets": [presenters.ticket(t) for t in visible]}

"""The customer's own agent (known-agent targeting, as TaskRouter's known worker).

Whoever last handled a customer's case (resolved it, or replied while holding it) is remembered on
the customer. A new or reopened ticket of theirs within ``known_agent_days`` is offered first to
that agent, when they are on duty, work the ticket's queue, speak its language and have room on its
channel: it waits in their personal slot of the queue-rank index (``agent:<id>``, which only they
reach, as the queue ``mine``) for ``known_agent_offer_seconds``. Unclaimed by then, the sweep moves
it to its queue. Otherwise it goes to its queue at once. An agent going off duty keeps their offers
until those lapse (at most the offer time): the sweep moves them on.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from .. import clock, config
from ..domain import canned
from ..domain import tickets as rules
from ..errors import Forbidden
from ..settings import get_settings
from ..storage.models import Agent, Customer, Ticket
from ..storage.writes import Update
from . import agents, audit, routing
from .agents import Actor


def remember(customer_id: str, agent_id: str, at: datetime) -> Update:
    """A transaction update of the customer: this agent handled their case now. It moves the
    customer's version on, so a concurrent versioned save of the customer retries from a fresh read."""
    return Update(Customer(customer_id), [Customer.last_agent.set(agent_id), Customer.last_agent_at.set(at)],
                  Customer.id.exists())


def remembered(customer: Customer, agent_id: str, at: datetime) -> None:
    """The same, on a customer read for a versioned save."""
    customer.last_agent, customer.last_agent_at = agent_id, at


def known_agent(customer: Customer, now: datetime) -> Optional[str]:
    """The agent who handled this customer within the window, if any."""
    if not customer.last_agent or not customer.last_agent_at:
        return None
    return customer.last_agent if now - customer.last_agent_at <= timedelta(days=get_settings().known_agent_days) \
        else None


def eligible(agent: Agent, ticket: Ticket) -> bool:
    """On duty, in the ticket's queue, speaking its language, with room on its channel."""
    who = agents.actor_of(agent)
    return bool(agent.on_duty) and who.may_work(ticket.queue) and who.speaks(ticket.language) \
        and who.has_room(ticket.channel)


def offer(ticket: Ticket, customer: Customer, now: datetime) -> Optional[Agent]:
    """After scoring a new or reopened ticket: into its known agent's personal slot when they can take
    it (the agent, whose name the acknowledgement gives), else it stays in its queue (None)."""
    agent_id = known_agent(customer, now) if routing.is_queued(ticket) else None
    agent = agents.find(agent_id) if agent_id else None
    if agent is None or not eligible(agent, ticket):
        return None
    ticket.offered_to = agent.id
    ticket.offer_expires_at = now + timedelta(seconds=get_settings().known_agent_offer_seconds)
    routing.rerank(ticket)
    return agent


def announced(ticket: Ticket, agent: Optional[Agent]) -> list:
    """The audit entry of an offer (none without one)."""
    if agent is None:
        return []
    return [audit.entry(ticket.id, "system", "offered", agent=agent.id, queue=ticket.queue,
                        until=clock.iso(ticket.offer_expires_at))]


def display_name(agent: Agent) -> str:
    """How customers know the agent: their first name (never their email or phone)."""
    return canned.clean((agent.name or agent.id).split()[0]) or "An agent"


def acknowledgement(ticket: Ticket, agent: Optional[Agent]) -> str:
    if agent is None:
        return config.message("acknowledgement", ticket.language, ref=ticket.ref)
    return config.message("acknowledgement_agent", ticket.language, ref=ticket.ref, agent=display_name(agent))


def lapsed(ticket: Ticket, now: datetime) -> bool:
    return bool(ticket.offered_to) and routing.is_queued(ticket) and ticket.offer_expires_at is not None \
        and ticket.offer_expires_at <= now


def withdraw(ticket: Ticket) -> str:
    """The offer ends: the ticket takes its place in its own queue (its wait counts from when it came)."""
    agent = ticket.offered_to
    ticket.offered_to = ticket.offer_expires_at = None
    routing.rerank(ticket)
    return agent


def slot(who: Actor, queue: str) -> str:
    """The queue-rank partition an agent reads for ``queue``: ``mine`` is their personal slot; nobody
    names anyone's slot directly, and other queues need membership."""
    if queue == rules.MINE:
        return rules.personal_slot(who.id)
    if queue.startswith(rules.PERSONAL):
        raise Forbidden("a personal slot is reached only by its agent, as the queue 'mine'")
    agents.require_queue(who, queue)
    return queue


def check_reserved(who: Actor, ticket: Ticket) -> None:
    """Another agent may not take a ticket offered to someone else by replying to it (supervisors may)."""
    if ticket.offered_to and not ticket.assignee and ticket.offered_to != who.id and not who.is_supervisor:
        raise Forbidden(f"this ticket is offered to {ticket.offered_to} for now; it reaches the queue soon")

"""The bot's first answers, and the handover to people.

Called inside the threading of a customer message (and by the sweep and the event path
when a score changes): it decides, then returns what to write in the same transaction as
the ticket — its answer (a message by ``bot`` with its send intent), the handover notice, or
the close — and the ADD updates of the deflection counters. It reads nothing itself beyond
the packaged knowledge base.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from .. import clock
from ..domain import bot as rules
from ..domain import jet
from ..domain import tickets as ticket_rules
from ..settings import get_settings
from ..storage.models import Customer, Message, Ticket
from . import audit, deflection, jetconfig, outbox, routing, scoring

log = logging.getLogger(__name__)
CHANNELS = ("sms", "whatsapp", "chat", "email", "messenger", "instagram", "x", "telegram")
PACKAGED = Path(__file__).resolve().parents[1] / "config" / "knowledge.json"
SCHEMA = Path(__file__).resolve().parents[1] / "config" / "knowledge.schema.json"


@dataclass
class Turn:
    """What one message or clock tick made the bot do, for the caller's transaction."""
    writes: list = field(default_factory=list)    # new items: messages, outbox intents, ticket events
    updates: list = field(default_factory=list)   # writes.Update: counters
    held: bool = False           # the bot has the ticket after this: no acknowledgement, no agent alert
    handed_over: bool = False    # people have it now (the handover alert is in ``writes``)
    customer_changed: bool = False


# ---- the knowledge base -----------------------------------------------------

def check(kb: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema first, then what it cannot say; raises InvalidKnowledge with every problem."""
    from jsonschema import Draft202012Validator

    errors = [{"path": "/" + "/".join(map(str, e.absolute_path)), "message": e.message}
              for e in Draft202012Validator(_schema()).iter_errors(kb)]
    errors = errors or rules.problems(kb)
    if errors:
        raise rules.InvalidKnowledge(errors)
    return kb


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    return check(json.loads(Path(path).read_text()))


def knowledge() -> dict[str, Any]:
    """The knowledge base in force, validated on first use in this container."""
    return _load(get_settings().bot_knowledge or str(PACKAGED))


def intents() -> list[str]:
    return list(knowledge()["intents"])


# ---- a customer message -------------------------------------------------------

def on_message(ticket: Ticket, customer: Customer, text: str, channel: str, is_new: bool, result: jet.Score,
               now: datetime) -> Turn:
    """A customer message (on ``channel``) on a new ticket, or on one the bot holds, after it was scored."""
    if getattr(ticket, "reopened", False) and ticket.resolved_by == "bot":
        return _reopened(ticket)
    held = ticket.status == "bot"
    if not (is_new or held):
        return Turn()
    answered_on = (ticket.reply_to or {}).get("channel")   # a voicemail is answered by SMS: not the bot's
    if not get_settings().bot_enabled or channel not in CHANNELS or answered_on not in CHANNELS:
        return _hand_over(ticket, result, "the bot does not answer here", now) if held else Turn()
    kb, ctx = knowledge(), scoring.context(ticket, result)
    if is_new:
        intent = rules.first_turn(text, ctx, kb)
        return _answer(ticket, customer, intent, None, now, first=True) if intent else Turn()
    decision = rules.next_turn(text, ctx, ticket.bot or {}, kb)
    if decision.action == "answer":
        return _answer(ticket, customer, decision.intent, decision.booking_ref, now, first=False)
    if decision.action == "close":
        return _close(ticket, customer, decision.reason, now, farewell=True)
    return _hand_over(ticket, result, decision.reason, now)


def on_rescore(ticket: Ticket, customer: Customer, result: jet.Score, now: datetime) -> Turn:
    """After a score changed without a message (a journey event, time passing): a ticket the bot
    holds goes to people if it rose to P1/P2, or is closed once the customer has been quiet."""
    turn = risen(ticket, result, now)
    if not turn.held:
        return turn
    quiet_until = routing.clocks(ticket).bot_quiet_until
    if quiet_until and quiet_until <= now:
        return _close(ticket, customer, "the customer was quiet after the answer", now, farewell=False)
    return Turn(held=True)


def risen(ticket: Ticket, result: jet.Score, now: datetime) -> Turn:
    """After a re-score (an agent's feedback, or the steps above): a ticket the bot holds goes to
    people at once if it rose to what only people answer, or the bot was turned off."""
    if ticket.status != "bot":
        return Turn()
    if not get_settings().bot_enabled:
        return _hand_over(ticket, result, "the bot was turned off", now)
    why = rules.people_only(scoring.context(ticket, result), knowledge())
    if why:
        return _hand_over(ticket, result, f"rose to {why}", now)
    return Turn(held=True)


def taken_by_person(ticket: Ticket) -> list:
    """An agent acts on a ticket the bot holds (replies, transfers, resolves): counted as handed over."""
    if ticket.status != "bot" or not ticket.bot:
        return []
    ticket.bot = {**ticket.bot, "outcome": "handed_over", "reason": "a person took it", "quiet_until": None}
    return [deflection.count(ticket.bot, handed_over=1)]


def _answer(ticket: Ticket, customer: Customer, intent: str, typed_ref: Optional[str], now: datetime,
            first: bool) -> Turn:
    kb, state = knowledge(), dict(ticket.bot or {})
    typed_ref = typed_ref or state.get("booking_ref")
    values = rules.values_for(ticket.ref, customer.profile or {}, customer.journey or {}, typed_ref,
                              ticket.language, now, kb)
    said = rules.answer(intent, ticket.language, values, kb)
    state.update(intent=state.get("intent") or intent, last_intent=intent,
                 day=state.get("day") or now.date().isoformat(), answers=int(state.get("answers", 0)) + 1,
                 awaiting=said.asks, outcome="answering",
                 quiet_until=clock.iso(now + timedelta(minutes=kb["quiet_minutes"])))
    if typed_ref:
        state["booking_ref"] = rules.plain(typed_ref)
    ticket.bot, ticket.status = state, "bot"
    routing.take_off_queue(ticket)
    message = _message(ticket, said.text, now)
    counted = deflection.count(state, answered=1 if first else 0, turns=1)
    return Turn([message, outbox.customer_message(ticket, message),
                 audit.entry(ticket.id, "bot", "answered", message.channel, intent=intent, asks=said.asks)],
                [counted], held=True)


def _hand_over(ticket: Ticket, result: jet.Score, reason: str, now: datetime) -> Turn:
    """To the queue its score routes it to, with the exchange in its timeline; the customer is told."""
    kb, state = knowledge(), dict(ticket.bot or {})
    state.update(outcome="handed_over", reason=reason, handed_over_at=clock.iso(now), awaiting=None,
                 quiet_until=None)
    ticket.bot, ticket.status, ticket.updated_at = state, "open", now
    scoring.place(ticket, result, jetconfig.current(), now)
    message = _message(ticket, rules.text("handover", ticket.language, {"ref": ticket.ref}, kb), now)
    log.info("bot handed over", extra={"ticket": ticket.id, "reason": reason, "queue": ticket.queue})
    return Turn([message, outbox.customer_message(ticket, message),
                 outbox.agent_alert(ticket, f"handed over by the bot: {reason}",
                                    page=routing.page_for(ticket, routing.NOWHERE, moved=True)),
                 audit.entry(ticket.id, "bot", "handed over", queue=ticket.queue, reason=reason,
                             bot_answers=state.get("answers"))],
                [deflection.count(state, handed_over=1)], handed_over=True)


def _close(ticket: Ticket, customer: Customer, reason: str, now: datetime, farewell: bool) -> Turn:
    """Resolved by the bot: the customer's next message reopens it within the reopen window, as any ticket."""
    kb, state = knowledge(), dict(ticket.bot or {})
    state.update(outcome="closed", reason=reason, awaiting=None, quiet_until=None)
    ticket.bot, ticket.status, ticket.resolved_at, ticket.resolved_by = state, "resolved", now, "bot"
    ticket.state_key = ticket_rules.state_key("resolved", ticket.id)
    ticket.queue_slot = ticket.rank = None
    ticket.updated_at = now
    if customer.open_ticket_id == ticket.id:
        customer.open_ticket_id, customer.last_ticket_id = None, ticket.id
    writes = [outbox.integrator_event(ticket, "ticket.resolved", {"resolved_by": "bot"}),
              audit.entry(ticket.id, "bot", "resolved", reason=reason)]
    if farewell:
        message = _message(ticket, rules.text("closing", ticket.language, {"ref": ticket.ref}, kb), now)
        writes += [message, outbox.customer_message(ticket, message)]
    return Turn(writes, [deflection.count(state, closed=1)], customer_changed=True)


def _reopened(ticket: Ticket) -> Turn:
    """A ticket the bot closed, reopened by the customer: people take it, and it no longer counts as
    deflected."""
    state = {**(ticket.bot or {}), "outcome": "reopened"}
    ticket.bot, ticket.resolved_by = state, None
    return Turn(updates=[deflection.count(state, reopened=1)])


def _message(ticket: Ticket, text: str, now: datetime) -> Message:
    return Message(ticket.id, clock.new_id(), direction="outbound",
                   channel=(ticket.reply_to or {}).get("channel", ticket.channel), text=text, created_at=now,
                   author="bot", delivery_status="pending", language=ticket.language)

"""Putting a JET score on a ticket: facts in, score, queue rank and the history entry out.

The ticket carries only its current score and explanation. Each re-score's history entry
(``ticket.score_change``) is written by the caller with the change that caused it: in that
change's audit entry (``detail.jet``, ticket-events table) or, for a customer's message that
writes no audit entry, on the message itself (``Message.rescored``). ``history`` reads them back.
"""
from __future__ import annotations

from datetime import datetime

from .. import clock
from ..domain import jet
from ..domain import tickets as rules
from ..domain.conditions import Context
from ..storage.models import Customer, Message, Ticket, TicketEvent
from . import jetconfig, routing

WORTH_RECORDING = 5.0   # points: a re-score by the clock alone is history only when it moves this much (or the tier)


def facts(ticket: Ticket, customer: Customer, now: datetime) -> jet.Facts:
    return jet.Facts(
        now=now, created_at=ticket.created_at, texts=tuple(ticket.recent_texts or ()),
        language=ticket.language or customer.language, profile=customer.profile or {},
        journey=customer.journey or {}, inbound_count=int(ticket.inbound_count or 1),
        channels_used=len(ticket.channels_used or ()) or 1,
        agent_emotions=tuple(e["emotion"] for e in ticket.agent_feedback or ()),
        ratings=tuple((customer.profile or {}).get("ratings", ())),
        channel=ticket.channel, bot_answers=int((ticket.bot or {}).get("answers", 0)),
    )


def rescore(ticket: Ticket, customer: Customer, cause: str, now: datetime | None = None) -> jet.Score:
    """Score the ticket, keep the explanation, re-route and re-rank it if queued; the history
    entry is left in ``ticket.score_change`` for the caller's write."""
    now, config = now or clock.now(), jetconfig.current()
    result = jet.score(facts(ticket, customer, now), config)
    before = (ticket.jet or {}).get("score")
    ticket.jet = stored(result)
    ticket.intent = result.intent
    ticket.score_change = {"at": clock.iso(now), "from": before, "score": round(result.score, 1),
                           "tier": result.tier, "cause": cause, "config_version": config.get("version")}
    period = ticket.reopened_at or ticket.created_at   # a reopened ticket's targets run from its reopening
    if not ticket.first_response_at and not ticket.sla_breached_at:
        ticket.sla_due_at = rules.sla_due(period, result.tier, config)
    if not ticket.resolution_breached_at:
        ticket.resolution_due_at = rules.resolution_due(period, result.tier, config)
    place(ticket, result, config, now)
    return result


def context(ticket: Ticket, result: jet.Score) -> Context:
    return Context(intent=result.intent, tier=result.tier, channel=ticket.channel, language=ticket.language,
                   indicators={i.key: i for i in result.indicators})


def place(ticket: Ticket, result: jet.Score, config: dict, now: datetime) -> None:
    """In the queue its score routes it to while it waits for an agent; in none otherwise."""
    if routing.is_queued(ticket):
        routing.route(ticket, context(ticket, result), config["routes"], now)
    else:
        routing.take_off_queue(ticket)
def stored(result: jet.Score) -> dict:
    """The explanation as the ticket keeps it: without what is derived (each indicator's level,
    ``presenters.jet_banner`` adds it back) or kept beside it (the intent)."""
    kept = result.to_dict()
    kept.pop("intent", None)
    kept["indicators"] = [{k: v for k, v in i.items() if k != "level"} for i in kept["indicators"]]
    return kept


def worth_recording(change: dict, tier_before: str | None) -> bool:
    """Whether a re-score nothing but time caused belongs in the history."""
    return change["tier"] != tier_before or change["from"] is None or \
        abs(change["score"] - change["from"]) >= WORTH_RECORDING


def history(ticket_id: str, events=None, messages=None) -> list[dict]:
    """Every recorded re-score of a ticket, oldest first: from its audit entries and its messages
    (give them when already read; otherwise both are queried)."""
    events = TicketEvent.query(ticket_id) if events is None else events
    messages = Message.query(ticket_id) if messages is None else messages
    entries = [e.detail["jet"] for e in events if e.detail and "jet" in e.detail] + \
        [m.rescored for m in messages if m.rescored]
    return sorted(entries, key=lambda e: e["at"])

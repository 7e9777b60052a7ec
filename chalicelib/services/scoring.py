"""Putting a JET score on a ticket: facts in, score, queue rank and history out."""
from __future__ import annotations

from datetime import datetime

from .. import clock
from ..domain import jet
from ..domain import tickets as rules
from ..domain.conditions import Context
from ..storage.models import Customer, Ticket
from . import jetconfig, routing

HISTORY_KEPT = 20


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
    """Score the ticket, keep the explanation and history, re-route and re-rank it if queued."""
    now, config = now or clock.now(), jetconfig.current()
    result = jet.score(facts(ticket, customer, now), config)
    before = (ticket.jet or {}).get("score")
    ticket.jet = result.to_dict()
    ticket.intent = result.intent
    entry = {"at": clock.iso(now), "from": before, "score": round(result.score, 1), "tier": result.tier,
             "cause": cause, "config_version": config.get("version")}
    ticket.history = (list(ticket.history or []) + [entry])[-HISTORY_KEPT:]
    if not ticket.first_response_at and not ticket.sla_breached_at:
        ticket.sla_due_at = rules.sla_due(ticket.created_at, result.tier, config)
    if not ticket.resolution_breached_at:
        ticket.resolution_due_at = rules.resolution_due(ticket.created_at, result.tier, config)
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

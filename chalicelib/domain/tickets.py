"""Ticket facts that need no storage: references, queue ranks, states, routing."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Optional

OPEN_STATES = ("open", "assigned", "pending")
DISRUPTION_INTENTS = ("cancellation", "missed_connection", "delay")

# Ordered routing rules; the first match wins, the last is the default.
DEFAULT_ROUTES: tuple[dict[str, Any], ...] = (
    {"when": {"intent": DISRUPTION_INTENTS}, "queue": "disruption"},
    {"when": {"disruption_at_least": 0.6}, "queue": "disruption"},
    {"when": {}, "queue": "general"},
)


# First-response targets per JET tier.
SLA_FIRST_RESPONSE = {"P1": timedelta(minutes=15), "P2": timedelta(hours=1),
                      "P3": timedelta(hours=4), "P4": timedelta(hours=24)}


def sla_due(created_at: datetime, tier: str) -> datetime:
    return created_at + SLA_FIRST_RESPONSE[tier]


REF_PATTERN = re.compile(r"\bJD-([0-9A-HJKMNP-TV-Z]{8})\b", re.IGNORECASE)

# Twilio's standard opt-out keywords; the whole message must be the keyword.
OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET", "ARRÊT"}
OPT_IN = {"START", "YES", "UNSTOP"}
HELP = {"HELP", "INFO", "AIDE"}


def find_ref(text: str | None) -> str | None:
    """A JetDesk ref (``JD-XXXXXXXX``) quoted in a subject or message, upper-cased."""
    found = REF_PATTERN.search(text or "")
    return f"JD-{found.group(1).upper()}" if found else None


def keyword(text: str) -> str | None:
    """'opt_out', 'opt_in' or 'help' when the whole message is such a keyword."""
    word = text.strip().strip(".!").upper()
    return "opt_out" if word in OPT_OUT else "opt_in" if word in OPT_IN else "help" if word in HELP else None


def ref_for(ticket_id: str) -> str:
    """Short human reference: the random tail of the ULID (40 bits)."""
    return "JD-" + ticket_id[-8:]


def rank_for(score: float, ticket_id: str, breached: bool = False) -> str:
    """Sort key of the queue index: SLA breaches first, then higher score, then older (smaller ULID)."""
    return f"{0 if breached else 1}{100000 - round(score * 1000):06d}#{ticket_id}"


def state_key(status: str, ticket_id: str) -> str:
    return f"{'open' if status in OPEN_STATES else 'closed'}#{ticket_id}"


def route(intent: str, indicators: dict[str, float],
          rules: tuple[dict[str, Any], ...] = DEFAULT_ROUTES) -> str:
    for rule in rules:
        when = rule["when"]
        if "intent" in when and intent not in when["intent"]:
            continue
        if "disruption_at_least" in when and indicators.get("disruption", 0) < when["disruption_at_least"]:
            continue
        return rule["queue"]
    raise ValueError("routing rules need a default rule")


def can_work(agent_role: str, agent_queues: list[str], queue: str,
             assignee: Optional[str] = None, agent_id: Optional[str] = None) -> bool:
    """Whether an agent may see and act on a ticket of this queue."""
    return agent_role == "supervisor" or queue in agent_queues or (assignee is not None and assignee == agent_id)

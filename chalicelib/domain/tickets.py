"""Ticket facts that need no storage: references, queue ranks, states, routing."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Optional

from .conditions import Context, matches

OPEN_STATES = ("open", "assigned", "pending", "bot")  # "bot": the bot answers it; in no agent queue

def sla_due(created_at: datetime, tier: str, config: dict[str, Any]) -> datetime:
    """First-response target of the tier, from the JET configuration."""
    return created_at + timedelta(minutes=config["sla_first_response_minutes"][tier])


def resolution_due(created_at: datetime, tier: str, config: dict[str, Any]) -> Optional[datetime]:
    """Resolution target of the tier, when the configuration sets one."""
    minutes = config.get("sla_resolution_minutes", {}).get(tier)
    return created_at + timedelta(minutes=minutes) if minutes else None


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


def score_from_rank(rank: str) -> float:
    """The JET score a queue rank was made from (to 3 decimals)."""
    return round((100000 - int(rank[1:7])) / 1000, 1)


def state_key(status: str, ticket_id: str) -> str:
    return f"{'open' if status in OPEN_STATES else 'closed'}#{ticket_id}"


def route(ctx: Context, routes: list[dict[str, Any]]) -> str:
    """The queue of the first matching rule (the configuration's last rule matches everything)."""
    return routing_rule(ctx, routes)["queue"]


def routing_rule(ctx: Context, routes: list[dict[str, Any]]) -> dict[str, Any]:
    """The first matching rule: its queue, and the ``escalate`` steps taken while nobody claims it."""
    for rule in routes:
        if matches(rule["when"], ctx):
            return rule
    raise ValueError("routing rules need a default rule")


PERSONAL = "agent:"   # queue-rank partitions of single agents: a follow-up offered to the customer's own agent
MINE = "mine"         # how an agent names their own personal slot


def personal_slot(agent_id: str) -> str:
    return PERSONAL + agent_id


def slot_agent(slot: str) -> Optional[str]:
    """The agent whose personal slot this is; None for a queue."""
    return slot[len(PERSONAL):] if slot.startswith(PERSONAL) else None


def can_work(agent_role: str, agent_queues: list[str], queue: str,
             assignee: Optional[str] = None, agent_id: Optional[str] = None) -> bool:
    """Whether an agent may see and act on a ticket of this queue."""
    return agent_role == "supervisor" or queue in agent_queues or (assignee is not None and assignee == agent_id)

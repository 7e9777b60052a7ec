"""The bot's deflection report: per intent, tickets it answered, handed over and closed.

Counters are kept, never computed from tickets: one item per intent and UTC day (the day the
bot first answered the ticket), with ADD updates written in the same transaction as the
ticket change they count. The report is one Query per intent of the knowledge base.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Mapping, Optional

from .. import clock
from ..errors import BadRequest
from ..storage.models import BotStat
from ..storage.writes import Update

COUNTS = ("answered", "handed_over", "closed", "reopened", "turns")
DEFAULT_DAYS = 30
MAX_DAYS = 366


def count(state: Mapping[str, Any], **adds: int) -> Update:
    """An UpdateItem for a transaction: ADD to the counters of the ticket's (first) intent and day."""
    item = BotStat(state["intent"], state["day"])
    return Update(item, [getattr(BotStat, name).add(n) for name, n in adds.items() if n])


def report(intents: list[str], start: Optional[str], end: Optional[str]) -> dict[str, Any]:
    first, last = _period(start, end)
    items, total = [], dict.fromkeys(COUNTS, 0)
    for intent in intents:
        row = dict.fromkeys(COUNTS, 0)
        for stat in BotStat.query(intent, BotStat.day.between(first.isoformat(), last.isoformat())):
            for name in COUNTS:
                row[name] += int(getattr(stat, name) or 0)
        items.append({"intent": intent, **_rates(row)})
        total = {name: total[name] + row[name] for name in COUNTS}
    return {"from": first.isoformat(), "to": last.isoformat(), "items": items, "total": _rates(total),
            "next": None}


def _rates(row: dict[str, int]) -> dict[str, Any]:
    """Deflected: closed by the bot without a handover and not reopened since."""
    deflected = max(0, row["closed"] - row["reopened"])
    return {**row, "deflected": deflected,
            "deflection_rate": round(deflected / row["answered"], 3) if row["answered"] else None}


def _period(start: Optional[str], end: Optional[str]) -> tuple[date, date]:
    try:
        last = date.fromisoformat(end) if end else clock.now().date()
        first = date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise BadRequest("from and to are days: YYYY-MM-DD", [{"from": start, "to": end}]) from None
    if first > last:
        raise BadRequest("from is after to")
    if (last - first).days >= MAX_DAYS:
        raise BadRequest(f"at most {MAX_DAYS} days at once")
    return first, last

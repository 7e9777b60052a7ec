"""When a ticket next needs the clock's attention: lease expiry, SLA breaches, escalation of an
unclaimed ticket, the end of an offer to the customer's own agent, or re-scoring as time passes.

Open tickets carry ``due_at`` in a sharded index; the sweep reads only what is due.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

SHARDS = 8
RESCORE_EVERY = timedelta(minutes=15)


@dataclass(frozen=True)
class Clocks:
    """The deadlines a ticket runs against (None where one does not apply)."""
    status: str
    lease_expires_at: Optional[datetime] = None
    first_response_due: Optional[datetime] = None    # until the first answer, unless already breached
    resolution_due: Optional[datetime] = None        # until resolved, unless already breached
    escalate_at: Optional[datetime] = None           # while unclaimed in a queue with steps left
    bot_quiet_until: Optional[datetime] = None       # the bot closes it if the customer stays quiet until then
    offer_expires_at: Optional[datetime] = None      # while offered to the customer's own agent


def shard(ticket_id: str) -> str:
    return f"t{zlib.crc32(ticket_id.encode()) % SHARDS}"


def next_due(now: datetime, clocks: Clocks) -> Optional[datetime]:
    if clocks.status == "resolved":
        return None
    due = [now + RESCORE_EVERY, clocks.lease_expires_at, clocks.first_response_due, clocks.resolution_due,
           clocks.escalate_at, clocks.bot_quiet_until, clocks.offer_expires_at]
    return min(d for d in due if d is not None)


def parse(value: Optional[str]) -> Optional[datetime]:
    """A time kept as ISO text in a JSON attribute, or an RFC 3339 time from an integrator (which
    may write its T and Z in lower case: fromisoformat takes neither)."""
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00")) if value else None


def instant(value: Any) -> Optional[datetime]:
    """An integrator's time as given (a journey's departure): aware (a time without an offset is
    UTC), or None when it is no time at all."""
    try:
        when = parse(str(value)) if value else None
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc) if when and when.tzinfo is None else when


def escalate_at(queued_at: Optional[datetime], steps: Optional[list]) -> Optional[datetime]:
    """When an unclaimed ticket moves on to the next queue of its routing rule."""
    if not queued_at or not steps:
        return None
    return queued_at + timedelta(minutes=steps[0]["after_minutes"])

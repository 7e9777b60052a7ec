"""When a ticket next needs the clock's attention: lease expiry, SLA breach, or re-scoring as time passes.

Open tickets carry ``due_at`` in a sharded index; the sweep reads only what is due.
"""
from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Optional

SHARDS = 8
RESCORE_EVERY = timedelta(minutes=15)


def shard(ticket_id: str) -> str:
    return f"t{zlib.crc32(ticket_id.encode()) % SHARDS}"


def next_due(now: datetime, status: str, lease_expires_at: Optional[datetime], sla_due_at: Optional[datetime],
             first_response_at: Optional[datetime], sla_breached_at: Optional[datetime]) -> Optional[datetime]:
    if status == "resolved":
        return None
    due = [now + RESCORE_EVERY]
    if lease_expires_at:
        due.append(lease_expires_at)
    if sla_due_at and not first_response_at and not sla_breached_at:
        due.append(sla_due_at)
    return min(due)

"""Time and identifiers, in one place so tests can reason about them."""
from __future__ import annotations

from datetime import datetime, timezone  # noqa: F401 - re-exported for callers building times

from ulid import ULID


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    """A ULID: unique, and sorts by creation time."""
    return str(ULID())


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def sortable(value: datetime) -> str:
    """Fixed-width UTC text that sorts as time (index range keys)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def id_time(ulid: str) -> datetime:
    """When a ULID was minted."""
    return ULID.from_str(ulid).datetime

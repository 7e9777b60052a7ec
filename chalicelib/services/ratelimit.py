"""Fixed-window rate limits for public customer endpoints: one conditional write per request."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from ..errors import TooManyRequests
from ..storage.models import RateCounter
from ..storage.writes import written


def hit(scope: str, limit: int, window_seconds: int, now: float | None = None) -> None:
    """Count one request for ``scope``; 429 with Retry-After once the window's limit is reached."""
    now = time.time() if now is None else now
    start = int(now // window_seconds * window_seconds)
    counter = RateCounter(f"{scope}#{start}")
    expires = datetime.fromtimestamp(start + 2 * window_seconds, timezone.utc)
    if not written(lambda: counter.update(actions=[RateCounter.count.add(1), RateCounter.expires_at.set(expires)],
                                          condition=RateCounter.count.does_not_exist() | (RateCounter.count < limit))):
        retry = max(1, int(start + window_seconds - now))
        raise TooManyRequests("too many requests; slow down", headers={"Retry-After": str(retry)}) from None

"""A webhook, from raw bytes to a stored message: verify, normalize, store; keep what we refuse."""
from __future__ import annotations

from typing import Any, Callable

from channels.base import RawRequest

from ..errors import ApiError, Unauthorized
from . import ingest


def receive(source: str, request: RawRequest, verify: Callable[[RawRequest], Any],
            normalize: Callable[[Any], Any]) -> bool:
    """True if newly stored, False for a redelivery. Refusals are kept, then re-raised."""
    try:
        verified = verify(request)
    except Unauthorized as exc:
        ingest.reject(source, exc.message, request.headers, request.body, replayable=False)
        raise
    try:
        message = normalize(verified)
    except ApiError as exc:
        ingest.reject(source, exc.message, request.headers, request.body, replayable=True)
        raise
    return ingest.store(message)

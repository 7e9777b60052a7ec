"""A webhook, from raw bytes to stored messages: verify, normalize, store; keep what we refuse.

Every source registers how to re-read its raw payload, so a refused-but-authentic
payload can be replayed after a fix (see services/replay.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from channels.base import RawRequest, Refused, StatusUpdate

from ..errors import ApiError, Unauthorized, Unprocessable
from ..settings import get_settings
from . import deliveries, ingest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    name: str                                  # e.g. "twilio/sms", also the dead-letter source
    verify: Callable[[RawRequest], Any]        # raises Unauthorized; returns the payload
    parse: Callable[[RawRequest], Any]         # the payload without verification (monitor-only, replay)
    normalize: Callable[[Any], list]           # payload → InboundMessage | IntegrationEvent | StatusUpdate
    channel: str = ""                          # the name JETDESK_MONITOR_ONLY uses


SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    SOURCES[source.name] = source
    return source


@dataclass
class Receipt:
    stored: int = 0
    duplicates: int = 0
    statuses: int = 0
    refused: list[str] = field(default_factory=list)   # why each unreadable part of a batch was refused
    payload: Any = None                        # the verified payload (TwiML answers depend on it)


def receive(source: Source, request: RawRequest) -> Receipt:
    """Refusals are kept in the dead-letter store with the reason, then re-raised as 4xx.

    Only what passed verification is kept replayable: a payload let in unverified by monitor-only
    mode may be forged, and a replay (after monitor-only is off) would store it as authentic."""
    payload, verified = _verified(source, request)
    try:
        items = source.normalize(payload)
        if items and all(isinstance(item, Refused) for item in items):
            raise Unprocessable("; ".join(item.reason for item in items)[:500])
    except ApiError as exc:
        _keep(source, request, exc.message, verified)
        raise
    receipt = store_all(items)
    if receipt.refused:  # the rest of the batch is stored: answered 2xx, so the provider sends it no more
        reason = f"{len(receipt.refused)} of {len(items)} parts refused, the others stored: "
        _keep(source, request, reason + "; ".join(receipt.refused), verified)
    receipt.payload = payload
    return receipt


def _verified(source: Source, request: RawRequest) -> tuple[Any, bool]:
    """The payload, and whether it passed verification (False: let in by monitor-only mode)."""
    try:
        return source.verify(request), True
    except Unauthorized as exc:
        if source.channel not in get_settings().monitor_only:
            _keep(source, request, exc.message, verified=False)
            raise
        log.warning("verification failed, accepted in monitor-only mode",
                    extra={"source": source.name, "reason": exc.message})
        return source.parse(request), False
    except ApiError as exc:     # authentic, but not even parseable (bad JSON, invalid UTF-8): kept too
        _keep(source, request, exc.message, verified=True)
        raise


def _keep(source: Source, request: RawRequest, reason: str, verified: bool) -> None:
    """What passed verification is replayable; what failed it (or was let in by monitor-only) is not."""
    ingest.reject(source.name, reason, request.headers, request.body, replayable=verified, query=request.query,
                  failed_verification=not verified)


def store_all(items: list) -> Receipt:
    receipt = Receipt()
    for item in items:
        if isinstance(item, Refused):
            receipt.refused.append(item.reason)
        elif isinstance(item, StatusUpdate):
            deliveries.apply(item)
            receipt.statuses += 1
        elif ingest.store(item):
            receipt.stored += 1
        else:
            receipt.duplicates += 1
    return receipt

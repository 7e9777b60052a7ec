"""Step one of the data path: a durable, idempotent write of what a provider delivered."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Mapping, Union

from pynamodb.exceptions import PutError

from .. import clock
from ..domain.inbound import InboundMessage, IntegrationEvent
from ..storage.models import DeadLetter, InboundMessage as InboundItem

KEEP_INBOUND = timedelta(days=90)
KEEP_REJECTED = timedelta(days=14)
MAX_KEPT_BODY = 64 * 1024
_DROPPED_HEADERS = {"authorization", "cookie", "x-api-key"}


def _conditional_failed(exc: PutError) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def store(message: Union[InboundMessage, IntegrationEvent]) -> bool:
    """Store once per dedup key; True if new, False if this delivery was already stored."""
    received = clock.now()
    item = InboundItem(
        message.dedup_key,
        kind="message" if isinstance(message, InboundMessage) else "event",
        channel=getattr(message, "channel", "api"),
        message_id=clock.new_id(),
        received_at=received,
        body=message.to_dict(),
        expires_at=received + KEEP_INBOUND,
    )
    try:
        item.save(condition=InboundItem.key.does_not_exist())
    except PutError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def reject(source: str, reason: str, headers: Mapping[str, str], body: bytes,
           replayable: bool) -> str:
    """Keep a payload we refused, with why, so it can be inspected and (if authentic) replayed."""
    created = clock.now()
    text = body[:MAX_KEPT_BODY].decode("utf-8", errors="replace")
    kept_headers = {k: v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}
    letter = DeadLetter(
        clock.new_id(), source=source, reason=reason[:500], created_at=created,
        payload={"headers": kept_headers, "body": text, "truncated": len(body) > MAX_KEPT_BODY,
                 "replayable": replayable},
        expires_at=created + KEEP_REJECTED,
    )
    letter.save()
    return letter.id


def dead_letter(source: str, reason: str, record: dict) -> str:
    """Keep an async record whose handler gave up, for replay."""
    created = clock.now()
    letter = DeadLetter(clock.new_id(), source=source, reason=reason[:500], created_at=created,
                        payload={"record": json.loads(json.dumps(record, default=str)),
                                 "replayable": True},
                        expires_at=created + KEEP_REJECTED)
    letter.save()
    return letter.id

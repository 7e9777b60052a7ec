"""Step one of the data path: a durable, idempotent write of what a provider delivered."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from datetime import timedelta
from typing import Mapping, Optional, Union

from .. import clock
from ..domain.inbound import Attachment, InboundMessage, IntegrationEvent
from ..settings import get_settings
from ..storage.models import DeadLetter
from ..storage.models import InboundMessage as InboundItem
from ..storage.writes import written
from . import providers

KEEP_INBOUND = timedelta(days=90)
KEEP_REJECTED = timedelta(days=14)
MAX_KEPT_BODY = 64 * 1024        # of a body, in the letter; a longer replayable one goes whole to S3 too
DEAD_LETTER_BODIES = "dead-letters/"
# A text longer than this is kept whole as an attachment and cut short in the items: DynamoDB
# refuses items over 400 KB, and the timeline and the threading read the text on every message.
MAX_STORED_TEXT = 32 * 1024
MAX_HEADER_TEXT = 998   # a subject or a sender's name: RFC 5322's line limit (the ticket keeps a subject twice)
FULL_TEXT = "full-message.txt"
# Credentials are not kept in a dead letter: whoever holds one can post as the provider. Telegram's
# secret_token (channels/telegram.SECRET_HEADER) is such a shared secret, sent as is on every update.
# Twilio's, Meta's, X's and the relay's signatures stay: each is an HMAC of that body only (it lets
# nobody sign another), shows what a failed verification was given, and a replay re-reads the payload
# without verifying it again (it was verified when it came: `replayable`).
_DROPPED_HEADERS = {"authorization", "cookie", "x-api-key", "x-telegram-bot-api-secret-token"}


def _shorten(message: InboundMessage) -> InboundMessage:
    """A text over MAX_STORED_TEXT: cut short with a note, the whole of it attached as a file; a
    subject or sender's name over MAX_HEADER_TEXT cut short (else the ticket could outgrow an item)."""
    headers = {name: value[:MAX_HEADER_TEXT] for name in ("subject", "sender_name")
               if len(value := getattr(message, name) or "") > MAX_HEADER_TEXT}
    message = dataclasses.replace(message, **headers) if headers else message
    if len(message.text) <= MAX_STORED_TEXT:
        return message
    whole = message.text.encode("utf-8")
    note = f"\n\n[cut short: the whole message ({len(whole)} bytes) is attached as {FULL_TEXT}]"
    return dataclasses.replace(
        message, text=message.text[:MAX_STORED_TEXT] + note,
        attachments=(*message.attachments, Attachment(FULL_TEXT, "text/plain; charset=utf-8", len(whole), whole)))


def _stash_attachments(message: InboundMessage) -> InboundMessage:
    """Put attachment bytes in S3 under keys derived from the dedup key (a redelivery overwrites itself)."""
    if not any(a.content is not None for a in message.attachments):
        return message
    folder = hashlib.sha256(message.dedup_key.encode()).hexdigest()[:32]
    bucket, kept = get_settings().attachments_bucket, []
    for i, attachment in enumerate(message.attachments):
        key = f"attachments/{folder}/{i}/{attachment.name or 'file'}"
        providers.s3().put_object(Bucket=bucket, Key=key, Body=attachment.content or b"",
                                  ContentType=attachment.content_type or "application/octet-stream")
        kept.append(dataclasses.replace(attachment, content=None, key=key))
    return dataclasses.replace(message, attachments=tuple(kept))


def store(message: Union[InboundMessage, IntegrationEvent]) -> bool:
    """Store once per dedup key; True if new, False if this delivery was already stored."""
    if isinstance(message, InboundMessage):
        message = _stash_attachments(_shorten(message))
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
    return written(lambda: item.save(condition=InboundItem.key.does_not_exist()))


def _letter(source: str, reason: str, payload: dict, letter_id: Optional[str] = None, once: bool = False) -> str:
    """``once``: ``letter_id`` is derived from what is kept, and a letter already under it stays as it is."""
    created = clock.now()
    letter = DeadLetter(letter_id or clock.new_id(), source=source, reason=reason[:500], created_at=created,
                        day=created.date().isoformat(), payload=payload, expires_at=created + KEEP_REJECTED)
    if once:
        written(lambda: letter.save(condition=DeadLetter.id.does_not_exist()))
    else:
        letter.save()
    return letter.id


def keep_once(letter_id: str, source: str, reason: str, payload: dict) -> str:
    """A dead letter under an id derived from what it keeps: kept twice, it is one letter."""
    return _letter(source, reason, json.loads(json.dumps(payload, default=str)), letter_id, once=True)


def reject(source: str, reason: str, headers: Mapping[str, str], body: bytes, replayable: bool,
           query: Optional[Mapping[str, str]] = None, failed_verification: bool = False) -> str:
    """Keep a payload we refused, with why, so it can be inspected and (if authentic) replayed.

    The query string is kept too: some callbacks carry what we need only in the URL we gave
    the provider (Twilio's recording status callback: the caller and the number called). The
    letter holds the first MAX_KEPT_BODY bytes of the body; a longer replayable body is kept whole
    in S3 as well (the provider got a 4xx and will not send it again). A longer body that is not
    replayable (forged, oversized) is cut, so an unsigned flood writes nothing to S3."""
    letter_id = clock.new_id()
    kept_headers = {k: v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}
    kept = body[:MAX_KEPT_BODY]
    try:
        content = {"body": kept.decode("utf-8")}
    except UnicodeDecodeError:  # 8-bit mail: keep the exact bytes for replay
        content = {"body_base64": base64.b64encode(kept).decode()}
    if query:
        content["query"] = dict(query)
    if replayable and len(body) > MAX_KEPT_BODY:
        content["body_key"] = _stash_body(letter_id, body)
    if failed_verification:
        content["failed_verification"] = True
    return _letter(source, reason, {"headers": kept_headers, **content, "truncated": len(body) > MAX_KEPT_BODY,
                                    "replayable": replayable}, letter_id)


def _stash_body(letter_id: str, body: bytes) -> str:
    """Written before the letter, so a letter never names a missing object (the bucket expires them
    with the letters: infra/cloudformation.py)."""
    key = f"{DEAD_LETTER_BODIES}{letter_id}"
    providers.s3().put_object(Bucket=get_settings().attachments_bucket, Key=key, Body=body,
                              ContentType="application/octet-stream")
    return key


def kept_body(payload: Mapping) -> bytes:
    """The body a dead letter kept, whole: from S3 when it was longer than the letter holds."""
    if "body_key" in payload:
        return providers.s3().get_object(Bucket=get_settings().attachments_bucket,
                                         Key=payload["body_key"])["Body"].read()
    return base64.b64decode(payload["body_base64"]) if "body_base64" in payload else payload["body"].encode()


def dead_letter(source: str, reason: str, record: dict) -> str:
    """Keep an async record whose handler gave up, for replay."""
    return _letter(source, reason, {"record": json.loads(json.dumps(record, default=str)), "replayable": True})

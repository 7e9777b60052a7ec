"""X direct messages: Account Activity webhook (CRC + DM events) in, API v2 DM out."""
from __future__ import annotations

import base64
import hashlib
import hmac
import mimetypes
import re
from typing import Any, Optional
from urllib.parse import quote

import requests

from chalicelib.domain.inbound import InboundMessage, Media
from chalicelib.errors import BadRequest, Unauthorized, Unprocessable

from .base import (
    ProviderRefused,
    ProviderUnavailable,
    RawRequest,
    SendContext,
    Sent,
    each_part,
    json_object,
    raise_for_status,
    refuses_malformed,
)

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
# X's challenge tokens are UUIDs or base64 text. Anything else is refused: the CRC answer is the very
# HMAC a POST is checked against, so answering any text would sign a forged webhook body for anyone
# (no JSON body can pass this pattern).
CRC_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{1,255}")


def _signature(secret: str, message: bytes) -> str:
    """'sha256=' + base64 HMAC-SHA256, the form of both the CRC answer and the POST header."""
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(mac).decode()


def crc_response(crc_token: Optional[str], settings) -> dict[str, str]:
    """Answer to X's challenge-response check (GET with ?crc_token=)."""
    if not crc_token:
        raise BadRequest("missing crc_token")
    if not CRC_TOKEN.fullmatch(crc_token):
        raise BadRequest("crc_token is not a challenge token (letters, digits, + / = _ -; at most 255)")
    return {"response_token": _signature(settings.x_consumer_secret, crc_token.encode())}


def _parse(body: bytes) -> dict[str, Any]:
    return json_object(body, "X webhook body")


def verify(request: RawRequest, settings) -> dict[str, Any]:
    """Check x-twitter-webhooks-signature over the raw body, then parse it."""
    signature = request.header(SIGNATURE_HEADER)
    if not signature:
        raise Unauthorized(f"missing {SIGNATURE_HEADER}")
    expected = _signature(settings.x_consumer_secret, request.body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise Unauthorized(f"{SIGNATURE_HEADER} does not match")
    return _parse(request.body)


def _media(item: dict[str, Any]) -> Media:
    # Video and GIF DMs carry a still frame in media_url_https; the playable file is a variant.
    variants = [v for v in (item.get("video_info") or {}).get("variants", []) if v.get("url")]
    if variants:
        best = max(variants, key=lambda v: v.get("bitrate") or 0)
        return Media(best["url"], best.get("content_type") or "video/mp4")
    url = item["media_url_https"]
    return Media(url, mimetypes.guess_type(url.split("?")[0])[0] or "image/jpeg")


def _content(data: dict[str, Any]) -> tuple[str, tuple[Media, ...]]:
    """The DM's text and media; X appends the media's t.co link to the text, which we drop."""
    text = data.get("text") or ""
    attachment = data.get("attachment") or {}
    item = attachment.get("media") if attachment.get("type") == "media" else None
    if not item or not item.get("media_url_https"):
        return text, ()
    if item.get("url"):
        text = text.replace(item["url"], "").strip()
    return text, (_media(item),)


def _message(event: dict[str, Any], ours: str, users: dict[str, Any]) -> InboundMessage:
    create = event.get("message_create") or {}
    sender = str(create.get("sender_id") or "")
    if not event.get("id") or not sender:
        raise Unprocessable("an X message_create event needs id and message_create.sender_id")
    user = users.get(sender) or {}
    text, media = _content(create.get("message_data") or {})
    return InboundMessage(
        channel="x", provider="x", provider_message_id=str(event["id"]), sender_kind="x",
        sender=sender, recipient=ours, text=text, media=media,
        sender_name=user.get("name") or user.get("screen_name") or None,
    )


@refuses_malformed("X webhook")
def normalize(payload: dict[str, Any]) -> list[InboundMessage]:
    """Received DMs only: other activity (tweets, likes, typing, read receipts) is not ours."""
    events = [e for e in payload.get("direct_message_events") or [] if e.get("type") == "message_create"]
    if not events:
        return []
    ours = str(payload.get("for_user_id") or "")
    if not ours:
        raise Unprocessable("X direct_message_events without for_user_id")
    users = payload.get("users") or {}
    # X also delivers the DMs our own account sends (agent replies): skip those echoes.
    received = [e for e in events if str((e.get("message_create") or {}).get("sender_id")) != ours]
    return list(each_part("X message_create event", received, lambda e: [_message(e, ours, users)]))


def _dm_event_id(response) -> Optional[str]:
    try:
        return str(response.json()["data"]["dm_event_id"])
    except (ValueError, KeyError, TypeError):
        return None


def send(ctx: SendContext, reply_to: dict[str, str], text: str) -> Sent:
    """POST /2/dm_conversations/with/:participant_id/messages as our account."""
    settings = ctx.settings
    participant = quote(str(reply_to["address"]), safe="")
    url = f"{settings.x_api_base}/2/dm_conversations/with/{participant}/messages"
    try:
        response = ctx.http.post(url, json={"text": text}, timeout=10,
                                 headers={"Authorization": f"Bearer {settings.x_access_token}"})
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ProviderUnavailable(f"x unreachable: {type(exc).__name__}") from None
    raise_for_status("x", response)
    event_id = _dm_event_id(response)
    if event_id is None:
        raise ProviderRefused(f"x {response.status_code}: answer without data.dm_event_id")
    return Sent(event_id, "sent")

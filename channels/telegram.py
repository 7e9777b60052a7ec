"""Telegram Bot API: webhook updates in, sendMessage out."""
from __future__ import annotations

import hmac
from typing import Any, Optional

import requests

from chalicelib.domain.inbound import InboundMessage, Media
from chalicelib.errors import Unauthorized, Unprocessable

from .base import (
    ProviderRefused,
    ProviderUnavailable,
    RawRequest,
    SendContext,
    Sent,
    json_object,
    raise_for_status,
    refuses_malformed,
)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MESSAGE_KINDS = {"message": False, "edited_message": True}    # update field -> edited
FILE_KINDS = (("document", "application/octet-stream"), ("voice", "audio/ogg"),
              ("audio", "audio/mpeg"), ("video", "video/mp4"), ("video_note", "video/mp4"),
              ("animation", "video/mp4"), ("sticker", "image/webp"))


def _parse(body: bytes) -> dict[str, Any]:
    return json_object(body, "Telegram update")


def verify(request: RawRequest, settings) -> dict[str, Any]:
    """The secret_token given to setWebhook comes back in a header on every update."""
    token = request.header(SECRET_HEADER) or ""
    expected = settings.telegram_secret_token or ""
    if not token or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized(f"missing or wrong {SECRET_HEADER}")
    return _parse(request.body)


def _file(file_id: str, content_type: str) -> Media:
    """A Telegram file, fetched later through getFile (its download URL holds the bot token)."""
    return Media(f"telegram-file:{file_id}", content_type)


def _media(message: dict[str, Any]) -> tuple[Media, ...]:
    found = []
    if message.get("photo"):
        # photo lists every size Telegram made of one picture: keep the largest only
        largest = max(message["photo"], key=lambda p: (p.get("width", 0) * p.get("height", 0),
                                                       p.get("file_size", 0)))
        found.append(_file(largest["file_id"], "image/jpeg"))
    for kind, default_type in FILE_KINDS:
        item = message.get(kind) or {}
        if item.get("file_id"):
            found.append(_file(item["file_id"], item.get("mime_type") or default_type))
    return tuple(found)


def _name(user: dict[str, Any]) -> Optional[str]:
    full = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    return full or user.get("username") or None


@refuses_malformed("Telegram update")
def normalize(update: dict[str, Any]) -> list[InboundMessage]:
    """A customer's message or edit; other updates, bots and service messages are not ours."""
    kind = next((k for k in MESSAGE_KINDS if k in update), None)
    if kind is None:
        return []
    message, sender = update[kind], update[kind].get("from") or {}
    if "message_id" not in message or "id" not in sender or "id" not in (message.get("chat") or {}):
        raise Unprocessable(f"a Telegram {kind} needs message_id, from.id and chat.id")
    text, media = message.get("text") or message.get("caption") or "", _media(message)
    if sender.get("is_bot") or not (text or media):
        return []
    return [InboundMessage(
        channel="telegram", provider="telegram", provider_message_id=_message_key(message),
        sender_kind="telegram", sender=str(sender["id"]), sender_name=_name(sender),
        recipient=str(message["chat"]["id"]), text=text, media=media, edited=MESSAGE_KINDS[kind],
    )]


def _message_key(message: dict[str, Any]) -> str:
    """``<chat>:<message id>`` (``:<edit date>`` for an edit): stable across Telegram's redeliveries and
    unique for good, unlike ``update_id``, which Telegram restarts at random after a quiet week."""
    key = f"{message['chat']['id']}:{message['message_id']}"
    return f"{key}:{message['edit_date']}" if message.get("edit_date") else key


def _post(http, url: str, body: dict[str, Any]):
    """The response, or None when Telegram could not be reached.

    The URL carries the bot token and requests repeats it in its exception messages,
    so the exception is dropped here rather than chained into our own.
    """
    try:
        return http.post(url, json=body, timeout=10)
    except (requests.ConnectionError, requests.Timeout):
        return None


def _answer(response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _raise_if_not_ok(answer: dict[str, Any]) -> None:
    """Telegram's own verdict: {"ok": false, "error_code", "description", "parameters"?}."""
    if answer.get("ok") is not False:
        return
    code = answer.get("error_code") or 0
    reason = f"telegram {code}: {answer.get('description', 'no description')}"
    if code == 429 or code >= 500:
        retry_after = (answer.get("parameters") or {}).get("retry_after")
        raise ProviderUnavailable(reason + (f" (retry after {retry_after}s)" if retry_after else ""))
    raise ProviderRefused(reason)


def send(ctx: SendContext, reply_to: dict[str, str], text: str) -> Sent:
    """sendMessage into the chat the customer wrote from (a private chat's id is the user's)."""
    settings = ctx.settings
    chat_id = reply_to.get("from") or reply_to["address"]
    url = f"{settings.telegram_api_base}/bot{settings.telegram_bot_token}/sendMessage"
    response = _post(ctx.http, url, {"chat_id": chat_id, "text": text})
    if response is None:
        raise ProviderUnavailable("telegram could not be reached")
    answer = _answer(response)
    _raise_if_not_ok(answer)
    raise_for_status("telegram", response)
    message_id = (answer.get("result") or {}).get("message_id")
    if message_id is None:
        raise ProviderRefused(f"telegram {response.status_code}: answer without result.message_id")
    return Sent(f"{chat_id}:{message_id}", "sent")

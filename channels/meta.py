"""Meta: Messenger, Instagram and WhatsApp Cloud API webhooks in, Graph API sends out."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Iterable, Iterator, Union

import requests

from chalicelib.domain import contacts
from chalicelib.domain.inbound import InboundMessage, Media
from chalicelib.errors import Forbidden, Unauthorized, Unprocessable

from .base import (
    ProviderRefused,
    ProviderUnavailable,
    RawRequest,
    Refused,
    Sent,
    StatusUpdate,
    each_part,
    json_object,
    raise_for_status,
    refuses_malformed,
)

PROVIDER = "meta"
TIMEOUT = 10
SIGNATURE_HEADER = "X-Hub-Signature-256"
MESSAGING_OBJECTS = {"page": "messenger", "instagram": "instagram"}
WHATSAPP_MEDIA = ("image", "document", "audio", "video", "sticker")
# not something the customer wrote: a reaction to a message (or its removal), a type the Cloud API
# cannot show us, a system notice (number changed)
WHATSAPP_IGNORED = ("reaction", "unsupported", "system", "ephemeral", "request_welcome")
# "played" is a voice message listened to: read, as far as a ticket cares.
WHATSAPP_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read",
                     "failed": "failed", "played": "read"}
# Graph answers throttling and its own hiccups with these codes, often under HTTP 400.
TRANSIENT_CODES = {1, 2, 4, 17, 32, 613, 80007, 130429, 131056}

Event = Union[InboundMessage, StatusUpdate, Refused]


def handshake(query: dict[str, str], settings) -> str:
    """Answer the subscription check with hub.challenge when the verify token is ours."""
    query = query or {}
    token = (query.get("hub.verify_token") or "").encode()
    if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            token, settings.meta_verify_token.encode()):
        raise Forbidden("hub.mode or hub.verify_token does not match")
    return query.get("hub.challenge", "")


def verify(request: RawRequest, settings) -> dict[str, Any]:
    """Check X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret), then parse."""
    header = request.header(SIGNATURE_HEADER)
    if not header:
        raise Unauthorized(f"missing {SIGNATURE_HEADER}")
    scheme, _, digest = header.strip().partition("=")
    if scheme != "sha256" or not digest:
        raise Unauthorized(f"malformed {SIGNATURE_HEADER}: expected sha256=<hex>")
    expected = hmac.new(settings.meta_app_secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), digest.lower().encode()):
        raise Unauthorized(f"{SIGNATURE_HEADER} does not match")
    return _parse(request.body)


def _parse(body: bytes) -> dict[str, Any]:
    return json_object(body, "Meta webhook body")


@refuses_malformed("Meta webhook")
def normalize(payload: dict[str, Any]) -> list[Event]:
    """Every customer message and delivery status in a (batched) Meta webhook; a message or status
    we cannot read is refused on its own (Refused), not with the batch."""
    kind = payload.get("object")
    if kind in MESSAGING_OBJECTS:
        channel = MESSAGING_OBJECTS[kind]
        events = [event for entry in payload["entry"] for event in entry.get("messaging", [])]
        return list(each_part(f"{channel} event", events, lambda event: _messaging(channel, event)))
    if kind == "whatsapp_business_account":
        return [e for entry in payload["entry"] for change in entry.get("changes", [])
                for e in _whatsapp(change)]
    raise Unprocessable(f"unknown Meta webhook object {kind!r}")


# Messenger and Instagram share entry[].messaging[].

def _messaging(channel: str, event: dict[str, Any]) -> Iterator[Event]:
    if "message" in event:
        yield from _message(channel, event)
    elif "postback" in event:
        yield _postback(channel, event)
    elif "delivery" in event:
        # mids may be absent (older clients): the watermark alone names no message.
        for mid in event["delivery"].get("mids", []):
            yield StatusUpdate(PROVIDER, mid, "delivered")
    # Messenger "read" receipts carry only a watermark (a time), not message ids: ignored,
    # like reactions, referrals and opt-ins, which are not customer messages.


def _message(channel: str, event: dict[str, Any]) -> Iterator[InboundMessage]:
    message = event["message"]
    if message.get("is_echo") or message.get("is_deleted"):
        return  # our own sends echoed back; an Instagram message the customer unsent
    media = tuple(Media(a["payload"]["url"], a.get("type", ""))
                  for a in message.get("attachments", []) if (a.get("payload") or {}).get("url"))
    yield _inbound(channel, event, message["mid"], message.get("text", ""), media)


def _postback(channel: str, event: dict[str, Any]) -> InboundMessage:
    postback = event["postback"]
    # postback.mid only exists from Graph v11 on; sender + timestamp is as stable across redeliveries.
    mid = postback.get("mid") or f"postback.{event['sender']['id']}.{event['timestamp']}"
    return _inbound(channel, event, mid, postback.get("title") or "")


def _inbound(channel: str, event: dict[str, Any], mid: str, text: str,
             media: tuple[Media, ...] = ()) -> InboundMessage:
    return InboundMessage(
        channel=channel, provider=PROVIDER, provider_message_id=mid, sender_kind=channel,
        sender=event["sender"]["id"], recipient=event["recipient"]["id"], text=text, media=media,
    )


# WhatsApp Cloud API: entry[].changes[].value with messages[] and/or statuses[].

def _whatsapp(change: dict[str, Any]) -> Iterable[Event]:
    if change.get("field") != "messages":
        return []  # template, quality and account updates are not conversations
    value = change["value"]
    names = {c.get("wa_id"): (c.get("profile") or {}).get("name") for c in value.get("contacts", [])}
    ours = value["metadata"]["phone_number_id"]
    messages = [m for m in value.get("messages", []) if m.get("type") not in WHATSAPP_IGNORED]
    return [*each_part("WhatsApp message", messages, lambda m: [_whatsapp_message(m, names, ours)]),
            *each_part("WhatsApp status", value.get("statuses", []), _whatsapp_status)]


def _whatsapp_message(message: dict[str, Any], names: dict, ours: str) -> InboundMessage:
    kind = message.get("type", "")
    body = message.get(kind) or {}     # the object named by type: text, image, button…
    media = ()
    if kind in WHATSAPP_MEDIA and body.get("id"):
        media = (Media(f"whatsapp-media:{body['id']}", body.get("mime_type", "")),)
    return InboundMessage(
        channel="whatsapp", provider=PROVIDER, provider_message_id=message["id"],
        sender_kind="phone", sender=_e164(message["from"]), sender_name=names.get(message["from"]),
        recipient=ours, text=_whatsapp_text(kind, body), media=media,
    )


def _whatsapp_text(kind: str, body: dict[str, Any]) -> str:
    if kind == "text":
        return body.get("body", "")
    if kind == "button":
        return body.get("text", "")
    if kind == "interactive":              # button_reply or list_reply, named by its type
        return (body.get(body.get("type", "")) or {}).get("title", "")
    if kind == "location":                 # the place, as the agent would want to read it
        place = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        return f"Location: {place + ' ' if place else ''}({body.get('latitude')}, {body.get('longitude')})"
    if kind == "contacts":                 # shared contact cards: names and numbers
        cards = [" ".join(filter(None, [(c.get("name") or {}).get("formatted_name"),
                                        *(p.get("phone") for p in c.get("phones") or [])]))
                 for c in body if isinstance(c, dict)] if isinstance(body, list) else []
        return "Contact: " + "; ".join(cards) if cards else ""
    return body.get("caption", "") if kind in WHATSAPP_MEDIA else ""


def _e164(wa_id: str) -> str:
    """WhatsApp gives the number without its '+'."""
    try:
        return contacts.phone("+" + wa_id).value
    except contacts.InvalidContact as exc:
        raise Unprocessable(f"WhatsApp sender {wa_id!r}: {exc}") from None


def _whatsapp_status(status: dict[str, Any]) -> Iterator[StatusUpdate]:
    if status["status"] not in WHATSAPP_STATUSES:
        return  # outside our vocabulary (e.g. "deleted", "warning"): changes no delivery state
    state = WHATSAPP_STATUSES[status["status"]]
    reason = None
    if state == "failed":
        error = (status.get("errors") or [{}])[0]
        reason = error.get("title") or error.get("message") or "failed without a reason"
        if error.get("code"):
            reason = f"{reason} ({error['code']})"
    yield StatusUpdate(PROVIDER, status["id"], state, reason)


# Sending through the Graph API.

def send(ctx, reply_to: dict[str, str], text: str) -> Sent:
    """Reply on Messenger/Instagram (Send API) or WhatsApp (Cloud API); the answer id is 'sent'."""
    channel = reply_to.get("channel")
    if channel == "whatsapp":
        answer = _post(ctx, f"/{reply_to['from']}/messages", {
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": reply_to["address"].lstrip("+"), "type": "text", "text": {"body": text}})
        return Sent(_answer_id(answer, lambda a: a["messages"][0]["id"]), "sent")
    if channel in ("messenger", "instagram"):
        answer = _post(ctx, "/me/messages", {
            "recipient": {"id": reply_to["address"]}, "messaging_type": "RESPONSE",
            "message": {"text": text}})
        return Sent(_answer_id(answer, lambda a: a["message_id"]), "sent")
    raise ProviderRefused(f"meta cannot send on channel {channel!r}")


def _post(ctx, path: str, body: dict[str, Any]) -> Any:
    settings = ctx.settings
    try:
        response = ctx.http.post(settings.meta_api_base + path, json=body, timeout=TIMEOUT,
                                 headers={"Authorization": f"Bearer {settings.meta_access_token}"})
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ProviderUnavailable(f"meta unreachable: {exc}") from None
    _raise_for_status(response)
    try:
        return response.json()
    except ValueError:
        raise ProviderUnavailable(f"meta {response.status_code}: answer is not JSON") from None


def _raise_for_status(response) -> None:
    """The shared mapping, with Graph's own error message and its transient codes."""
    try:
        raise_for_status(PROVIDER, response)
    except (ProviderRefused, ProviderUnavailable) as exc:
        error = _graph_error(response)
        if not error:
            raise
        kind = ProviderUnavailable if error.get("code") in TRANSIENT_CODES else type(exc)
        details = (error.get("error_data") or {}).get("details")
        message = " ".join(str(p) for p in (error.get("message"), details) if p)
        raise kind(f"meta {response.status_code}: {message} (code {error.get('code')})") from None


def _graph_error(response) -> dict[str, Any]:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _answer_id(answer: Any, pick) -> str:
    try:
        return str(pick(answer))
    except (KeyError, IndexError, TypeError) as exc:
        # Meta took the request but named no message: we cannot tell whether it left.
        raise ProviderUnavailable(f"meta answered without a message id ({exc!r})") from None

"""Twilio Messaging: SMS, MMS and WhatsApp-via-Twilio, in and out."""
from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode

from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from chalicelib.domain import contacts
from chalicelib.domain.inbound import InboundMessage, Media
from chalicelib.errors import Unauthorized, Unprocessable

from .base import ProviderRefused, ProviderUnavailable, RawRequest, SendContext, Sent, StatusUpdate, refuses_malformed

FORM = "application/x-www-form-urlencoded"


class _Form(dict):
    """Form fields with every value kept, as RequestValidator expects (getall)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        self._all: dict[str, list[str]] = {}
        for key, value in pairs:
            self._all.setdefault(key, []).append(value)
            self.setdefault(key, value)

    def getall(self, key: str) -> list[str]:
        return self._all[key]


def parse_form(body: bytes) -> _Form:
    return _Form(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def verify(request: RawRequest, settings) -> _Form:
    """Validate X-Twilio-Signature against the public URL Twilio was given."""
    signature = request.header("X-Twilio-Signature")
    if not signature:
        raise Unauthorized("missing X-Twilio-Signature")
    form = parse_form(request.body)
    url = settings.public_base_url + request.path
    if request.query:
        url += "?" + urlencode(list(request.query.items()))  # as our TwiML wrote it (urlencode), e.g. %2B
    algorithm = get_signature_algorithm(request.header("X-Twilio-Webhooks-Signature-Settings"))
    if not RequestValidator(settings.twilio_auth_token).validate(url, form, signature, algorithm):
        raise Unauthorized("X-Twilio-Signature does not match")
    return form


def _address(value: str) -> tuple[str, str]:
    """('whatsapp', '+1…') for 'whatsapp:+1…', ('sms', '+1…') otherwise."""
    if value.startswith("whatsapp:"):
        return "whatsapp", value[len("whatsapp:"):]
    return "sms", value


MAX_MEDIA = 10


@refuses_malformed("Twilio message")
def normalize(form: dict[str, Any]) -> list[InboundMessage]:
    return [_message(form)]


def _message(form: dict[str, Any]) -> InboundMessage:
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    if not sid or not form.get("From"):
        raise Unprocessable("a Twilio message needs MessageSid and From")
    channel, sender = _address(form["From"])
    try:
        sender = contacts.phone(sender).value
    except contacts.InvalidContact as exc:
        raise Unprocessable(f"From: {exc}") from None
    # Twilio sends at most 10 media per message; a larger NumMedia must not become a long loop
    media = tuple(Media(form.get(f"MediaUrl{i}", ""), form.get(f"MediaContentType{i}", ""))
                  for i in range(min(int(form.get("NumMedia") or 0), MAX_MEDIA)) if form.get(f"MediaUrl{i}"))
    # Messaging Service number pools: answer through the service so Twilio keeps the
    # sender sticky; the To number is kept as the fallback sender.
    return InboundMessage(
        channel=channel, provider="twilio", provider_message_id=sid, sender_kind="phone", sender=sender,
        text=form.get("Body", ""), recipient=_address(form.get("To", ""))[1],
        reply_via=form.get("MessagingServiceSid") or "", sender_name=form.get("ProfileName") or None, media=media,
    )


# Twilio's MessageStatus values, onto ours.
_STATUSES = {"accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "sent",
             "sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed",
             "undelivered": "failed", "canceled": "failed"}


@refuses_malformed("Twilio status callback")
def status_updates(form: dict[str, Any]) -> list[StatusUpdate]:
    """A delivery status callback for a message we sent."""
    sid, status = form.get("MessageSid"), _STATUSES.get(form.get("MessageStatus", ""))
    if not sid or not status:
        raise Unprocessable("a status callback needs MessageSid and a known MessageStatus")
    reason = f"twilio error {form['ErrorCode']}" if form.get("ErrorCode") else \
        f"twilio {form['MessageStatus']}" if status == "failed" else None
    return [StatusUpdate("twilio", sid, status, reason)]


def acknowledge() -> str:
    """Empty TwiML: the customer is answered asynchronously, once threaded."""
    return str(MessagingResponse())


def send(ctx: SendContext, reply_to: dict[str, str], text: str) -> Sent:
    from twilio.base.exceptions import TwilioException, TwilioRestException  # lazily: cold starts

    prefix = "whatsapp:" if reply_to.get("channel") == "whatsapp" else ""
    service = reply_to.get("via")
    sender = {"messaging_service_sid": service} if service else {"from_": prefix + reply_to["from"]}
    try:
        message = ctx.twilio().messages.create(
            to=prefix + reply_to["address"], body=text,
            status_callback=ctx.settings.public_base_url + "/channels/twilio/status", **sender)
    except TwilioRestException as exc:
        reason = f"twilio {exc.status} (code {exc.code}): {exc.msg}"
        raise (ProviderUnavailable if exc.status == 429 or exc.status >= 500 else ProviderRefused)(reason) from None
    except (TwilioException, OSError) as exc:
        raise ProviderUnavailable(f"twilio unreachable: {type(exc).__name__}") from None
    return Sent(message.sid, _STATUSES.get(message.status or "", "queued"))

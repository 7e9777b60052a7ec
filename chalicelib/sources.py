"""Every inbound source: how its payload is verified, re-read and normalized.

Adapters are looked up by provider on first use, so a Lambda handling SMS never
imports the email parser.
"""
from __future__ import annotations

import channels
from channels import twilio_sms
from channels.base import json_object

from . import validation
from .services import mail
from .services.intake import Source, register
from .settings import get_settings


def _json(request) -> dict:
    return json_object(request.body, "the body")


def _adapter_source(name: str, provider: str, channel: str, parse) -> Source:
    return register(Source(
        name, channel=channel, parse=parse,
        verify=lambda r: channels.for_provider(provider).verify(r, get_settings()),
        normalize=lambda payload: channels.for_provider(provider).normalize(payload)))


TWILIO_SMS = register(Source(
    "twilio/sms", channel="sms", parse=lambda r: twilio_sms.parse_form(r.body),
    verify=lambda r: twilio_sms.verify(r, get_settings()), normalize=twilio_sms.normalize))
TWILIO_STATUS = register(Source(
    "twilio/status", channel="sms", parse=lambda r: twilio_sms.parse_form(r.body),
    verify=lambda r: twilio_sms.verify(r, get_settings()), normalize=twilio_sms.status_updates))
TWILIO_VOICE, TWILIO_RECORDING, TWILIO_TRANSCRIPTION = (register(Source(
    name, channel="voice", parse=lambda r: channels.for_provider("twilio_voice").parse(r),
    verify=lambda r: channels.for_provider("twilio_voice").verify(r, get_settings()),
    normalize=lambda form, step=step: getattr(channels.for_provider("twilio_voice"), step)(form)))
    for name, step in (("twilio/voice", "call"), ("twilio/voice/recording", "recording"),
                       ("twilio/voice/transcription", "transcription")))


def _normalize_mail(raw: bytes, authenticated: bool = True) -> list:
    """A mail, read knowing our support address: our own mail come back is automated (channels/email.py)."""
    return channels.for_provider("email").normalize(raw, authenticated, get_settings().support_email)


EMAIL = register(Source(
    "email/inbound", channel="email", parse=lambda r: r.body,
    verify=lambda r: channels.for_provider("email").verify(r, get_settings()), normalize=_normalize_mail))
META = _adapter_source("meta", "meta", "meta", parse=_json)
X = _adapter_source("x", "x", "x", parse=_json)
TELEGRAM = _adapter_source("telegram", "telegram", "telegram", parse=_json)
def _kept_ses_mail(request) -> tuple[bytes, bool]:
    """A dead-lettered SES mail: its bytes and SES's verdict on its sender, kept beside it."""
    return request.body, request.header(mail.AUTHENTICATED_HEADER) == "true"


EMAIL_SES = register(Source(  # only replays come this way: SNS → Lambda is authenticated by IAM
    "email/ses", channel="email", parse=_kept_ses_mail, verify=_kept_ses_mail,
    normalize=lambda kept: _normalize_mail(*kept)))
INTEGRATIONS = register(Source(
    "integrations/events", channel="api", parse=lambda r: r.body,
    verify=lambda r: channels.for_provider("api").verify(r, get_settings()) or r.body,
    normalize=lambda body: channels.for_provider("api").normalize(validation.validated("integration_event", body))))

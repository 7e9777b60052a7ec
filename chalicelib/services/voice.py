"""Phone calls: greet the caller in their language, take a call-back request or a voicemail.

Every callback goes through intake (verify, normalize, store once); the answers are TwiML.
"""
from __future__ import annotations

from typing import Any, Optional

import channels

from .. import config, sources
from ..domain import contacts
from ..settings import get_settings
from ..storage.models import Customer
from . import customers, intake


def _caller_language(raw: Optional[str]) -> Optional[str]:
    """The caller's language when we know them: two key lookups (identity, customer)."""
    try:
        customer_id = customers.find(contacts.phone(raw or ""))
    except contacts.InvalidContact:
        return None
    if customer_id is None:
        return None
    try:
        return Customer.get(customer_id).language
    except Customer.DoesNotExist:
        return None


def answer_call(request) -> str:
    """A new call gets the greeting; a key pressed during it is a call-back request."""
    receipt = intake.receive(sources.TWILIO_VOICE, request)
    form: dict[str, Any] = receipt.payload
    adapter, language = channels.for_provider("twilio_voice"), _caller_language(form.get("From"))
    if receipt.stored or receipt.duplicates:
        return adapter.goodbye(config.message("voice_call_back", language), language)
    caller = form.get("From") if form.get("From", "").startswith("+") else None
    texts = {"greeting": config.message("voice_greeting", language),
             "no_message": config.message("voice_no_message", language)}
    called = form.get("To") if form.get("To", "").startswith("+") else None
    return adapter.greeting(get_settings().public_base_url, caller, language, texts, called)


def recording(request) -> str:
    """The voicemail is stored; the caller (still on the line after '#') hears thanks."""
    form = intake.receive(sources.TWILIO_RECORDING, request).payload
    language = _caller_language(form.get("From"))
    return channels.for_provider("twilio_voice").goodbye(config.message("voice_thanks", language), language)


def transcription(request) -> str:
    intake.receive(sources.TWILIO_TRANSCRIPTION, request)
    return channels.for_provider("twilio_voice").empty()

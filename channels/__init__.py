"""Channel adapters: each one only translates (verify, normalize, send); see channels/base.py.

Finding the customer, threading, scoring and routing live in chalicelib/services.
Adapters are imported on first use, so a cold start loads only the one it needs.
"""
from __future__ import annotations

import importlib
from types import ModuleType

PROVIDERS = {
    "twilio": "channels.twilio_sms",
    "twilio_voice": "channels.twilio_voice",
    "web": "channels.web",
    "meta": "channels.meta",
    "x": "channels.x",
    "telegram": "channels.telegram",
    "email": "channels.email",
    "chat": "channels.chat",
    "api": "channels.integration",
}
# Which provider answers a channel when a reply_to does not say (older tickets, api).
DEFAULT_PROVIDER = {"sms": "twilio", "whatsapp": "twilio", "messenger": "meta", "instagram": "meta",
                    "x": "x", "telegram": "telegram", "email": "email", "chat": "chat", "api": "api",
                    "voice": "twilio", "web": "email"}  # a caller is answered by SMS, a web form by email


def for_provider(provider: str) -> ModuleType:
    try:
        return importlib.import_module(PROVIDERS[provider])
    except KeyError:
        raise LookupError(f"no channel adapter for provider {provider!r}") from None


def for_reply(reply_to: dict) -> ModuleType:
    return for_provider(reply_to.get("provider") or DEFAULT_PROVIDER[reply_to.get("channel", "api")])

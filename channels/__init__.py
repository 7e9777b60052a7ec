"""Channel adapters: each one only translates (verify, normalize, acknowledge, send).

Finding the customer, threading, scoring and routing live in chalicelib/services.
"""
from . import integration, twilio_sms

REGISTRY = {
    "sms": twilio_sms,
    "whatsapp": twilio_sms,
    "api": integration,
}


def for_channel(channel: str):
    try:
        return REGISTRY[channel]
    except KeyError:
        raise LookupError(f"no channel adapter for {channel!r}") from None

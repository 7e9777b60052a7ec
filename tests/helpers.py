"""Small helpers shared by the test levels: signing like the providers do."""
from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from chalicelib.auth.signatures import jetdesk_signature

FORM = "application/x-www-form-urlencoded"


def twilio_signed(settings, path: str, params: dict) -> tuple[str, dict]:
    """Body and headers of a Twilio webhook as Twilio would sign it for our public URL."""
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(
        settings.public_base_url + path, params)
    return urlencode(params), {"Content-Type": FORM, "X-Twilio-Signature": signature}


def jetdesk_signed(settings, payload: dict, at: int | None = None) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    header = jetdesk_signature(settings.jetdesk_signing_secret, body, at if at is not None else int(time.time()))
    return body, {"Content-Type": "application/json", "X-JetDesk-Signature": header}


def outbox_intents() -> list:
    """Every notification intent written so far, a ``change`` item's parts unfolded (test-only scan)."""
    from chalicelib.services import outbox
    from chalicelib.storage.models import Outbox
    return [part for item in Outbox.scan()
            for part in (outbox.parts(item) if item.kind == "change" else [item])]

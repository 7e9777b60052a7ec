"""HMAC signatures: X-JetDesk-Signature in, Standard Webhooks out."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Optional

from ..errors import Unauthorized


def jetdesk_signature(secret: str, body: bytes, timestamp: Optional[int] = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_jetdesk_signature(secret: str, header: Optional[str], body: bytes,
                             tolerance: int = 300, now: Optional[float] = None) -> None:
    """Raise Unauthorized unless the header signs this body within the time window."""
    if not header:
        raise Unauthorized("missing X-JetDesk-Signature")
    pairs = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamp = dict(pairs).get("t", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):  # unix seconds, nothing else
        raise Unauthorized("malformed X-JetDesk-Signature")
    t = int(stamp)
    now = time.time() if now is None else now
    if abs(now - t) > tolerance:
        raise Unauthorized("X-JetDesk-Signature timestamp outside the allowed window")
    expected = jetdesk_signature(secret, body, t).split("v1=", 1)[1].encode()
    # hex in either case; bytes: compare_digest refuses non-ASCII str
    candidates = [v.strip().lower().encode() for k, v in pairs if k == "v1"]
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise Unauthorized("X-JetDesk-Signature does not match")


def standard_webhook_headers(secret: str, msg_id: str, body: bytes,
                             timestamp: Optional[int] = None) -> dict[str, str]:
    """Headers of https://www.standardwebhooks.com: id stable across retries."""
    t = int(time.time()) if timestamp is None else timestamp
    key = secret.encode()
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, f"{msg_id}.{t}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(t),
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}

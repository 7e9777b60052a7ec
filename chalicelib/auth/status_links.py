"""Status-page links: a signed, expiring token scoped to one ticket and the web identity that opened it.

HS256 (PyJWT, which compares signatures in constant time) with a key of its own derived from
JETDESK_SESSION_SECRET, and an audience of its own: never an agent token, never a chat token.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlencode

from ..errors import Unauthorized

AUDIENCE = "jetdesk-status"
PATH = "/help/status"


@dataclass(frozen=True)
class StatusLink:
    ticket_id: str
    sender: str         # the web identity (web:<value>) allowed to write on the ticket


def _key(settings) -> bytes:
    return hmac.new(settings.session_secret.encode(), b"jetdesk-status-link-v1", hashlib.sha256).digest()


def issue(settings, ticket_id: str, sender: str, now: Optional[int] = None) -> str:
    import jwt  # on first use (cold starts)
    now = int(time.time()) if now is None else now
    claims = {"sub": ticket_id, "web": sender, "aud": AUDIENCE, "iat": now,
              "exp": now + settings.status_link_days * 86400}
    return jwt.encode(claims, _key(settings), algorithm="HS256")


def url(settings, ticket_id: str, sender: str) -> str:
    return f"{settings.public_base_url}{PATH}?{urlencode({'token': issue(settings, ticket_id, sender)})}"


def verify(settings, token: Optional[str]) -> StatusLink:
    import jwt
    if not token:
        raise Unauthorized("this page needs the link from your confirmation email")
    try:
        claims = jwt.decode(token, _key(settings), algorithms=["HS256"], audience=AUDIENCE,
                            options={"require": ["exp", "sub", "web"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("this link has expired; send the form again and quote your ticket reference") from None
    except jwt.PyJWTError:
        raise Unauthorized("this link is not valid; use the link from your confirmation email") from None
    return StatusLink(claims["sub"], claims["web"])

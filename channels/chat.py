"""Web chat: conversation-scoped session tokens in, stored messages out (the page polls)."""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Optional

from chalicelib.domain.inbound import InboundMessage, IntegrationEvent
from chalicelib.errors import Unauthorized

from .base import RawRequest, SendContext, Sent

AUDIENCE = "jetdesk-chat"
SESSION_SECONDS = 24 * 3600


def _key(settings) -> bytes:
    """A key of its own, derived from the session secret (which no integrator holds): a chat token is
    never an agent token, nor a status link."""
    return hmac.new(settings.session_secret.encode(), b"jetdesk-chat-session-v1", hashlib.sha256).digest()


def issue(settings, conversation_id: str, name: str, email: Optional[str],
          now: Optional[int] = None) -> tuple[str, int]:
    import jwt  # on first use (cold starts)
    now = int(time.time()) if now is None else now
    claims = {"sub": conversation_id, "aud": AUDIENCE, "iat": now, "exp": now + SESSION_SECONDS, "name": name}
    if email:
        claims["email"] = email
    return jwt.encode(claims, _key(settings), algorithm="HS256"), now + SESSION_SECONDS


def verify(request: RawRequest, settings) -> dict[str, Any]:
    """The session's claims: ``sub`` is the one conversation this token may touch."""
    import jwt
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send the chat session token as Authorization: Bearer <token>")
    try:
        return jwt.decode(token, _key(settings), algorithms=["HS256"], audience=AUDIENCE,
                          options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the chat session has expired; start a new one") from None
    except jwt.PyJWTError:
        raise Unauthorized("the chat session token is not valid; start a new session") from None


def normalize(session: dict[str, Any], text: str, client_id: str) -> list[InboundMessage]:
    return [InboundMessage(
        channel="chat", provider="chat", provider_message_id=f"{session['sub']}:{client_id}",
        sender_kind="chat", sender=session["sub"], sender_name=session.get("name"), text=text,
        unverified_contacts=(("email", session["email"]),) if session.get("email") else ())]


def feedback(session: dict[str, Any], stage: str, rating: int, comment: Optional[str], client_id: str,
             occurred_at: str) -> IntegrationEvent:
    """A stage rating typed into the chat page: the same customer.feedback an integrator sends."""
    data: dict[str, Any] = {"stage": stage, "rating": rating}
    if comment:
        data["comment"] = comment
    customer = {"name": session["name"]} if session.get("name") else {}
    return IntegrationEvent(f"chat:{session['sub']}:{client_id}", "customer.feedback", occurred_at, customer, data,
                            contacts=(("chat", session["sub"]),), source="chat")


def send(ctx: SendContext, reply_to: dict, text: str) -> Sent:
    """The stored message is the delivery: the customer's page fetches it."""
    return Sent(provider_message_id="", status="sent")

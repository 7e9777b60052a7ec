"""Web chat: sessions scoped to one conversation, messages in, the conversation out."""
from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any, Optional

from channels import chat
from channels.base import RawRequest

from .. import clock
from ..domain import contacts
from ..errors import ApiError, Unprocessable
from ..settings import get_settings
from ..storage.models import ChatConnection, Message, Ticket
from . import customers, ingest, presenters, providers, ratelimit

log = logging.getLogger(__name__)
CONNECTION_TTL = timedelta(hours=2)   # API Gateway closes idle WebSockets well before this

SESSIONS_PER_MINUTE = 10      # per client address
MESSAGES_PER_MINUTE = 20      # per session
RATINGS_PER_MINUTE = 10       # per session
CONVERSATION_TICKETS = 5
SETTLE_SECONDS = 5   # how far behind the newest message the poll cursor stays


def start(name: str, email: Optional[str], client: str) -> dict[str, Any]:
    ratelimit.hit(f"chat-session:{client}", SESSIONS_PER_MINUTE, 60)
    if email:
        try:
            email = contacts.email(email).value
        except contacts.InvalidContact as exc:
            raise Unprocessable(f"email: {exc}") from None
    conversation_id = clock.new_id()
    token, expires = chat.issue(get_settings(), conversation_id, name, email)
    return {"token": token, "conversation_id": conversation_id,
            "expires_at": clock.iso(clock.from_epoch(expires))}


def post(session: dict[str, Any], text: str, client_id: Optional[str]) -> dict[str, Any]:
    ratelimit.hit(f"chat-messages:{session['sub']}", MESSAGES_PER_MINUTE, 60)
    [message] = chat.normalize(session, text, client_id or clock.new_id())
    stored = ingest.store(message)
    return {"accepted": True, "duplicate": not stored, "id": message.provider_message_id}


def rate(session: dict[str, Any], stage: str, rating: int, comment: Optional[str],
         client_id: Optional[str]) -> dict[str, Any]:
    """The customer rates a stage of their journey: stored as a customer.feedback event, which
    the event path applies like an integrator's (profile ratings, mood, re-score)."""
    ratelimit.hit(f"chat-ratings:{session['sub']}", RATINGS_PER_MINUTE, 60)
    event = chat.feedback(session, stage, rating, comment, client_id or clock.new_id(), clock.iso(clock.now()))
    stored = ingest.store(event)
    return {"accepted": True, "duplicate": not stored, "id": event.id}


def conversation(session: dict[str, Any], after: Optional[str]) -> dict[str, Any]:
    """Messages of this conversation's tickets after the cursor (a message id), oldest first. The
    cursor stops short of the last SETTLE_SECONDS: a message minted a moment before another may be
    written after it (another function, another clock), so the newest come again on the next polls
    (the page keeps each id once) rather than being stepped over for good."""
    customer_id = customers.find(contacts.Contact("chat", session["sub"]))
    if customer_id is None:
        return presenters.page([], None)
    tickets = Ticket.customer_tickets.query(customer_id, scan_index_forward=False, limit=CONVERSATION_TICKETS)
    condition = Message.id > after if after else None
    found = sorted((m for t in tickets for m in Message.query(t.id, range_key_condition=condition)),
                   key=lambda m: m.id)
    items = [{"id": m.id, "direction": m.direction, "text": m.text, "created_at": clock.iso(m.created_at),
              "from": "you" if m.direction == "inbound" else "support"} for m in found]
    settled_by = clock.now() - timedelta(seconds=SETTLE_SECONDS)
    settled = [m.id for m in found if clock.id_time(m.id) <= settled_by]
    return {"items": items, "next": settled[-1] if settled else after}


# ---- WebSocket push (deployed stages; the local stack and every client can poll) ----

def connect(connection_id: str, token: Optional[str]) -> bool:
    """Browsers cannot set headers on a WebSocket: the session token comes as ?token=."""
    try:
        session = chat.verify(RawRequest("GET", "", {"Authorization": f"Bearer {token or ''}"}, b""), get_settings())
    except ApiError:
        return False
    ChatConnection(connection_id, conversation_id=session["sub"], expires_at=clock.now() + CONNECTION_TTL).save()
    return True


def disconnect(connection_id: str) -> None:
    ChatConnection(connection_id).delete()


def push(conversation_id: str, message: dict[str, Any]) -> int:
    """Send a new message to every open page of the conversation; gone connections are forgotten."""
    if not get_settings().chat_websocket_endpoint:
        return 0
    client, pushed = providers.websockets(), 0
    for connection in ChatConnection.by_conversation.query(conversation_id):
        try:
            client.post_to_connection(ConnectionId=connection.connection_id, Data=json.dumps(message).encode())
            pushed += 1
        except client.exceptions.GoneException:
            ChatConnection(connection.connection_id).delete()
    return pushed

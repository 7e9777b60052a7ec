"""Web chat: sessions scoped to one conversation, messages in, the conversation out."""
from __future__ import annotations

from typing import Any, Optional

from channels import chat

from .. import clock
from ..domain import contacts
from ..settings import get_settings
from ..storage.models import Message, Ticket
from . import customers, ingest, presenters, ratelimit

SESSIONS_PER_MINUTE = 10      # per client address
MESSAGES_PER_MINUTE = 20      # per session
CONVERSATION_TICKETS = 5


def start(name: str, email: Optional[str], client: str) -> dict[str, Any]:
    ratelimit.hit(f"chat-session:{client}", SESSIONS_PER_MINUTE, 60)
    if email:
        email = contacts.email(email).value
    conversation_id = clock.new_id()
    token, expires = chat.issue(get_settings(), conversation_id, name, email)
    return {"token": token, "conversation_id": conversation_id,
            "expires_at": clock.iso(clock.from_epoch(expires))}


def post(session: dict[str, Any], text: str, client_id: Optional[str]) -> dict[str, Any]:
    ratelimit.hit(f"chat-messages:{session['sub']}", MESSAGES_PER_MINUTE, 60)
    [message] = chat.normalize(session, text, client_id or clock.new_id())
    stored = ingest.store(message)
    return {"accepted": True, "duplicate": not stored, "id": message.provider_message_id}


def conversation(session: dict[str, Any], after: Optional[str]) -> dict[str, Any]:
    """Messages of this conversation's tickets after the cursor (a message id), oldest first."""
    customer_id = customers.find(contacts.Contact("chat", session["sub"]))
    if customer_id is None:
        return presenters.page([], None)
    tickets = Ticket.customer_tickets.query(customer_id, scan_index_forward=False, limit=CONVERSATION_TICKETS)
    condition = Message.id > after if after else None
    found = sorted((m for t in tickets for m in Message.query(t.id, range_key_condition=condition)),
                   key=lambda m: m.id)
    items = [{k: v for k, v in presenters.message(m).items() if k not in ("provider_message_id",)} for m in found]
    return {"items": items, "next": found[-1].id if found else after}

"""Channel flows: a provider delivery in, a ticket, an agent reply out through that provider."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from chalicelib.storage.models import Message, Ticket

from ..conftest import bearer


def meta_headers(settings, body: bytes) -> dict:
    mac = hmac.new(settings.meta_app_secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + mac}


def x_headers(settings, body: bytes) -> dict:
    mac = base64.b64encode(hmac.new(settings.x_consumer_secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "x-twitter-webhooks-signature": "sha256=" + mac}


def telegram_headers(settings) -> dict:
    return {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": settings.telegram_secret_token}


def only_ticket() -> Ticket:
    [ticket] = list(Ticket.scan())  # test-only inspection
    return ticket


def agent_replies(stack, http, ticket_id: str, text: str, agent: str = "sam") -> dict:
    """A supervisor answers (any queue); the pump hands the reply to the provider's sink."""
    headers = {**bearer(stack.settings, agent), "Content-Type": "application/json"}
    response = http.post(f"/tickets/{ticket_id}/replies", headers=headers, body=json.dumps({"text": text}))
    assert response.status_code == 201, response.body
    stack.pump.drain()
    return next(m for m in Message.query(ticket_id) if m.id == response.json_body["id"])

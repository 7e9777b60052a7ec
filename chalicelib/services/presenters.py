"""The ticket resource of the public contract, from stored items."""
from __future__ import annotations

import base64
import json
from typing import Any, Iterable, Optional

from ..clock import iso
from ..domain import voice
from ..domain.jet import Indicator
from ..errors import BadRequest
from ..storage.models import Customer, Message, Ticket


def jet_banner(ticket: Ticket) -> dict[str, Any]:
    """The stored explanation with each indicator's level (derived from its value, not stored)."""
    jet = dict(ticket.jet or {})
    jet.pop("intent", None)
    if "indicators" in jet:
        jet["indicators"] = [{**i, "level": level(i["value"])} for i in jet["indicators"]]
    return jet


def level(value: float) -> str:
    return Indicator("", value, "").level


def ticket(t: Ticket) -> dict[str, Any]:
    return {
        "id": t.id, "ref": t.ref, "status": t.status, "channel": t.channel, "queue": t.queue,
        "assignee": t.assignee, "customer_id": t.customer_id, "subject": t.subject, "external_ref": t.external_ref,
        "intent": t.intent, "language": t.language,
        "created_at": iso(t.created_at), "updated_at": iso(t.updated_at),
        "sla_due_at": iso(t.sla_due_at), "first_response_at": iso(t.first_response_at),
        "reopened_at": iso(t.reopened_at),   # then sla_due_at and first_response_at are this period's
        "jet": jet_banner(t), "reply_action": reply_action(t), "resolved_by": t.resolved_by, "bot": bot_part(t),
        # a claim or a transfer to an agent: theirs to accept (or answer) by then, or back in its queue
        "lease": {"expires_at": iso(t.lease_expires_at)} if t.lease_expires_at else None,
    }


def bot_part(t: Ticket) -> dict[str, Any] | None:
    """What the bot did on this ticket, for the agent who takes it over."""
    if not t.bot:
        return None
    return {k: t.bot.get(k) for k in ("intent", "answers", "outcome", "reason") if t.bot.get(k) is not None}


def reply_action(t: Ticket) -> dict[str, Any]:
    """What answering means: a reply on a channel, or (a caller) a call-back to this number."""
    to = t.reply_to or {}
    if to.get("action") == "call_back":
        return {"action": "call_back", "phone": to.get("address"), "text_replies": to.get("channel", "sms")}
    return {"action": "reply", "channel": to.get("channel") or t.channel}


def customer(c: Customer) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "language": c.language, "contacts": sorted(c.contacts or ()),
            "profile": c.profile or {}, "journey": c.journey or {}, "open_ticket_id": c.open_ticket_id}


def message(m: Message) -> dict[str, Any]:
    out = {"id": m.id, "direction": m.direction, "channel": m.channel, "text": m.text,
           "created_at": iso(m.created_at), "delivery_status": m.delivery_status,
           "author": m.author}
    if m.provider_message_id:
        out["provider_message_id"] = m.provider_message_id
    if m.failure_reason:
        out["failure_reason"] = m.failure_reason
    if m.media:
        out["media"] = m.media
    if m.voice:
        out["voice"] = voice_view(m.voice)
    return out


def voice_view(v: dict[str, Any]) -> dict[str, Any]:
    """A voicemail or call-back request as the agent sees it: what to listen to, and why no text."""
    out = {"kind": v.get("kind"), "recording_url": v.get("recording_url"), "duration": v.get("duration"),
           "transcription": v.get("transcription_status"), "note": voice.note(v)}
    return {k: val for k, val in out.items() if val is not None}


def customer_ticket(t: Ticket, messages: Iterable[Message]) -> dict[str, Any]:
    """The customer's view of their ticket: its state and the conversation, no agent ids or scores."""
    shown = [m for m in messages if m.author != "system"]   # not the acknowledgements
    return {"ref": t.ref, "status": t.status, "subject": t.subject, "created_at": iso(t.created_at),
            "updated_at": iso(t.updated_at),
            "messages": [{"from": "you" if m.direction == "inbound" else "support", "text": m.text,
                          "created_at": iso(m.created_at),
                          "attachments": [a.get("name") for a in m.attachments or ()]} for m in shown]}


def ticket_with_timeline(t: Ticket, messages: Iterable[Message], history: list[dict]) -> dict[str, Any]:
    """``history``: the score history (``scoring.history``); tickets scored before it moved out of
    the ticket item still show the entries they carry."""
    return {**ticket(t), "messages": [message(m) for m in messages], "history": list(t.history or []) + history}


def page(items: list[dict[str, Any]], last_key: Optional[dict]) -> dict[str, Any]:
    return {"items": items, "next": encode_cursor(last_key) if last_key else None}


def encode_cursor(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: Optional[str], keys: tuple[str, ...], **fixed: str) -> Optional[dict]:
    """The page key a cursor carries, if it has this list's shape: exactly ``keys``, each a short
    string (``fixed`` ones with that value). Anything else would reach DynamoDB and fail there."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        key = None
    if not (isinstance(key, dict) and set(key) == set(keys) and all(_is_key_string(v) for v in key.values())
            and all(key[name]["S"] == value for name, value in fixed.items())):
        raise BadRequest("cursor is not one this list gave out")
    return key


def _is_key_string(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) \
        and 0 < len(value["S"]) <= 1024

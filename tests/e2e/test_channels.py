"""Every channel on the running local stack: in → ticket → agent reply → the right outbound request."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from urllib.parse import quote

import requests

from chalicelib.auth.signatures import jetdesk_signature
from infra.local.stage import stage_environment
from tests.conftest import event

from .conftest import eventually

SECRETS = stage_environment("local")


def unique_digits(n: int = 12) -> str:
    return str(random.randrange(10 ** (n - 1), 10 ** n))


def ticket_for(base, auth, contact: str) -> dict:
    def found():
        items = requests.get(f"{base}/tickets?contact={quote(contact)}", headers=auth, timeout=10).json()["items"]
        return items[0] if items else None
    return eventually(found)


def reply_and_find(base, auth, ticket_id: str, provider: str, text: str) -> dict:
    answer = requests.post(f"{base}/tickets/{ticket_id}/replies", headers=auth, json={"text": text}, timeout=10)
    assert answer.status_code == 201

    def recorded():
        sent = requests.get(base + "/local/sent", timeout=10).json()["items"]
        return next((s for s in sent if s["provider"] == provider and text in json.dumps(s["body"])), None)
    return eventually(recorded)


def test_messenger(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    psid = unique_digits(16)
    payload = event("meta/messenger_batch.json")
    payload["entry"] = payload["entry"][:1]
    payload["entry"][0]["messaging"] = [{**payload["entry"][0]["messaging"][0], "sender": {"id": psid},
                                         "message": {"mid": "m_" + uuid.uuid4().hex, "text": "My bag is lost"}}]
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRETS["META_APP_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    response = requests.post(base + "/channels/meta", data=body, timeout=10,
                             headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})
    assert response.status_code == 200
    ticket = ticket_for(base, auth, f"messenger:{psid}")
    sent = reply_and_find(base, auth, ticket["id"], "meta", "Messenger reply")
    assert sent["url"].endswith("/me/messages") and sent["body"]["recipient"]["id"] == psid


def test_x_direct_message(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    sender = unique_digits(10)
    payload = event("x/dm.json")
    dm = payload["direct_message_events"][0]
    dm["id"], dm["message_create"]["sender_id"] = unique_digits(19), sender
    payload["users"] = {sender: {"id": sender, "name": "Inês"}}
    body = json.dumps(payload).encode()
    mac = base64.b64encode(hmac.new(SECRETS["X_CONSUMER_SECRET"].encode(), body, hashlib.sha256).digest()).decode()
    headers = {"Content-Type": "application/json", "x-twitter-webhooks-signature": "sha256=" + mac}
    response = requests.post(base + "/channels/x", data=body, timeout=10, headers=headers)
    assert response.status_code == 200
    ticket = ticket_for(base, auth, f"x:{sender}")
    sent = reply_and_find(base, auth, ticket["id"], "x", "X reply")
    assert sent["url"] == f"https://api.x.com/2/dm_conversations/with/{sender}/messages"


def test_telegram(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    user = int(unique_digits(10))
    update = event("telegram/message.json")
    update["update_id"] = int(unique_digits(9))
    update["message"]["from"]["id"] = update["message"]["chat"]["id"] = user
    response = requests.post(base + "/channels/telegram", json=update, timeout=10,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRETS["TELEGRAM_SECRET_TOKEN"]})
    assert response.status_code == 200
    ticket = ticket_for(base, auth, f"telegram:{user}")
    sent = reply_and_find(base, auth, ticket["id"], "telegram", "Telegram reply")
    assert sent["body"]["chat_id"] in (user, str(user)) and "<token>" in sent["url"]


def test_email_relay_and_ses_reply(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    address = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    raw = (f"From: Test Customer <{address}>\r\nTo: support@jetdesk.local\r\nSubject: Lost bag\r\n"
           f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\nContent-Type: text/plain\r\n\r\n"
           "My suitcase did not arrive in Lisbon.\r\n").encode()
    response = requests.post(base + "/channels/email/inbound", data=raw, timeout=10, headers={
        "Content-Type": "message/rfc822",
        "X-JetDesk-Signature": jetdesk_signature(SECRETS["JETDESK_SIGNING_SECRET"], raw, int(time.time()))})
    assert response.status_code == 202
    ticket = ticket_for(base, auth, address)
    sent = reply_and_find(base, auth, ticket["id"], "ses", "Email reply")
    assert f"To: {address}" in sent["body"]["raw"] and ticket["ref"] in sent["body"]["raw"]


def test_web_chat(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    session = requests.post(base + "/channels/chat/sessions", json={"name": "Chat Customer"}, timeout=10).json()
    customer = {"Authorization": "Bearer " + session["token"]}
    assert requests.post(base + "/channels/chat/messages", json={"text": "My seat was changed?"}, headers=customer,
                         timeout=10).status_code == 202
    ticket = ticket_for(base, auth, f"chat:{session['conversation_id']}")
    requests.post(f"{base}/tickets/{ticket['id']}/replies", headers=auth, json={"text": "Chat reply"}, timeout=10)

    def polled():
        items = requests.get(base + "/channels/chat/messages", headers=customer, timeout=10).json()["items"]
        return [m for m in items if m["direction"] == "outbound" and m["text"] == "Chat reply"]
    assert eventually(polled)

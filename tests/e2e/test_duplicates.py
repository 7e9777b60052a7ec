"""Providers redeliver. Each channel's payload sent 5 times at once to the running stack is one message;
a mixed run in which 30% of deliveries come again ends with exactly one ticket message per delivery."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests
from twilio.request_validator import RequestValidator

from chalicelib.auth.signatures import jetdesk_signature
from infra.local.stage import stage_environment

from .conftest import eventually

SECRETS = stage_environment("local")
JSON = "application/json"
TIMES = 5


def digits(n: int = 12) -> str:
    return str(random.randrange(10 ** (n - 1), 10 ** n))


def twilio(base, sender: str, text: str, sid: str) -> tuple[str, dict]:
    params = {"MessageSid": sid, "SmsMessageSid": sid, "From": sender, "To": "+14155559999", "Body": text,
              "NumMedia": "0"}
    url = base + "/channels/twilio/sms"
    signature = RequestValidator(SECRETS["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    return "/channels/twilio/sms", {"data": params, "headers": {"X-Twilio-Signature": signature}}


def meta_signed(payload: dict) -> tuple[str, dict]:
    body = json.dumps(payload).encode()
    digest = hmac.new(SECRETS["META_APP_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": JSON, "X-Hub-Signature-256": "sha256=" + digest}
    return "/channels/meta", {"data": body, "headers": headers}


def messaging(kind: str, sender: str, text: str, mid: str) -> tuple[str, dict]:
    event = {"sender": {"id": sender}, "recipient": {"id": "page"}, "timestamp": 1,
             "message": {"mid": mid, "text": text}}
    return meta_signed({"object": kind, "entry": [{"id": "page", "time": 1, "messaging": [event]}]})


def whatsapp(sender: str, text: str, wamid: str) -> tuple[str, dict]:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "106540352242922"},
             "contacts": [{"wa_id": sender, "profile": {"name": "Ana"}}],
             "messages": [{"from": sender, "id": wamid, "timestamp": "1", "type": "text", "text": {"body": text}}]}
    return meta_signed({"object": "whatsapp_business_account",
                        "entry": [{"id": "waba", "changes": [{"field": "messages", "value": value}]}]})


def x_dm(sender: str, text: str, event_id: str) -> tuple[str, dict]:
    body = json.dumps({"for_user_id": "3001", "direct_message_events": [{
        "type": "message_create", "id": event_id, "created_timestamp": "1",
        "message_create": {"target": {"recipient_id": "3001"}, "sender_id": sender,
                           "message_data": {"text": text}}}]}).encode()
    mac = hmac.new(SECRETS["X_CONSUMER_SECRET"].encode(), body, hashlib.sha256).digest()
    return "/channels/x", {"data": body, "headers": {"Content-Type": JSON, "x-twitter-webhooks-signature":
                                                     "sha256=" + base64.b64encode(mac).decode()}}


def telegram(sender: str, text: str, update_id: int) -> tuple[str, dict]:
    body = json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1, "text": text,
        "from": {"id": int(sender), "is_bot": False, "first_name": "Ana"},
        "chat": {"id": int(sender), "type": "private"}}}).encode()
    return "/channels/telegram", {"data": body, "headers": {
        "Content-Type": JSON, "X-Telegram-Bot-Api-Secret-Token": SECRETS["TELEGRAM_SECRET_TOKEN"]}}


def email(sender: str, text: str, message_id: str) -> tuple[str, dict]:
    raw = (f"From: Ana <{sender}>\r\nTo: support@jetdesk.local\r\nSubject: Lost bag\r\n"
           f"Message-ID: <{message_id}>\r\n\r\n{text}\r\n").encode()
    signature = jetdesk_signature(SECRETS["JETDESK_SIGNING_SECRET"], raw)
    return "/channels/email/inbound", {"data": raw, "headers": {"Content-Type": "message/rfc822",
                                                                 "X-JetDesk-Signature": signature}}


def integration(sender: str, text: str, event_id: str) -> tuple[str, dict]:
    body = json.dumps({"id": event_id, "type": "ticket.create", "occurred_at": "2026-11-23T09:00:00Z",
                       "customer": {"email": sender}, "data": {"subject": "Lost bag", "text": text}}).encode()
    signature = jetdesk_signature(SECRETS["JETDESK_SIGNING_SECRET"], body)
    return "/integrations/events", {"data": body, "headers": {"Content-Type": JSON, "X-JetDesk-Signature": signature}}


def delivery(base: str, channel: str, n: int, who: str = "") -> tuple[str, tuple[str, dict]]:
    """(the contact to find the ticket by, (path, request)) of a new message from customer ``who``."""
    text, uid, who = f"Where is my bag? ({channel} {n})", uuid.uuid4().hex, who or digits(16)
    if channel in ("sms", "whatsapp-twilio"):
        phone = "+1415" + who[:7]
        sender = ("whatsapp:" if channel == "whatsapp-twilio" else "") + phone
        return phone, twilio(base, sender, text, "SM" + uid)
    if channel in ("messenger", "instagram"):
        return f"{channel}:{who}", messaging("page" if channel == "messenger" else "instagram", who, text, "m_" + uid)
    if channel == "whatsapp":
        return "+1415" + who[:7], whatsapp("1415" + who[:7], text, "wamid." + uid)
    if channel == "x":
        return f"x:{who[:10]}", x_dm(who[:10], text, digits(18))
    if channel == "telegram":
        return f"telegram:{who[:9]}", telegram(who[:9], text, int(digits(9)))
    address = f"ana.{who}@example.com"
    return address, (email if channel == "email" else integration)(address, text, f"{uid}@example.com")


CHANNELS = ["sms", "whatsapp-twilio", "messenger", "instagram", "whatsapp", "x", "telegram", "email", "api"]


def inbound_count(base: str, auth: dict, contact: str, expected: int = 1) -> int:
    """Inbound messages over all the contact's tickets, once the async path has threaded ``expected``."""
    def count():
        items = requests.get(f"{base}/tickets?contact={quote(contact)}", headers=auth, timeout=10).json()["items"]
        return sum(1 for t in items for m in requests.get(f"{base}/tickets/{t['id']}", headers=auth,
                                                          timeout=10).json()["messages"] if m["direction"] == "inbound")
    try:
        eventually(lambda: count() >= expected, timeout=60)
    except AssertionError:
        pass
    return count()


def post(base: str, path: str, request: dict) -> int:
    return requests.post(base + path, timeout=30, **request).status_code


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_payload_delivered_five_times_at_once_is_one_message(local_stack, token, channel):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    contact, (path, request) = delivery(base, channel, 0)
    with ThreadPoolExecutor(TIMES) as pool:
        answers = list(pool.map(lambda _: post(base, path, request), range(TIMES)))
    assert all(200 <= status < 300 for status in answers), answers
    assert inbound_count(base, auth, contact) == 1
    time.sleep(1)   # a second stored copy would be threaded by now
    assert inbound_count(base, auth, contact) == 1


def test_a_chat_message_resent_five_times_at_once_is_one_message(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    session = requests.post(base + "/channels/chat/sessions", json={"name": "Ana"}, timeout=10).json()
    headers = {"Authorization": "Bearer " + session["token"], "Content-Type": JSON}
    body = json.dumps({"text": "Where is my bag?", "client_id": uuid.uuid4().hex})
    with ThreadPoolExecutor(TIMES) as pool:
        answers = list(pool.map(lambda _: requests.post(base + "/channels/chat/messages", data=body, headers=headers,
                                                        timeout=30), range(TIMES)))
    assert sorted(a.status_code for a in answers) == [200] * (TIMES - 1) + [202]
    assert [a.json()["duplicate"] for a in answers].count(False) == 1
    assert inbound_count(base, auth, "chat:" + session["conversation_id"]) == 1


def test_a_mixed_run_with_30_percent_redeliveries_counts_exactly(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    rng = random.Random(30)
    customers = [(CHANNELS[i % len(CHANNELS)], digits(16)) for i in range(18)]
    sent: dict[str, int] = {}
    work = []
    for n in range(2):          # 18 customers across every channel, two messages each
        for channel, who in customers:
            contact, job = delivery(base, channel, n, who)
            sent[contact] = sent.get(contact, 0) + 1
            work.append(job)
            if rng.random() < 0.3:
                work.append(job)    # the provider redelivers it
    rng.shuffle(work)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda job: post(base, *job), work))
    assert all(200 <= status < 300 for status in answers), answers
    redelivered = len(work) - sum(sent.values())
    assert redelivered >= 0.2 * sum(sent.values())
    counts = {contact: inbound_count(base, auth, contact, expected) for contact, expected in sent.items()}
    assert counts == sent
    print(f"\n{len(work)} deliveries, {redelivered} of them redeliveries; {sum(counts.values())} ticket messages")

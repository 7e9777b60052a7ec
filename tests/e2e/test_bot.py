"""The bot on the running local stack: a baggage question answered at once by SMS and by web chat,
then "agent" puts the ticket in a queue with the bot's exchange in it."""
from __future__ import annotations

import random

import requests

from .conftest import eventually
from .test_channels import ticket_for
from .test_sms_path import send_sms


def queued_ids(base, auth, queue) -> dict:
    """Every ticket waiting in the queue, through all its pages."""
    found, cursor = {}, None
    while True:
        page = requests.get(f"{base}/queues/{queue}/tickets", params={"cursor": cursor} if cursor else None,
                            headers=auth, timeout=10).json()
        found.update({t["id"]: t for t in page["items"]})
        cursor = page["next"]
        if not cursor:
            return found


def in_queue(base, auth, queue, ticket_id):
    return eventually(lambda: queued_ids(base, auth, queue).get(ticket_id))


def exchange(base, auth, ticket_id):
    messages = requests.get(f"{base}/tickets/{ticket_id}", headers=auth, timeout=10).json()["messages"]
    return [(m["direction"], m["author"]) for m in messages]


def test_sms_baggage_question_is_answered_by_the_bot_then_handed_over_on_agent(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    phone = f"+1415{random.randrange(10 ** 6, 10 ** 7)}"
    assert send_sms(base, phone, "Hi! How many bags can I bring?").status_code == 200

    def answered():
        sent = requests.get(base + "/local/sent", timeout=10).json()["items"]
        return next((s for s in sent if s["provider"] == "twilio" and s["body"].get("To") == phone), None)
    answer = eventually(answered)
    assert answer["body"]["Body"].startswith("Economy fares include 1 cabin bag")
    ticket = ticket_for(base, auth, phone)
    assert ticket["status"] == "bot"
    assert ticket["id"] not in queued_ids(base, auth, "general")

    assert send_sms(base, phone, "agent").status_code == 200
    handed = in_queue(base, auth, "general", ticket["id"])
    assert handed["status"] == "open" and handed["bot"]["outcome"] == "handed_over"
    assert eventually(lambda: exchange(base, auth, ticket["id"]) == [
        ("inbound", "customer"), ("outbound", "bot"), ("inbound", "customer"), ("outbound", "bot")])


def test_web_chat_baggage_question_is_answered_in_the_poll_then_handed_over(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    session = requests.post(base + "/channels/chat/sessions", json={"name": "Bot Customer"}, timeout=10).json()
    customer = {"Authorization": "Bearer " + session["token"]}
    assert requests.post(base + "/channels/chat/messages", json={"text": "What is the baggage allowance?"},
                         headers=customer, timeout=10).status_code == 202

    def polled():
        items = requests.get(base + "/channels/chat/messages", headers=customer, timeout=10).json()["items"]
        return [m for m in items if m["direction"] == "outbound"]
    [answer] = eventually(polled)
    assert answer["text"].startswith("Economy fares include 1 cabin bag")

    assert requests.post(base + "/channels/chat/messages", json={"text": "Can I talk to a human?"},
                         headers=customer, timeout=10).status_code == 202
    ticket = ticket_for(base, auth, f"chat:{session['conversation_id']}")
    handed = in_queue(base, auth, "general", ticket["id"])
    assert handed["bot"]["reason"] == "asked for a person"
    told = eventually(lambda: len(polled()) == 2 and polled()[-1])
    assert told["text"].startswith("Thanks. A person from our team will answer you here")

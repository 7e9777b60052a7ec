"""Messenger, Instagram and WhatsApp Cloud through POST /channels/meta."""
import json

from chalicelib.storage.models import DeadLetter, InboundMessage, Message, Ticket
from tests.conftest import event

from .conftest import agent_replies, meta_headers


def post(stack, http, payload: dict, headers=None):
    body = json.dumps(payload).encode()
    return http.post("/channels/meta", headers=headers or meta_headers(stack.settings, body), body=body)


def test_the_handshake_echoes_the_challenge_only_for_our_verify_token(stack, http):
    good = http.get(f"/channels/meta?hub.mode=subscribe&hub.verify_token={stack.settings.meta_verify_token}"
                    "&hub.challenge=1158201444")
    assert good.status_code == 200 and good.body == b"1158201444"
    bad = http.get("/channels/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
    assert bad.status_code == 403


def test_a_messenger_batch_opens_tickets_and_ignores_echoes(stack, http):
    response = post(stack, http, event("meta/messenger_batch.json"))
    assert response.status_code == 200 and response.body == b"EVENT_RECEIVED"
    stack.pump.drain()
    inbound = [i for i in InboundMessage.scan() if i.channel == "messenger"]
    assert inbound and all(not json.loads(json.dumps(i.body)).get("automated") for i in inbound)
    assert {t.channel for t in Ticket.scan()} == {"messenger"}


def test_a_messenger_reply_goes_out_through_the_send_api(stack, http):
    post(stack, http, event("meta/messenger_batch.json"))
    stack.pump.drain()
    ticket = next(iter(Ticket.scan()))
    reply = agent_replies(stack, http, ticket.id, "We are on it.")
    assert reply.delivery_status == "sent" and reply.provider_message_id.startswith("m_")
    sent = [r for r in stack.sent("meta") if r["body"].get("message", {}).get("text") == "We are on it."]
    assert sent[0]["url"] == "https://graph.facebook.com/v21.0/me/messages"
    assert sent[0]["body"]["recipient"]["id"] == ticket.reply_to["address"]


def test_a_whatsapp_cloud_message_threads_with_sms_from_the_same_number(stack, http):
    from ..conftest import sms
    wa = event("meta/whatsapp_text.json")
    phone = "+" + wa["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?", sender=phone)
    stack.pump.drain()
    post(stack, http, wa)
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    assert ticket.channels_used == {"sms", "whatsapp"} and ticket.reply_to["provider"] == "meta"
    reply = agent_replies(stack, http, ticket.id, "Found it.")
    assert reply.provider_message_id.startswith("wamid.")
    assert stack.sent("meta")[-1]["body"]["to"] == phone.lstrip("+")


def test_whatsapp_statuses_move_delivery_status_forward(stack, http):
    post(stack, http, event("meta/whatsapp_text.json"))
    stack.pump.drain()
    ticket = next(iter(Ticket.scan()))
    reply = agent_replies(stack, http, ticket.id, "Found it.")
    statuses = event("meta/whatsapp_statuses.json")
    value = statuses["entry"][0]["changes"][0]["value"]
    value["statuses"] = [dict(s, id=reply.provider_message_id) for s in value["statuses"]
                         if s["status"] in ("delivered", "read")]
    assert post(stack, http, statuses).status_code == 200
    assert Message.get(ticket.id, reply.id).delivery_status == "read"


def test_a_forged_signature_is_refused_and_kept(stack, http):
    response = post(stack, http, event("meta/whatsapp_text.json"),
                    headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"})
    assert response.status_code == 401
    assert [d.source for d in DeadLetter.scan()] == ["meta"]


def whatsapp_batch(*senders: str) -> dict:
    payload = event("meta/whatsapp_text.json")
    value = payload["entry"][0]["changes"][0]["value"]
    [message] = value["messages"]
    value["messages"] = [dict(message, id=f"wamid.{i}", **{"from": sender}) for i, sender in enumerate(senders)]
    return payload


def test_a_batch_with_one_unreadable_message_stores_the_others_and_keeps_that_one_for_replay(stack, http,
                                                                                           monkeypatch):
    import channels.meta as meta

    from ..conftest import bearer
    response = post(stack, http, whatsapp_batch("12", "14155550123"))
    assert response.status_code == 200    # Meta would redeliver the whole batch, good message included
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    assert ticket.channel == "whatsapp"
    [letter] = http.get("/admin/dead-letters", headers=bearer(stack.settings, "sam")).json_body["items"]
    assert letter["source"] == "meta" and letter["replayable"]
    assert letter["reason"].startswith("1 of 2 parts refused, the others stored: WhatsApp message: WhatsApp sender")
    early = http.post(f"/admin/dead-letters/{letter['id']}/replay", headers=bearer(stack.settings, "sam"))
    assert early.status_code == 422 and "WhatsApp sender '12'" in early.json_body["error"]["message"]
    assert DeadLetter.get(letter["id"]).replayed_at is None and InboundMessage.count() == 1
    real = meta._e164
    monkeypatch.setattr(meta, "_e164", lambda wa_id: "+14155550012" if wa_id == "12" else real(wa_id))  # fixed
    late = http.post(f"/admin/dead-letters/{letter['id']}/replay", headers=bearer(stack.settings, "sam"))
    assert late.status_code == 200 and late.json_body["stored"] == 1 and late.json_body["duplicates"] == 1
    assert InboundMessage.count() == 2 and DeadLetter.get(letter["id"]).replayed_at is not None


def test_a_batch_of_nothing_but_unreadable_messages_is_refused_whole(stack, http):
    response = post(stack, http, whatsapp_batch("12", "34"))
    assert response.status_code == 422 and "WhatsApp sender '34'" in response.json_body["error"]["message"]
    assert [d.source for d in DeadLetter.scan()] == ["meta"] and InboundMessage.count() == 0

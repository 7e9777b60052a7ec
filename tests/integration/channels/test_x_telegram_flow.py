"""X direct messages and Telegram bot updates, in and out."""
import json

from chalicelib.storage.models import DeadLetter, InboundMessage, Ticket
from tests.conftest import event

from ..conftest import bearer
from .conftest import agent_replies, telegram_headers, x_headers


def test_the_x_crc_check_answers_with_our_hmac(stack, http):
    response = http.get("/channels/x?crc_token=challenge")
    assert response.status_code == 200 and response.json_body["response_token"].startswith("sha256=")


def test_an_x_dm_becomes_a_ticket_and_the_reply_a_dm(stack, http):
    body = json.dumps(event("x/dm.json")).encode()
    assert http.post("/channels/x", headers=x_headers(stack.settings, body), body=body).status_code == 200
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    assert ticket.channel == "x"
    reply = agent_replies(stack, http, ticket.id, "Happy to help over DM.")
    assert reply.delivery_status == "sent"
    out = [r for r in stack.sent("x") if r["body"] == {"text": "Happy to help over DM."}][0]
    assert out["url"] == f"https://api.x.com/2/dm_conversations/with/{ticket.reply_to['address']}/messages"


def test_a_webhook_body_signed_by_our_own_crc_answer_is_not_accepted(stack, http):
    from urllib.parse import quote
    body = json.dumps(event("x/dm.json")).encode()
    oracle = http.get("/channels/x?crc_token=" + quote(body.decode()))
    assert oracle.status_code == 400
    assert InboundMessage.count() == 0


def test_an_x_dm_with_a_bad_signature_is_refused(stack, http):
    body = json.dumps(event("x/dm.json")).encode()
    headers = {"Content-Type": "application/json", "x-twitter-webhooks-signature": "sha256=AAAA"}
    assert http.post("/channels/x", headers=headers, body=body).status_code == 401
    assert InboundMessage.count() == 0


def test_a_telegram_message_and_its_redelivery_make_one_ticket_message(stack, http):
    body = json.dumps(event("telegram/message.json")).encode()
    for _ in range(2):
        assert http.post("/channels/telegram", headers=telegram_headers(stack.settings), body=body).status_code == 200
    stack.pump.drain()
    [ticket] = list(Ticket.scan())
    assert ticket.inbound_count == 1 and ticket.channel == "telegram"
    reply = agent_replies(stack, http, ticket.id, "Bonjour !")
    out = [r for r in stack.sent("telegram") if r["body"].get("text") == "Bonjour !"][0]
    assert out["url"] == "https://api.telegram.org/bot<token>/sendMessage"
    assert str(out["body"]["chat_id"]) == ticket.reply_to["from"]
    assert reply.provider_message_id.startswith(ticket.reply_to["from"] + ":")


def test_a_telegram_update_without_our_secret_is_refused(stack, http):
    body = json.dumps(event("telegram/message.json")).encode()
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "guess"}
    assert http.post("/channels/telegram", headers=headers, body=body).status_code == 401


def test_a_refused_telegram_update_is_kept_without_our_webhook_secret_and_still_replays(stack, http, monkeypatch):
    import channels.telegram as telegram
    from chalicelib.errors import Unprocessable

    real = telegram.normalize

    def unreadable(update):
        raise Unprocessable("a Telegram update we cannot read yet")
    monkeypatch.setattr(telegram, "normalize", unreadable)
    body = json.dumps(event("telegram/message.json")).encode()
    assert http.post("/channels/telegram", headers=telegram_headers(stack.settings), body=body).status_code == 422
    [letter] = list(DeadLetter.scan())
    assert letter.payload["replayable"] and stack.settings.telegram_secret_token not in json.dumps(letter.payload)
    assert {k.lower() for k in letter.payload["headers"]} == {"content-type"}
    monkeypatch.setattr(telegram, "normalize", real)  # fixed: the replay needs no secret, it was verified on arrival
    replayed = http.post(f"/admin/dead-letters/{letter.id}/replay", headers=bearer(stack.settings, "sam"))
    assert replayed.status_code == 200 and replayed.json_body["stored"] == 1 and InboundMessage.count() == 1


def test_a_telegram_update_with_a_wrong_secret_is_kept_without_it(stack, http):
    """The wrong one may be our previous secret, sent by a webhook not yet moved to the new one."""
    body = json.dumps(event("telegram/message.json")).encode()
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "our-previous-secret"}
    assert http.post("/channels/telegram", headers=headers, body=body).status_code == 401
    [letter] = list(DeadLetter.scan())
    assert not letter.payload["replayable"] and "our-previous-secret" not in json.dumps(letter.payload)


def test_monitor_only_mode_accepts_a_bad_secret_but_logs_it(stack, http, monkeypatch, caplog):
    import dataclasses

    from chalicelib import settings as settings_module
    monkeypatch.setattr(settings_module, "_settings",
                        dataclasses.replace(stack.settings, monitor_only=frozenset({"telegram"})))
    body = json.dumps(event("telegram/message.json")).encode()
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "guess"}
    assert http.post("/channels/telegram", headers=headers, body=body).status_code == 200
    assert InboundMessage.count() == 1
    assert any("monitor-only" in r.getMessage() for r in caplog.records)

"""Dead letters: an async record that kept failing is kept, listed and replayed to completion."""
import json

from chalicelib.services import conversations
from chalicelib.storage.models import DeadLetter, InboundMessage, Ticket

from .conftest import bearer, sms


def test_a_record_whose_handler_kept_failing_is_dead_lettered_then_replayed_exactly_once(stack, http, monkeypatch):
    real = conversations.process

    def broken(item):
        raise RuntimeError("threading is down")
    monkeypatch.setattr(conversations, "process", broken)
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    stack.pump.drain()
    assert InboundMessage.get("sms#SM" + "1" * 32).status == "stored" and Ticket.count() == 0
    [letter] = http.get("/admin/dead-letters", headers=bearer(stack.settings, "sam")).json_body["items"]
    assert letter["source"].startswith("stream:") and "threading is down" in letter["reason"]

    monkeypatch.setattr(conversations, "process", real)
    replayed = http.post(f"/admin/dead-letters/{letter['id']}/replay", headers=bearer(stack.settings, "sam"))
    assert replayed.status_code == 200 and replayed.json_body["ticket_id"]
    assert Ticket.count() == 1 and DeadLetter.get(letter["id"]).replayed_at is not None
    again = http.post(f"/admin/dead-letters/{letter['id']}/replay", headers=bearer(stack.settings, "sam"))
    assert again.status_code == 409 and Ticket.count() == 1


def test_a_forged_webhook_is_kept_but_never_replayed(stack, http):
    response = http.post("/channels/twilio/sms", body="MessageSid=SMx&From=%2B14155550123",
                         headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"})
    assert response.status_code == 401
    [letter] = http.get("/admin/dead-letters", headers=bearer(stack.settings, "sam")).json_body["items"]
    assert not letter["replayable"]
    replayed = http.post(f"/admin/dead-letters/{letter['id']}/replay", headers=bearer(stack.settings, "sam"))
    assert replayed.status_code == 409 and "failed verification" in replayed.json_body["error"]["message"]


def test_a_letter_kept_for_another_reason_than_verification_says_so_when_replayed(stack, http):
    response = http.post("/channels/telegram", body=b"{}" + b" " * (stack.settings.max_body_bytes + 1),
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    [letter] = list(DeadLetter.scan())
    replayed = http.post(f"/admin/dead-letters/{letter.id}/replay", headers=bearer(stack.settings, "sam"))
    message = replayed.json_body["error"]["message"]
    assert replayed.status_code == 409 and "payload too large" in message and "verification" not in message


def test_replaying_a_failed_notification_sends_it_and_clears_the_failure(stack, http):
    import json
    import urllib.request

    from chalicelib.storage.models import Message
    request = urllib.request.Request(stack.sink.url + "/faults", method="POST",
                                     data=json.dumps({"provider": "twilio", "count": 1, "status": 400}).encode())
    urllib.request.urlopen(request).close()
    sms(stack, http, "SM" + "2" * 32, "Where is my bag?")
    stack.pump.drain()
    [letter] = [d for d in http.get("/admin/dead-letters", headers=bearer(stack.settings, "sam")).json_body["items"]
                if d["source"] == "notifier"]
    replayed = http.post(f"/admin/dead-letters/{letter['id']}/replay", headers=bearer(stack.settings, "sam"))
    assert replayed.status_code == 200
    ack = next(m for m in Message.scan() if m.author == "system")
    assert ack.delivery_status == "queued" and ack.failure_reason is None


def test_a_notification_replay_cut_off_before_it_redelivered_can_be_replayed_again(stack, http, monkeypatch):
    import json
    import urllib.request

    from chalicelib.services import notifier, replay
    request = urllib.request.Request(stack.sink.url + "/faults", method="POST",
                                     data=json.dumps({"provider": "twilio", "count": 1, "status": 400}).encode())
    urllib.request.urlopen(request).close()
    sms(stack, http, "SM" + "3" * 32, "Where is my bag?")
    stack.pump.drain()
    [letter] = [d for d in DeadLetter.scan() if d.source == "notifier"]
    redeliver = notifier.redeliver

    def cut_off(*args):
        raise TimeoutError("the function timed out")
    monkeypatch.setattr(notifier, "redeliver", cut_off)
    try:
        replay.replay(letter.id)
    except TimeoutError:
        pass
    monkeypatch.setattr(notifier, "redeliver", redeliver)
    replayed = http.post(f"/admin/dead-letters/{letter.id}/replay", headers=bearer(stack.settings, "sam"))
    assert replayed.status_code == 200 and replayed.json_body["redelivered"]
    assert len(stack.sent("twilio")) == 1


def test_a_batch_replayed_while_every_part_is_still_unreadable_answers_422_and_stays_replayable(stack, http,
                                                                                               monkeypatch):
    import channels.meta as meta
    from tests.conftest import event

    from .channels.conftest import meta_headers
    payload = event("meta/whatsapp_text.json")
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"] = [dict(value["messages"][0], id=f"wamid.{i}", **{"from": sender})
                         for i, sender in enumerate(("12", "34"))]
    body = json.dumps(payload).encode()
    assert http.post("/channels/meta", headers=meta_headers(stack.settings, body), body=body).status_code == 422
    [letter] = list(DeadLetter.scan())
    early = http.post(f"/admin/dead-letters/{letter.id}/replay", headers=bearer(stack.settings, "sam"))
    assert early.status_code == 422 and len(early.json_body["error"]["details"]) == 2
    assert DeadLetter.get(letter.id).replayed_at is None
    monkeypatch.setattr(meta, "_e164", lambda wa_id: "+1415555" + wa_id.zfill(4))   # the parser is fixed
    late = http.post(f"/admin/dead-letters/{letter.id}/replay", headers=bearer(stack.settings, "sam"))
    assert late.status_code == 200 and late.json_body["stored"] == 2 and InboundMessage.count() == 2


def monitor_only(stack, monkeypatch, channel: str) -> None:
    import dataclasses

    from chalicelib import settings as settings_module
    monkeypatch.setattr(settings_module, "_settings",
                        dataclasses.replace(stack.settings, monitor_only=frozenset({channel})))


def test_an_unverified_payload_let_in_by_monitor_only_mode_that_fails_to_normalize_is_never_replayable(
        stack, http, monkeypatch):
    import channels.telegram as telegram
    from chalicelib.errors import Unprocessable
    from tests.conftest import event
    monitor_only(stack, monkeypatch, "telegram")
    real = telegram.normalize
    monkeypatch.setattr(telegram, "normalize", lambda update: (_ for _ in ()).throw(Unprocessable("parser bug")))
    forged = json.dumps(event("telegram/message.json"))
    assert http.post("/channels/telegram", body=forged, headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "wrong"}).status_code == 422
    [letter] = list(DeadLetter.scan())
    assert letter.payload["replayable"] is False
    monkeypatch.setattr(telegram, "normalize", real)
    replayed = http.post(f"/admin/dead-letters/{letter.id}/replay", headers=bearer(stack.settings, "sam"))
    assert replayed.status_code == 409 and "failed verification" in replayed.json_body["error"]["message"]
    assert InboundMessage.count() == 0


def test_an_unverified_batch_let_in_by_monitor_only_mode_keeps_its_refused_part_unreplayable(stack, http,
                                                                                            monkeypatch):
    from tests.conftest import event
    monitor_only(stack, monkeypatch, "meta")
    payload = event("meta/whatsapp_text.json")
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"] = [dict(value["messages"][0], id=f"wamid.{i}", **{"from": sender})
                         for i, sender in enumerate(("12", "14155550123"))]
    assert http.post("/channels/meta", body=json.dumps(payload), headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"}).status_code == 200
    [letter] = list(DeadLetter.scan())
    assert letter.reason.startswith("1 of 2 parts refused") and letter.payload["replayable"] is False

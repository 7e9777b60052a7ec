"""POST /channels/twilio/sms: verified, stored once, acknowledged with TwiML."""
from chalicelib.storage.models import DeadLetter, InboundMessage, Message, Ticket
from tests.conftest import event
from tests.helpers import twilio_signed

from .conftest import sms

PATH = "/channels/twilio/sms"


def test_a_signed_sms_is_stored_and_acknowledged_with_twiml(stack, http):
    response = sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml"
    assert b"<Response" in response.body
    assert InboundMessage.get("sms#SM" + "1" * 32).status == "stored"


def test_a_redelivery_is_acknowledged_and_changes_nothing(stack, http):
    sid = "SM" + "2" * 32
    assert sms(stack, http, sid, "Where is my bag?").status_code == 200
    stack.pump.drain()
    assert sms(stack, http, sid, "Where is my bag?").status_code == 200
    stack.pump.drain()
    ticket_id = InboundMessage.get("sms#" + sid).ticket_id
    inbound = [m for m in Message.query(ticket_id) if m.direction == "inbound"]
    assert len(inbound) == 1


def test_a_bad_signature_gets_401_is_kept_with_its_reason_and_stores_nothing(stack, http):
    params = event("twilio/sms_inbound.json")
    body, headers = twilio_signed(stack.settings, PATH, params)
    headers["X-Twilio-Signature"] = "AAAA" + headers["X-Twilio-Signature"][4:]
    response = http.post(PATH, headers=headers, body=body)
    assert response.status_code == 401
    assert response.json_body["error"]["code"] == "unauthorized"
    assert InboundMessage.count() == 0
    letters = list(DeadLetter.scan())  # test-only inspection
    assert [(d.source, d.payload["replayable"]) for d in letters] == [("twilio/sms", False)]
    assert "does not match" in letters[0].reason


def test_an_authentic_but_unusable_message_gets_422_and_is_kept_replayable(stack, http):
    params = {k: v for k, v in event("twilio/sms_inbound.json").items()
              if k not in ("MessageSid", "SmsMessageSid", "SmsSid")}
    body, headers = twilio_signed(stack.settings, PATH, params)
    response = http.post(PATH, headers=headers, body=body)
    assert response.status_code == 422
    assert [d.payload["replayable"] for d in DeadLetter.scan()] == [True]


def test_json_is_not_a_twilio_webhook(stack, http):
    response = http.post(PATH, headers={"Content-Type": "application/json"}, body=b"{}")
    assert response.status_code == 415
    assert response.json_body["error"]["code"] == "unsupported_media_type"


def test_an_oversized_body_gets_413(stack, http):
    body = "Body=" + "x" * (stack.settings.max_body_bytes + 1)
    response = http.post(PATH, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body)
    assert response.status_code == 413
    assert Ticket.count() == 0


def status_callback(stack, http, sid: str, status: str, **extra):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": stack.settings.twilio_account_sid,
              "ApiVersion": "2010-04-01", **extra}
    body, headers = twilio_signed(stack.settings, "/channels/twilio/status", params)
    return http.post("/channels/twilio/status", headers=headers, body=body)


def acknowledgement(ticket_id):
    return next(m for m in Message.query(ticket_id) if m.author == "system")


def test_status_callbacks_move_delivery_status_forward_never_back(stack, http):
    sms(stack, http, "SM" + "3" * 32, "Where is my bag?")
    stack.pump.drain()
    ack = acknowledgement(InboundMessage.get("sms#SM" + "3" * 32).ticket_id)
    for status in ("sent", "delivered", "sent"):
        assert status_callback(stack, http, ack.provider_message_id, status).status_code == 204
    assert Message.get(ack.ticket_id, ack.id).delivery_status == "delivered"


def test_an_undelivered_callback_fails_the_message_with_the_error_code(stack, http):
    sms(stack, http, "SM" + "4" * 32, "Where is my bag?")
    stack.pump.drain()
    ack = acknowledgement(InboundMessage.get("sms#SM" + "4" * 32).ticket_id)
    status_callback(stack, http, ack.provider_message_id, "undelivered", ErrorCode="30003")
    stored = Message.get(ack.ticket_id, ack.id)
    assert (stored.delivery_status, stored.failure_reason) == ("failed", "twilio error 30003")


def test_stop_opts_the_number_out_and_nothing_is_sent_to_it_until_start(stack, http):
    from chalicelib.storage.models import Identity
    sms(stack, http, "SM" + "5" * 32, "Where is my bag?")
    stack.pump.drain()
    ticket_id = InboundMessage.get("sms#SM" + "5" * 32).ticket_id
    sms(stack, http, "SM" + "6" * 32, "STOP")
    stack.pump.drain()
    assert Identity.get("phone:+14155550123").opted_out is True
    assert InboundMessage.get("sms#SM" + "6" * 32).reason == "keyword: opt_out"
    from .conftest import bearer
    headers = {**bearer(stack.settings, "bob"), "Content-Type": "application/json"}
    http.post(f"/tickets/{ticket_id}/replies", headers=headers, body='{"text": "Found your bag."}')
    before = len(stack.sent("twilio"))
    stack.pump.drain()
    assert len(stack.sent("twilio")) == before
    refused = [m for m in Message.query(ticket_id) if m.text == "Found your bag."][0]
    assert refused.delivery_status == "failed" and "opted out" in refused.failure_reason
    sms(stack, http, "SM" + "7" * 32, "start")
    stack.pump.drain()
    assert Identity.get("phone:+14155550123").opted_out is False
    # to an open ticket a keyword is also what the customer said: the agent sees it
    assert [m.text for m in Message.query(ticket_id) if m.direction == "inbound"] == [
        "Where is my bag?", "STOP", "start"]


def test_a_one_word_answer_that_is_also_a_keyword_reaches_the_open_ticket(stack, http):
    from chalicelib.storage.models import Identity
    sms(stack, http, "SM" + "8" * 32, "Where is my bag?")
    stack.pump.drain()
    ticket_id = InboundMessage.get("sms#SM" + "8" * 32).ticket_id
    for n, answer in enumerate(("Yes", "Info", "Cancel")):
        sms(stack, http, "SM" + "9" * 31 + str(n), answer)
        stack.pump.drain()
    assert [m.text for m in Message.query(ticket_id) if m.direction == "inbound"][1:] == ["Yes", "Info", "Cancel"]
    assert Identity.get("phone:+14155550123").opted_out is True   # Twilio's opt-out word all the same


def test_a_keyword_with_no_open_ticket_opens_none(stack, http):
    sms(stack, http, "SM" + "c" * 32, "HELP", sender="+14155550177")
    stack.pump.drain()
    assert Ticket.count() == 0 and InboundMessage.get("sms#SM" + "c" * 32).reason == "keyword: help"


def test_a_status_that_comes_before_our_record_of_the_send_is_applied_when_the_record_is_there(
        stack, http, monkeypatch):
    from chalicelib.services import deliveries
    monkeypatch.setattr(deliveries, "RETRY_DELAYS", (0, 0))   # SQS's delay, not waited for here
    sms(stack, http, "SM" + "d" * 32, "Where is my bag?")
    stack.pump.drain()
    ack = acknowledgement(InboundMessage.get("sms#SM" + "d" * 32).ticket_id)
    early = "SM" + "e" * 32
    assert status_callback(stack, http, early, "delivered").status_code == 204   # Twilio was quicker than us
    ack.update(actions=[Message.provider_message_id.set(early), Message.lookup_id.set(early)])  # now recorded
    stack.pump.drain()
    assert Message.get(ack.ticket_id, ack.id).delivery_status == "delivered" and DeadLetter.count() == 0


def test_a_status_for_a_message_still_unknown_after_its_last_try_is_kept_and_replayable(stack, http, monkeypatch):
    from chalicelib.services import deliveries

    from .conftest import bearer
    monkeypatch.setattr(deliveries, "RETRY_DELAYS", (0, 0))
    status_callback(stack, http, "SM" + "e" * 32, "delivered")
    assert DeadLetter.count() == 0
    stack.pump.drain()
    [letter] = http.get("/admin/dead-letters", headers=bearer(stack.settings, "sam")).json_body["items"]
    assert letter["source"] == "status/twilio" and letter["replayable"] and "after 2 tries" in letter["reason"]


def test_refused_bodies_are_kept_even_before_verification(stack, http):
    http.post(PATH, headers={"Content-Type": "application/json"}, body=b"{}")
    body = "Body=" + "x" * (stack.settings.max_body_bytes + 1)
    http.post(PATH, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body)
    assert sorted(d.reason for d in DeadLetter.scan()) == ["payload too large", "unsupported media type"]


def test_a_status_retry_that_keeps_failing_is_kept_on_its_last_receive_not_lost_to_the_queues_dlq(
        stack, monkeypatch):
    import json

    import pytest

    from chalicelib.services import notifier
    lambda_event = event("aws/sqs_notify_retry.json")
    record = lambda_event["Records"][0]
    record["body"] = json.dumps({"status_update": {"provider": "twilio", "provider_message_id": "SM" + "f" * 32,
                                                   "status": "delivered", "reason": None}, "tries": 1})

    def down(*args, **kwargs):
        raise RuntimeError("DynamoDB went away")
    monkeypatch.setattr(Message.by_provider_id, "query", down)
    record["attributes"]["ApproximateReceiveCount"] = str(notifier.RETRY_RECEIVES - 1)
    with pytest.raises(RuntimeError):      # SQS delivers it again
        stack.app.handle_notify_retry(lambda_event, None)
    record["attributes"]["ApproximateReceiveCount"] = str(notifier.RETRY_RECEIVES)
    stack.app.handle_notify_retry(lambda_event, None)
    [letter] = DeadLetter.scan()
    assert letter.source == "status/twilio" and letter.payload["record"]["status_update"]["status"] == "delivered"

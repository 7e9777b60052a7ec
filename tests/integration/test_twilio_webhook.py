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

import pytest

from chalicelib.errors import Unauthorized, Unprocessable
from channels import twilio_sms
from channels.base import RawRequest
from tests.conftest import event
from tests.helpers import twilio_signed

PATH = "/channels/twilio/sms"


def request(body: str, headers: dict) -> RawRequest:
    return RawRequest("POST", PATH, headers, body.encode())


def test_a_request_signed_for_our_public_url_verifies(settings):
    body, headers = twilio_signed(settings, PATH, event("twilio/sms_inbound.json"))
    form = twilio_sms.verify(request(body, headers), settings)
    assert form["MessageSid"].startswith("SM")


def test_a_tampered_body_is_refused(settings):
    params = event("twilio/sms_inbound.json")
    body, headers = twilio_signed(settings, PATH, params)
    with pytest.raises(Unauthorized):
        twilio_sms.verify(request(body.replace("terrible", "fine"), headers), settings)


def test_a_signature_for_another_url_is_refused(settings):
    body, headers = twilio_signed(settings, "/elsewhere", event("twilio/sms_inbound.json"))
    with pytest.raises(Unauthorized):
        twilio_sms.verify(request(body, headers), settings)


def test_a_missing_signature_is_refused(settings):
    with pytest.raises(Unauthorized):
        twilio_sms.verify(request("From=%2B1", {}), settings)


def test_an_sms_normalises_to_the_inbound_shape():
    [msg] = twilio_sms.normalize(event("twilio/sms_inbound.json"))
    assert (msg.channel, msg.sender, msg.recipient) == ("sms", "+14155550123", "+14155559999")
    assert msg.dedup_key == "sms#SM9b1a3e4f5c6d7e8f9a0b1c2d3e4f5a6b"


def test_mms_media_are_recorded():
    [msg] = twilio_sms.normalize(event("twilio/mms_inbound.json"))
    assert [m.content_type for m in msg.media] == ["image/jpeg", "image/png"]


def test_whatsapp_via_twilio_keeps_its_channel_and_profile_name():
    [msg] = twilio_sms.normalize(event("twilio/whatsapp_inbound.json"))
    assert (msg.channel, msg.sender, msg.sender_name) == ("whatsapp", "+33612345678", "Amélie")
    assert msg.recipient == "+14155238886"


def test_a_message_without_sid_is_unprocessable():
    with pytest.raises(Unprocessable):
        twilio_sms.normalize({"From": "+14155550123", "Body": "hi"})


def test_the_acknowledgement_is_empty_twiml():
    assert twilio_sms.acknowledge().endswith("<Response />")


def test_a_num_media_that_is_no_number_is_unprocessable():
    with pytest.raises(Unprocessable, match="malformed Twilio message"):
        twilio_sms.normalize({**event("twilio/sms_inbound.json"), "NumMedia": "two"})


def test_a_huge_num_media_reads_at_most_twilios_ten_media():
    from channels import twilio_sms
    form = {"MessageSid": "SM" + "1" * 32, "From": "+14155550123", "To": "+14155559999", "Body": "hi",
            "NumMedia": "999999999999", **{f"MediaUrl{i}": f"https://api.twilio.com/m{i}" for i in range(12)}}
    assert len(twilio_sms.normalize(form)[0].media) == 10


def test_a_mexican_whatsapp_number_with_its_old_mobile_1_is_the_same_number_as_by_sms():
    form = dict(event("twilio/whatsapp_inbound.json"), From="whatsapp:+5215512345678", WaId="5215512345678")
    [msg] = twilio_sms.normalize(form)
    assert msg.sender == "+525512345678"

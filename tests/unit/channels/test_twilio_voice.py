import pytest

from chalicelib.errors import Unauthorized, Unprocessable
from channels import twilio_voice
from channels.base import RawRequest
from tests.conftest import event
from tests.helpers import twilio_signed

RECORDING = "/channels/twilio/voice/recording"


def test_a_status_callback_signed_over_our_url_with_the_caller_verifies_and_names_the_caller(settings):
    body, headers = twilio_signed(settings, RECORDING + "?caller=%2B14155550123",
                                  event("twilio/voice_recording_status.json"))
    form = twilio_voice.verify(RawRequest("POST", RECORDING, headers, body.encode(), {"caller": "+14155550123"}),
                               settings)
    [message] = twilio_voice.recording(form)
    assert message.sender == "+14155550123" and message.dedup_key == "voice#RE3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9"


def test_a_caller_swapped_in_the_query_is_refused(settings):
    body, headers = twilio_signed(settings, RECORDING + "?caller=%2B14155550123",
                                  event("twilio/voice_recording_status.json"))
    with pytest.raises(Unauthorized):
        twilio_voice.verify(RawRequest("POST", RECORDING, headers, body.encode(), {"caller": "+14155550999"}),
                            settings)


def test_a_ringing_call_is_no_message_and_a_key_pressed_is_a_call_back_request():
    assert twilio_voice.call(event("twilio/voice_inbound.json")) == []
    [request] = twilio_voice.call(event("twilio/voice_gather.json"))
    assert request.dedup_key == "voice#CA5f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert request.voice == {"kind": "call_back", "call_sid": "CA5f1e2d3c4b5a69788796a5b4c3d2e1f0"}
    assert (request.sender, request.recipient) == ("+14155550123", "+14155559999")


def test_the_record_action_is_the_voicemail_with_its_recording():
    [voicemail] = twilio_voice.recording(event("twilio/voice_record_action.json"))
    assert voicemail.voice["duration"] == 14 and voicemail.voice["recording_status"] == "completed"
    assert voicemail.media[0].url.endswith("/Recordings/RE3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9")
    assert voicemail.thread_refs == ("RE3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9",)


def test_a_transcription_is_its_own_delivery_of_the_same_recording():
    [completed] = twilio_voice.transcription(event("twilio/voice_transcription.json"))
    assert completed.dedup_key == "voice#RE3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9:transcription"
    assert completed.text.startswith("Hi, my flight") and completed.voice["transcription_status"] == "completed"
    [failed] = twilio_voice.transcription(event("twilio/voice_transcription_failed.json"))
    assert failed.text == "" and failed.voice["transcription_status"] == "failed"


def test_callbacks_without_their_ids_are_unprocessable():
    with pytest.raises(Unprocessable):
        twilio_voice.recording({"From": "+14155550123"})
    with pytest.raises(Unprocessable):
        twilio_voice.transcription({**event("twilio/voice_transcription.json"), "TranscriptionStatus": "in-progress"})
    with pytest.raises(Unprocessable):
        twilio_voice.recording({**event("twilio/voice_recording_status.json")})  # no From, no caller


def test_the_greeting_escapes_its_text_and_records_at_most_two_minutes():
    twiml = twilio_voice.greeting("https://api.example.com", "+14155550123", "de",
                                  {"greeting": "Hallo <&>", "no_message": "Tschüss"})
    assert '<Say language="de-DE">Hallo &lt;&amp;&gt;</Say>' in twiml
    assert 'maxLength="120"' in twiml and 'transcribe="true"' in twiml
    assert 'recordingStatusCallback="https://api.example.com/channels/twilio/voice/recording?caller=%2B14155550123"' \
        in twiml

"""Twilio Voice: a call answered with TwiML, a voicemail and its transcription in any order, a call-back request."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from chalicelib.storage.models import DeadLetter, InboundMessage, Message, Ticket
from tests.conftest import event
from tests.helpers import twilio_signed

from ..conftest import bearer, sms
from .conftest import agent_replies, only_ticket

VOICE, RECORDING, TRANSCRIPTION = ("/channels/twilio/voice", "/channels/twilio/voice/recording",
                                   "/channels/twilio/voice/transcription")


def post(stack, http, path: str, params: dict, query: dict | None = None):
    url = path + ("?" + urlencode(query) if query else "")
    body, headers = twilio_signed(stack.settings, url, params)
    return http.post(url, headers=headers, body=body)


def voicemail_messages(ticket_id: str) -> list[Message]:
    return [m for m in Message.query(ticket_id) if m.direction == "inbound"]


def ticket_view(stack, http, ticket_id: str) -> dict:
    return http.get(f"/tickets/{ticket_id}", headers=bearer(stack.settings, "sam")).json_body


def test_a_call_is_greeted_with_a_key_for_a_call_back_then_a_transcribed_recording(stack, http):
    response = post(stack, http, VOICE, event("twilio/voice_inbound.json"))
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/xml"
    twiml = response.body.decode()
    base = stack.settings.public_base_url
    assert f'<Gather action="{base}/channels/twilio/voice"' in twiml and 'numDigits="1"' in twiml
    assert f'transcribeCallback="{base}/channels/twilio/voice/transcription"' in twiml
    assert (f'recordingStatusCallback="{base}/channels/twilio/voice/recording?caller=%2B14155550123'
            '&amp;called=%2B14155559999"') in twiml
    assert '<Say language="en-US">' in twiml
    assert InboundMessage.count() == 0  # ringing stores nothing


def test_a_known_caller_is_greeted_in_their_language(stack, http):
    sms(stack, http, "SM" + "f" * 32, "Bonjour, mon vol pour Lisbonne est annulé, que dois-je faire ?")
    stack.pump.drain()
    twiml = post(stack, http, VOICE, event("twilio/voice_inbound.json")).body.decode()
    assert '<Say language="fr-FR">Bonjour' in twiml


def test_a_voicemail_then_its_transcription_make_one_scored_message_with_recording_and_text(stack, http):
    action = post(stack, http, RECORDING, event("twilio/voice_record_action.json"))
    assert action.status_code == 200 and b"<Hangup" in action.body
    stack.pump.drain()
    ticket = only_ticket()
    [message] = voicemail_messages(ticket.id)
    assert ticket.channel == "voice" and message.text == ""
    assert ticket_view(stack, http, ticket.id)["messages"][0]["voice"]["transcription"] == "pending"
    before = ticket.jet["score"]

    assert post(stack, http, TRANSCRIPTION, event("twilio/voice_transcription.json")).status_code == 200
    stack.pump.drain()
    ticket = Ticket.get(ticket.id)
    [message] = voicemail_messages(ticket.id)
    assert "flight to Lisbon was cancelled" in message.text
    assert message.voice["duration"] == 14 and message.voice["transcription_status"] == "completed"
    assert ticket.intent == "cancellation" and ticket.jet["score"] > before
    view = ticket_view(stack, http, ticket.id)
    assert view["reply_action"] == {"action": "call_back", "phone": "+14155550123", "text_replies": "sms"}
    assert view["messages"][0]["voice"]["recording_url"].endswith("RE3a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9")
    assert "note" not in view["messages"][0]["voice"]


def test_a_transcription_before_the_recording_callback_still_makes_one_message(stack, http):
    post(stack, http, TRANSCRIPTION, event("twilio/voice_transcription.json"))
    stack.pump.drain()
    post(stack, http, RECORDING, event("twilio/voice_recording_status.json"), {"caller": "+14155550123"})
    post(stack, http, RECORDING, event("twilio/voice_record_action.json"))
    stack.pump.drain()
    ticket = only_ticket()
    [message] = voicemail_messages(ticket.id)
    assert "Lisbon" in message.text and message.voice["duration"] == 14
    assert message.voice["transcription_status"] == "completed"


def test_a_recording_status_that_comes_before_the_record_action_still_knows_the_number_called(stack, http):
    post(stack, http, RECORDING, event("twilio/voice_recording_status.json"),
         {"caller": "+14155550123", "called": "+14155559999"})       # as our greeting's callback URL names them
    post(stack, http, RECORDING, event("twilio/voice_record_action.json"))   # the same recording: a duplicate
    stack.pump.drain()
    ticket = only_ticket()
    agent_replies(stack, http, ticket.id, "We will call you at 3pm.")
    [sent] = [s for s in stack.sent("twilio") if "3pm" in json.dumps(s["body"])]
    assert sent["body"]["From"] == "+14155559999"   # answered from the number they called


def test_a_failed_transcription_leaves_the_recording_and_says_why(stack, http):
    post(stack, http, RECORDING, event("twilio/voice_record_action.json"))
    post(stack, http, TRANSCRIPTION, event("twilio/voice_transcription_failed.json"))
    stack.pump.drain()
    ticket = only_ticket()
    [voice] = [m["voice"] for m in ticket_view(stack, http, ticket.id)["messages"] if m["direction"] == "inbound"]
    assert voice["transcription"] == "failed" and "could not transcribe" in voice["note"]
    assert voice["recording_url"] and voice["duration"] == 14


def test_an_absent_recording_still_opens_a_ticket_with_the_reason(stack, http):
    params = {**event("twilio/voice_recording_status.json"), "RecordingStatus": "absent", "RecordingUrl": "",
              "RecordingDuration": "0"}
    assert post(stack, http, RECORDING, params, {"caller": "+14155550123"}).status_code == 200
    stack.pump.drain()
    ticket = only_ticket()
    [voice] = [m["voice"] for m in ticket_view(stack, http, ticket.id)["messages"]]
    assert "recording is absent" in voice["note"]


def test_repeated_callbacks_change_nothing(stack, http):
    for _ in range(2):
        post(stack, http, RECORDING, event("twilio/voice_record_action.json"))
        post(stack, http, TRANSCRIPTION, event("twilio/voice_transcription.json"))
        post(stack, http, VOICE, event("twilio/voice_gather.json"))
        stack.pump.drain()
    ticket = only_ticket()
    assert len(voicemail_messages(ticket.id)) == 2  # the voicemail and the call-back request
    assert InboundMessage.count() == 3
    assert ticket.inbound_count == 2


def test_a_key_pressed_is_a_call_back_request_on_the_callers_ticket_shared_with_sms(stack, http):
    sms(stack, http, "SM" + "e" * 32, "My bag did not arrive")
    stack.pump.drain()
    answer = post(stack, http, VOICE, event("twilio/voice_gather.json"))
    assert b"call you back" in answer.body and b"<Hangup" in answer.body
    stack.pump.drain()
    ticket = only_ticket()  # the caller's SMS ticket: same phone, same customer
    view = ticket_view(stack, http, ticket.id)
    [request] = [m for m in view["messages"] if m["channel"] == "voice"]
    assert request["voice"]["kind"] == "call_back" and "call-back" in request["voice"]["note"]
    assert view["reply_action"]["action"] == "call_back" and view["reply_action"]["phone"] == "+14155550123"


def test_a_typed_reply_to_a_caller_goes_by_sms_from_the_number_called(stack, http):
    post(stack, http, RECORDING, event("twilio/voice_record_action.json"))
    stack.pump.drain()
    ticket = only_ticket()
    reply = agent_replies(stack, http, ticket.id, "We will call you at 3pm.")
    assert reply.channel == "sms"
    [sent] = [s for s in stack.sent("twilio") if "3pm" in json.dumps(s["body"])]
    assert sent["body"]["To"] == "+14155550123" and sent["body"]["From"] == "+14155559999"


@pytest.mark.parametrize("path", [VOICE, RECORDING, TRANSCRIPTION])
def test_an_unsigned_voice_callback_gets_401_and_is_kept(stack, http, path):
    body, headers = twilio_signed(stack.settings, path, event("twilio/voice_record_action.json"))
    headers["X-Twilio-Signature"] = "forged"
    assert http.post(path, headers=headers, body=body).status_code == 401
    assert InboundMessage.count() == 0
    assert [d.source for d in DeadLetter.scan()] == ["twilio" + path.removeprefix("/channels/twilio")]


def test_a_withheld_number_is_kept_replayable_not_lost(stack, http):
    params = {**event("twilio/voice_record_action.json"), "From": "anonymous", "Caller": "anonymous"}
    assert post(stack, http, RECORDING, params).status_code == 422
    assert [(d.source, d.payload["replayable"]) for d in DeadLetter.scan()] == [("twilio/voice/recording", True)]


def test_a_transcription_that_makes_the_voicemail_a_p1_pages_the_queue_it_waits_in(stack, http):
    from tests.helpers import outbox_intents
    from tests.integration.test_bot import integration
    integration(stack, http, event("integration/journey_cancelled.json"))   # the caller's flight, cancelled
    post(stack, http, RECORDING, event("twilio/voice_record_action.json"))
    stack.pump.drain()
    before = only_ticket()
    post(stack, http, TRANSCRIPTION, {**event("twilio/voice_transcription.json"), "TranscriptionText":
         "My flight is cancelled!! This is terrible and unacceptable, I am furious. I am stranded at the "
         "airport with my baby and my wheelchair, I will miss my connection. Call me back now, urgent!!"})
    stack.pump.drain()
    after = Ticket.get(before.id)
    assert before.jet["tier"] != "P1" and after.jet["tier"] == "P1"
    assert after.queue_slot in [i.payload.get("page") for i in outbox_intents() if i.kind == "agent_alert"]


def test_a_late_transcription_completes_its_message_and_leaves_a_resolved_ticket_resolved(stack, http):
    post(stack, http, RECORDING, event("twilio/voice_record_action.json"))
    stack.pump.drain()
    ticket = only_ticket()
    assert http.post(f"/tickets/{ticket.id}/resolve", headers=bearer(stack.settings, "sam")).status_code == 200
    post(stack, http, TRANSCRIPTION, event("twilio/voice_transcription.json"))
    stack.pump.drain()
    after = Ticket.get(ticket.id)
    assert (after.status, after.queue_slot, after.reopened_at) == ("resolved", None, None)
    [message] = voicemail_messages(ticket.id)
    assert message.text and message.voice["transcription_status"] == "completed"


def test_a_refused_recording_status_is_replayed_with_the_caller_and_called_numbers_of_its_url(stack, http,
                                                                                             monkeypatch):
    import channels.twilio_voice as twilio_voice
    from chalicelib.errors import Unprocessable
    real = twilio_voice.recording

    def parser_bug(form):
        raise Unprocessable("recording parser bug")
    monkeypatch.setattr(twilio_voice, "recording", parser_bug)
    assert post(stack, http, RECORDING, event("twilio/voice_recording_status.json"),
                {"caller": "+14155550123", "called": "+14155559999"}).status_code == 422
    [letter] = list(DeadLetter.scan())
    monkeypatch.setattr(twilio_voice, "recording", real)       # the fix is deployed
    replayed = http.post(f"/admin/dead-letters/{letter.id}/replay", headers=bearer(stack.settings, "sam"))
    assert replayed.status_code == 200 and replayed.json_body["stored"] == 1, replayed.json_body
    [stored] = list(InboundMessage.scan())
    assert (stored.body["sender"], stored.body["recipient"]) == ("+14155550123", "+14155559999")

"""Twilio Voice: a caller's voicemail (recording + transcription) or call-back request, in as TwiML webhooks.

Only translation: Twilio's form fields into InboundMessages, and our answers into TwiML
(twilio's VoiceResponse). Nothing goes out by voice: an agent calls back, and a typed reply
to a caller goes by SMS through the Twilio Messaging adapter.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from chalicelib.domain import contacts
from chalicelib.domain.inbound import InboundMessage, Media
from chalicelib.errors import Unprocessable

from . import twilio_sms
from .base import RawRequest

FORM = twilio_sms.FORM
PATH = "/channels/twilio/voice"
RECORDING_PATH = PATH + "/recording"
TRANSCRIPTION_PATH = PATH + "/transcription"
MAX_SECONDS = 120             # Twilio transcribes recordings of up to 2 minutes
GATHER_SECONDS = 4
# Twilio <Say> languages for the ones we have texts in; anything else is read in English.
VOICE_LANGUAGES = {"en": "en-US", "fr": "fr-FR", "de": "de-DE", "es": "es-ES"}
CALLER = "JetDeskCaller"      # the caller, as our recordingStatusCallback URL names it (Twilio signs that URL)
CALLED = "JetDeskCalled"      # and the number they called: that callback carries neither, and it may come first


parse_form = twilio_sms.parse_form


def verify(request: RawRequest, settings) -> dict[str, Any]:
    """The same X-Twilio-Signature check as Messaging, over the URL including our query string."""
    return _with_our_query(twilio_sms.verify(request, settings), request.query)


def parse(request: RawRequest) -> dict[str, Any]:
    """The form without verification (monitor-only, replay), with our query read as verify reads it."""
    return _with_our_query(parse_form(request.body), request.query)


def _with_our_query(form: dict[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    """The caller and called numbers our callback URL names: the recording status callback has neither."""
    for name, field in (("caller", CALLER), ("called", CALLED)):
        if query.get(name):
            form[field] = query[name]
    return form


def _caller(form: dict[str, Any]) -> str:
    raw = form.get("From") or form.get(CALLER)
    if not raw:
        raise Unprocessable("a Twilio Voice callback needs From (or our caller parameter)")
    try:
        return contacts.phone(raw).value
    except contacts.InvalidContact as exc:  # "anonymous", "+266696687" (withheld) …
        raise Unprocessable(f"From: {exc}") from None


def _message(form: dict[str, Any], provider_id: str, voice: dict[str, Any], text: str = "",
             media: tuple[Media, ...] = ()) -> InboundMessage:
    return InboundMessage(
        channel="voice", provider="twilio", provider_message_id=provider_id, sender_kind="phone",
        sender=_caller(form), text=text, recipient=form.get("To") or form.get("Called") or form.get(CALLED) or "",
        media=media, thread_refs=(voice["recording_sid"],) if voice.get("recording_sid") else (),
        voice={k: v for k, v in voice.items() if v not in (None, "")})


def call(form: dict[str, Any]) -> list[InboundMessage]:
    """The voice webhook: a new call stores nothing (it is answered with the greeting);
    the <Gather> answer (a key pressed) is the caller's call-back request, once per CallSid."""
    if not form.get("Digits") or form["Digits"] == "hangup":
        return []
    if not form.get("CallSid"):
        raise Unprocessable("a Twilio Voice webhook needs CallSid")
    return [_message(form, form["CallSid"], {"kind": "call_back", "call_sid": form["CallSid"]})]


def recording(form: dict[str, Any]) -> list[InboundMessage]:
    """The <Record> action or its recordingStatusCallback: the voicemail, once per RecordingSid."""
    sid = form.get("RecordingSid")
    if not sid:
        raise Unprocessable("a recording callback needs RecordingSid")
    status = form.get("RecordingStatus") or "completed"   # the <Record> action has no status: it is done
    url = form.get("RecordingUrl") or ""
    duration = form.get("RecordingDuration")
    return [_message(form, sid, {
        "kind": "voicemail", "call_sid": form.get("CallSid"), "recording_sid": sid, "recording_url": url,
        "duration": int(duration) if str(duration or "").lstrip("-").isdigit() else None,
        "recording_status": status,
        "recording_error": form.get("ErrorCode") if form.get("ErrorCode") not in (None, "", "0") else None,
    }, media=(Media(url, "audio/x-wav"),) if url and status == "completed" else ())]


def transcription(form: dict[str, Any]) -> list[InboundMessage]:
    """The transcribeCallback: the voicemail's text (or why there is none), once per recording."""
    sid, status = form.get("RecordingSid"), form.get("TranscriptionStatus")
    if not sid or status not in ("completed", "failed"):
        raise Unprocessable("a transcription callback needs RecordingSid and TranscriptionStatus completed|failed")
    text = (form.get("TranscriptionText") or "").strip() if status == "completed" else ""
    url = form.get("RecordingUrl") or ""
    return [_message(form, f"{sid}:transcription", {
        "kind": "voicemail", "call_sid": form.get("CallSid"), "recording_sid": sid, "recording_url": url,
        "transcription_status": status if text or status == "failed" else "empty",
        "transcription_sid": form.get("TranscriptionSid"),
    }, text=text, media=(Media(url, "audio/x-wav"),) if url else ())]


# ---- TwiML answers ----------------------------------------------------------

def _say(node, text: str, language: Optional[str]) -> None:
    node.say(text, language=VOICE_LANGUAGES.get(language or "en", "en-US"))


def greeting(base_url: str, caller: Optional[str], language: Optional[str], texts: dict[str, str],
             called: Optional[str] = None) -> str:
    """Greet, offer a call-back on any key, else record a voicemail with Twilio's transcription."""
    answer = VoiceResponse()
    gather = answer.gather(num_digits=1, action=base_url + PATH, method="POST", timeout=GATHER_SECONDS)
    _say(gather, texts["greeting"], language)
    named = {k: v for k, v in (("caller", caller), ("called", called)) if v}
    status_url = base_url + RECORDING_PATH + ("?" + urlencode(named) if named else "")
    answer.record(action=base_url + RECORDING_PATH, method="POST", max_length=MAX_SECONDS, finish_on_key="#",
                  play_beep=True, transcribe=True, transcribe_callback=base_url + TRANSCRIPTION_PATH,
                  recording_status_callback=status_url, recording_status_callback_method="POST",
                  recording_status_callback_event="completed absent")
    _say(answer, texts["no_message"], language)   # Twilio goes on here when the recording is empty
    answer.hangup()
    return str(answer)


def goodbye(text: str, language: Optional[str]) -> str:
    answer = VoiceResponse()
    _say(answer, text, language)
    answer.hangup()
    return str(answer)


def empty() -> str:
    """For callbacks whose answer Twilio ignores (status and transcription callbacks)."""
    return str(VoiceResponse())

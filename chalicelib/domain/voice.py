"""Voicemail facts that need no storage: how the parts Twilio sends combine, and what to tell the agent.

A voicemail arrives in up to three deliveries, in any order, some maybe never: the <Record>
action, its recording status callback and the transcription callback. Each names the
RecordingSid; together they describe one voicemail message.
"""
from __future__ import annotations

from typing import Any, Optional

# A later delivery never takes a transcription back from done to waiting.
_TRANSCRIPTION_RANK = {"pending": 0, "empty": 1, "failed": 1, "completed": 2}


def merge(known: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """One voicemail from two deliveries of it: what is known stays unless the new part knows better."""
    out = {**known, **{k: v for k, v in new.items() if v not in (None, "") and k != "transcription_status"}}
    before, after = known.get("transcription_status"), new.get("transcription_status")
    if after and _TRANSCRIPTION_RANK.get(after, 0) >= _TRANSCRIPTION_RANK.get(before or "pending", 0):
        out["transcription_status"] = after
    elif before:
        out["transcription_status"] = before
    return out


def note(voice: dict[str, Any]) -> Optional[str]:
    """Why the agent has no text to read, in words (None when the transcription is there)."""
    if voice.get("kind") == "call_back":
        return "the caller pressed a key to ask for a call-back"
    recording = voice.get("recording_status", "completed")
    if recording != "completed":
        error = f", Twilio error {voice['recording_error']}" if voice.get("recording_error") else ""
        return f"the recording is {recording}{error}: nothing to listen to; call the customer back"
    status = voice.get("transcription_status", "pending")
    if status == "completed":
        return None
    if status == "failed":
        return "Twilio could not transcribe this voicemail; listen to the recording"
    if status == "empty":
        return "Twilio's transcription is empty; listen to the recording"
    return "no transcription yet (Twilio sends it within minutes, or not at all); listen to the recording"

from chalicelib.domain import voice


def test_a_later_part_adds_what_it_knows_and_never_takes_a_transcription_back():
    done = voice.merge({"recording_sid": "RE1", "transcription_status": "pending"},
                       {"recording_sid": "RE1", "transcription_status": "completed", "duration": None})
    assert done == {"recording_sid": "RE1", "transcription_status": "completed"}
    again = voice.merge(done, {"recording_sid": "RE1", "duration": 14, "recording_url": "https://r"})
    assert again["transcription_status"] == "completed" and again["duration"] == 14


def test_a_call_back_request_has_no_transcription():
    assert "transcription_status" not in voice.merge({}, {"kind": "call_back", "call_sid": "CA1"})


def test_the_note_says_why_there_is_no_text():
    assert voice.note({"kind": "voicemail", "transcription_status": "completed"}) is None
    assert "listen to the recording" in voice.note({"kind": "voicemail", "transcription_status": "pending"})
    assert "could not transcribe" in voice.note({"kind": "voicemail", "transcription_status": "failed"})
    assert "absent" in voice.note({"kind": "voicemail", "recording_status": "absent"})

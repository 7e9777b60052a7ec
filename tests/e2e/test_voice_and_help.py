"""Phone and web form on the running local stack: real signatures, real HTTP, the async path to the ticket."""
from __future__ import annotations

import email
import random
import re
import uuid
from email import policy
from urllib.parse import parse_qs, quote, urlencode, urlparse

import requests
from twilio.request_validator import RequestValidator
from urllib3 import encode_multipart_formdata

from infra.local.stage import stage_environment
from tests.conftest import event

from .conftest import eventually

SECRETS = stage_environment("local")


def twilio_post(base: str, path: str, params: dict, query: dict | None = None) -> requests.Response:
    url = base + path + ("?" + urlencode(query) if query else "")
    signature = RequestValidator(SECRETS["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)
    return requests.post(url, data=params, timeout=10, headers={"X-Twilio-Signature": signature})


def ticket_of(base: str, auth: dict, contact: str, check=lambda t: True) -> dict:
    def found():
        items = requests.get(f"{base}/tickets?contact={quote(contact)}", headers=auth, timeout=10).json()["items"]
        full = [requests.get(f"{base}/tickets/{t['id']}", headers=auth, timeout=10).json() for t in items[:1]]
        return next((t for t in full if check(t)), None)
    return eventually(found)


def test_a_caller_leaves_a_voicemail_its_transcription_follows_and_asks_for_a_call_back(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    caller = "+1415555" + f"{random.randrange(10_000):04d}"
    recording_sid, call_sid = "RE" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    ids = {"From": caller, "Caller": caller, "CallSid": call_sid}

    greeting = twilio_post(base, "/channels/twilio/voice", {**event("twilio/voice_inbound.json"), **ids})
    assert greeting.status_code == 200 and "<Record" in greeting.text
    status_url = re.search(r'recordingStatusCallback="([^"]+)"', greeting.text).group(1).replace("&amp;", "&")
    called = event("twilio/voice_inbound.json")["To"]
    assert status_url == f"{base}/channels/twilio/voice/recording?caller={quote(caller)}&called={quote(called)}"

    recording = {**event("twilio/voice_recording_status.json"), "CallSid": call_sid, "RecordingSid": recording_sid}
    status = twilio_post(base, "/channels/twilio/voice/recording", recording, {"caller": caller, "called": called})
    assert status.status_code == 200
    for _ in range(2):  # Twilio retries: the same transcription twice changes nothing
        answer = twilio_post(base, "/channels/twilio/voice/transcription",
                             {**event("twilio/voice_transcription.json"), **ids, "RecordingSid": recording_sid})
        assert answer.status_code == 200
    # one GET reads the ticket, then its messages: a transcription committed in between shows its text
    # before its re-score, so wait for both
    ticket = ticket_of(base, auth, caller, lambda t: any("Lisbon" in m["text"] for m in t["messages"])
                       and t["intent"] != "other")
    [voicemail] = [m for m in ticket["messages"] if m["channel"] == "voice"]
    assert voicemail["voice"]["duration"] == 14 and voicemail["voice"]["transcription"] == "completed"
    assert ticket["channel"] == "voice" and ticket["intent"] == "cancellation"

    pressed = twilio_post(base, "/channels/twilio/voice", {**event("twilio/voice_gather.json"), **ids})
    assert "call you back" in pressed.text
    ticket = ticket_of(base, auth, caller, lambda t: len(t["messages"]) == 2)
    assert ticket["reply_action"] == {"action": "call_back", "phone": caller, "text_replies": "sms"}


def test_a_forged_voice_callback_is_refused(local_stack):
    params = event("twilio/voice_record_action.json")
    answer = requests.post(local_stack.base_url + "/channels/twilio/voice/recording", data=params, timeout=10,
                           headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


def test_the_help_form_opens_a_ticket_and_its_emailed_link_shows_and_extends_it(local_stack, token):
    base, auth = local_stack.base_url, {"Authorization": "Bearer " + token("sam")}
    form = requests.get(base + "/help", timeout=10)
    assert "default-src 'none'" in form.headers["Content-Security-Policy"]
    nonce = re.search(r'name="nonce" value="(\w+)"', form.text).group(1)
    address = f"help-{uuid.uuid4().hex[:8]}@example.com"
    fields = {"nonce": nonce, "name": "Jo <Tester>", "email": address, "booking_ref": "", "website": "",
              "subject": "Lost bag", "message": "My suitcase did not arrive in Lisbon. <b>Help</b>"}
    body, content_type = encode_multipart_formdata(list(fields.items()) + [("attachment", ("tag.txt", b"LIS123",
                                                                                           "text/plain"))])
    answers = [requests.post(base + "/help", data=body, headers={"Content-Type": content_type}, timeout=10)
               for _ in range(2)]  # a double submit
    refs = {re.search(r'id="ref">(JD-\w{8})<', a.text).group(1) for a in answers}
    assert [a.status_code for a in answers] == [200, 200] and len(refs) == 1
    ticket = ticket_of(base, auth, address)
    assert ticket["ref"] in refs and ticket["channel"] == "web"

    def confirmation():
        sent = requests.get(base + "/local/sent", timeout=10).json()["items"]
        return [s for s in sent if s["provider"] == "ses" and f"To: {address}" in s["body"]["raw"]]
    [mail] = eventually(confirmation)
    text = email.message_from_string(mail["body"]["raw"], policy=policy.default).get_content()
    link = re.search(r"http://\S+/help/status\?token=\S+", text).group(0)
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "Waiting for an agent" in page.text
    assert "My suitcase did not arrive in Lisbon. &lt;b&gt;Help&lt;/b&gt;" in page.text

    status_token = parse_qs(urlparse(link).query)["token"][0]
    added = requests.post(base + "/help/status", timeout=10,
                          data={"token": status_token, "nonce": uuid.uuid4().hex[:26], "message": "The tag is LIS123."})
    assert added.status_code == 200
    eventually(lambda: "The tag is LIS123." in requests.get(link, timeout=10).text)
    assert requests.get(base + "/help/status?token=" + status_token[:-3] + "abc", timeout=10).status_code == 401

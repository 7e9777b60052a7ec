"""No secrets and no raw contacts in the logs of a full run (webhooks, threading, replies, refusals)."""
import json
import logging

from chalicelib.auth.signatures import jetdesk_signature
from chalicelib.logs import JsonFormatter

from .conftest import bearer, sms

PHONE, EMAIL = "+14155550123", "olivia.brown@example.co.uk"


def test_a_full_run_logs_neither_secrets_nor_contacts(stack, http, caplog):
    caplog.set_level(logging.INFO)  # what runs in production; botocore and friends are at WARNING
    sms(stack, http, "SM" + "1" * 32, "My flight was cancelled and nobody helps", sender=PHONE)
    raw = (f"From: Olivia <{EMAIL}>\r\nTo: support@jetdesk.local\r\nSubject: Refund\r\nMessage-ID: <z@x>\r\n\r\n"
           "Please refund me.\r\n").encode()
    http.post("/channels/email/inbound", body=raw, headers={
        "Content-Type": "message/rfc822",
        "X-JetDesk-Signature": jetdesk_signature(stack.settings.jetdesk_signing_secret, raw)})
    http.post("/channels/twilio/sms", body="From=%2B14155550123&MessageSid=SMx",
              headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "forged"})
    stack.pump.drain()
    ticket = http.get("/tickets?contact=%2B14155550123", headers=bearer(stack.settings, "sam")).json_body["items"][0]
    http.post(f"/tickets/{ticket['id']}/replies", headers={**bearer(stack.settings, "sam"),
              "Content-Type": "application/json"}, body=json.dumps({"text": "On it"}))
    stack.pump.drain()
    formatter = JsonFormatter()
    text = "\n".join(formatter.format(r) for r in caplog.records)
    assert caplog.records  # the run did log
    secrets = [stack.settings.twilio_auth_token, stack.settings.jetdesk_signing_secret, stack.settings.session_secret,
               stack.settings.jwt_secret, stack.settings.meta_app_secret, stack.settings.telegram_bot_token]
    for leaked in [PHONE, PHONE[1:], EMAIL, *secrets]:
        assert leaked not in text, f"{leaked[:6]}… appears in the logs"


def test_calls_the_help_form_and_status_links_log_neither_contacts_nor_links(stack, http, caplog):
    import email
    import re
    from email import policy
    from urllib.parse import urlencode

    from urllib3 import encode_multipart_formdata

    from tests.conftest import event
    from tests.helpers import twilio_signed

    caplog.set_level(logging.INFO)
    for path, name in (("/channels/twilio/voice/recording", "voice_record_action"),
                       ("/channels/twilio/voice/transcription", "voice_transcription"),
                       ("/channels/twilio/voice", "voice_gather")):
        body, headers = twilio_signed(stack.settings, path, {**event(f"twilio/{name}.json"), "From": PHONE})
        http.post(path, headers=headers, body=body)
    fields = {"nonce": "01JDLOGSCAN00000000000001", "name": "Olivia Brown", "email": EMAIL, "subject": "Refund",
              "message": "Please refund me.", "website": ""}
    body, content_type = encode_multipart_formdata(list(fields.items()))
    http.post("/help", headers={"Content-Type": content_type}, body=body)
    stack.pump.drain()
    [mail] = [email.message_from_string(s["body"]["raw"], policy=policy.default) for s in stack.sent("ses")]
    link = re.search(r"token=([\w.-]+)", mail.get_content()).group(1)
    assert http.get("/help/status?" + urlencode({"token": link})).status_code == 200
    http.get("/help/status?token=forged.token.here")
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert caplog.records
    for leaked in [PHONE, PHONE[1:], EMAIL, link, link.split(".")[2], stack.settings.twilio_auth_token]:
        assert leaked not in text, f"{leaked[:6]}… appears in the logs"


def test_a_refused_mail_logs_its_dead_letter_not_the_address_that_made_it_fail(stack, http, caplog):
    import boto3

    from tests.conftest import event
    caplog.set_level(logging.INFO)
    notification = event("email/ses_sns_utf8.json")
    notification["content"] = event("email/invalid_from.eml").decode()
    boto3.client("sns", region_name="us-east-1").publish(
        TopicArn=f"arn:aws:sns:us-east-1:123456789012:{stack.settings.inbound_mail_topic}",
        Message=json.dumps(notification))
    stack.pump.drain()
    [refused] = [r for r in caplog.records if r.getMessage() == "inbound mail refused"]
    assert refused.dead_letter and refused.code == "unprocessable"
    assert "example..com" not in "\n".join(JsonFormatter().format(r) for r in caplog.records)

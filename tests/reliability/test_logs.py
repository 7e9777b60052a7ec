"""No secrets and no raw contacts in the logs of a full run (webhooks, threading, replies, refusals)."""
import base64
import copy
import dataclasses
import json
import logging
import re

from chalicelib import logs
from chalicelib.auth.signatures import jetdesk_signature
from chalicelib.logs import JsonFormatter
from tests.conftest import event
from tests.helpers import twilio_signed
from tests.integration.channels.conftest import meta_headers, telegram_headers, x_headers

from .conftest import bearer, sms

PHONE, EMAIL = "+14155550123", "olivia.brown@example.co.uk"
WA_PHONE, TG_USER, X_USER = "33612345678", "5120384471", "2871945302"   # the senders of the captured events


def log_text(caplog) -> str:
    return "\n".join(JsonFormatter().format(r) for r in caplog.records)


def reply(stack, http, ticket_id: str, text: str):
    return http.post(f"/tickets/{ticket_id}/replies", headers={**bearer(stack.settings, "sam"),
                     "Content-Type": "application/json"}, body=json.dumps({"text": text}))


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


def test_whatsapp_telegram_x_and_chat_runs_log_neither_contacts_nor_texts(stack, http, caplog):
    from chalicelib.storage.models import Ticket
    caplog.set_level(logging.INFO)
    chat_email = "amelie.durand@example.fr"
    texts = ["ma valise est perdue depuis hier", event("meta/whatsapp_text.json")["entry"][0]["changes"][0]["value"][
        "messages"][0]["text"]["body"], event("telegram/message.json")["message"]["text"]]
    body = json.dumps(event("meta/whatsapp_text.json")).encode()
    assert http.post("/channels/meta", headers=meta_headers(stack.settings, body), body=body).status_code == 200
    body = json.dumps(event("telegram/message.json")).encode()
    assert http.post("/channels/telegram", headers=telegram_headers(stack.settings), body=body).status_code == 200
    body = json.dumps(event("x/dm.json")).encode()
    assert http.post("/channels/x", headers=x_headers(stack.settings, body), body=body).status_code == 200
    session = http.post("/channels/chat/sessions", headers={"Content-Type": "application/json"},
                        body=json.dumps({"name": "Amélie", "email": chat_email})).json_body
    auth = {"Authorization": "Bearer " + session["token"], "Content-Type": "application/json"}
    http.post("/channels/chat/messages", headers=auth, body=json.dumps({"text": texts[0], "client_id": "c1"}))
    stack.pump.drain()
    for ticket in Ticket.scan():
        assert reply(stack, http, ticket.id, "Agent answer here").status_code == 201
    stack.pump.drain()
    http.get("/channels/chat/messages", headers=auth)
    text = log_text(caplog)
    assert caplog.records
    for leaked in [WA_PHONE, TG_USER, X_USER, chat_email, session["token"], *texts,
                   stack.settings.telegram_secret_token, stack.settings.meta_app_secret]:
        assert leaked not in text, f"{leaked[:6]}… appears in the logs"


def test_a_telegram_message_is_logged_by_a_reference_not_its_key_which_holds_the_users_id(stack, http, caplog):
    caplog.set_level(logging.INFO)
    body = json.dumps(event("telegram/message.json")).encode()
    assert http.post("/channels/telegram", headers=telegram_headers(stack.settings), body=body).status_code == 200
    stack.pump.drain()
    [threaded] = [r for r in caplog.records if r.getMessage() == "threaded"]
    assert threaded.inbound == logs.inbound_ref(f"telegram#{TG_USER}:1842")   # the same key, the same reference
    assert TG_USER not in log_text(caplog)


def test_a_whatsapp_message_id_which_is_base64_of_the_senders_number_is_not_logged(stack, http, caplog):
    caplog.set_level(logging.INFO)
    body = json.dumps(event("meta/whatsapp_text.json")).encode()
    assert http.post("/channels/meta", headers=meta_headers(stack.settings, body), body=body).status_code == 200
    stack.pump.drain()
    text = log_text(caplog)
    assert any(r.getMessage() == "threaded" for r in caplog.records)
    for wamid in set(re.findall(r"wamid\.([A-Za-z0-9+/=]+)", text)):
        assert WA_PHONE.encode() not in base64.b64decode(wamid + "=" * (-len(wamid) % 4)), \
            "the sender's number is readable from a logged wamid"


def test_refusals_monitor_only_and_provider_failures_log_neither_contacts_nor_texts(stack, http, caplog, monkeypatch):
    from chalicelib import settings as settings_module
    from chalicelib.storage.models import Ticket
    caplog.set_level(logging.INFO)
    text = "Bonjour, mon vol JD789 est retardé"
    # a WhatsApp batch with one unreadable sender beside a readable one
    payload = event("meta/whatsapp_text.json")
    bad = copy.deepcopy(payload["entry"][0]["changes"][0]["value"]["messages"][0])
    bad["from"], bad["id"] = "12", "wamid.bad"
    payload["entry"][0]["changes"][0]["value"]["messages"].append(bad)
    body = json.dumps(payload).encode()
    assert http.post("/channels/meta", headers=meta_headers(stack.settings, body), body=body).status_code == 200
    # an SMS with an unreadable From, a forged one, and one let in by monitor-only
    params = {**event("twilio/sms_inbound.json"), "MessageSid": "SMbad", "From": "+1415555", "Body": text}
    body, headers = twilio_signed(stack.settings, "/channels/twilio/sms", params)
    http.post("/channels/twilio/sms", headers=headers, body=body)
    form = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "forged"}
    http.post("/channels/twilio/sms", body=f"From=%2B14155550123&MessageSid=SMx&Body={text}", headers=form)
    monkeypatch.setattr(settings_module, "_settings",
                        dataclasses.replace(stack.settings, monitor_only=frozenset({"sms"})))
    http.post("/channels/twilio/sms", body="From=%2B14155550123&MessageSid=SMmon&Body=hello", headers=form)
    monkeypatch.setattr(settings_module, "_settings", stack.settings)
    # a status for a message we never sent
    params = {"MessageSid": "SMunknown", "MessageStatus": "failed", "ErrorCode": "30003", "To": PHONE}
    body, headers = twilio_signed(stack.settings, "/channels/twilio/status", params)
    http.post("/channels/twilio/status", headers=headers, body=body)
    # a mail and an SMS, then answers to all while the providers fail
    raw = (f"From: Olivia <{EMAIL}>\r\nTo: support@jetdesk.local\r\nSubject: Refund\r\nMessage-ID: <z@x>\r\n\r\n"
           f"{text}\r\n").encode()
    http.post("/channels/email/inbound", body=raw, headers={
        "Content-Type": "message/rfc822",
        "X-JetDesk-Signature": jetdesk_signature(stack.settings.jetdesk_signing_secret, raw)})
    sms(stack, http, "SM" + "3" * 32, text, sender=PHONE)
    stack.pump.drain()
    stack.sink.faults.update({"twilio": [503, 400], "meta": [500, 400], "ses": [503]})
    for ticket in Ticket.scan():
        reply(stack, http, ticket.id, "Reply " + text)
    stack.pump.drain()
    logged = log_text(caplog)
    for leaked in [PHONE, PHONE[1:], WA_PHONE, EMAIL, text, "+1415555"]:
        assert leaked not in logged, f"{leaked[:6]}… appears in the logs"

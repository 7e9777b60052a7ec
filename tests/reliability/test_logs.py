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
    secrets = [stack.settings.twilio_auth_token, stack.settings.jetdesk_signing_secret, stack.settings.jwt_secret,
               stack.settings.meta_app_secret, stack.settings.telegram_bot_token]
    for leaked in [PHONE, PHONE[1:], EMAIL, *secrets]:
        assert leaked not in text, f"{leaked[:6]}… appears in the logs"

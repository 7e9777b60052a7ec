import copy
import hashlib
import hmac

import pytest
import requests

from chalicelib.domain.inbound import InboundMessage, Media
from chalicelib.errors import Forbidden, Unauthorized, Unprocessable
from channels import meta
from channels.base import (
    ProviderRefused,
    ProviderUnavailable,
    RawRequest,
    Refused,
    SendContext,
    Sent,
    StatusUpdate,
)
from tests.conftest import EVENTS, event

from .fakes import FakeResponse, FakeSession

PATH = "/channels/meta"
PSID = "6123456789012345"
PAGE = "104523456789012"


def raw(name: str) -> bytes:
    return (EVENTS / "meta" / name).read_bytes()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request(body: bytes, headers: dict) -> RawRequest:
    return RawRequest("POST", PATH, headers, body)


def signed(settings, body: bytes) -> RawRequest:
    return request(body, {"Content-Type": "application/json",
                          "X-Hub-Signature-256": signature(settings.meta_app_secret, body)})


def messages(events):
    return [e for e in events if isinstance(e, InboundMessage)]


def statuses(events):
    return [e for e in events if isinstance(e, StatusUpdate)]


# Handshake

def test_the_subscription_handshake_answers_the_challenge(settings):
    query = {"hub.mode": "subscribe", "hub.verify_token": settings.meta_verify_token,
             "hub.challenge": "1158201444"}
    assert meta.handshake(query, settings) == "1158201444"


@pytest.mark.parametrize("query", [
    {"hub.mode": "subscribe", "hub.verify_token": "guessed", "hub.challenge": "1"},
    {"hub.mode": "subscribe", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": "local-meta-verify-token", "hub.challenge": "1"},
    {},
])
def test_a_handshake_without_our_verify_token_is_forbidden(settings, query):
    with pytest.raises(Forbidden):
        meta.handshake(query, settings)


# Signature

def test_a_body_signed_with_our_app_secret_verifies_and_parses(settings):
    payload = meta.verify(signed(settings, raw("messenger_batch.json")), settings)
    assert payload["object"] == "page" and len(payload["entry"]) == 2


def test_the_signature_header_is_found_whatever_its_case(settings):
    body = raw("whatsapp_text.json")
    headers = {"x-hub-signature-256": signature(settings.meta_app_secret, body)}
    assert meta.verify(request(body, headers), settings)["object"] == "whatsapp_business_account"


def test_a_tampered_body_is_refused(settings):
    body = raw("whatsapp_text.json")
    tampered = body.replace(b"retard", b"annul")
    headers = {"X-Hub-Signature-256": signature(settings.meta_app_secret, body)}
    with pytest.raises(Unauthorized, match="does not match"):
        meta.verify(request(tampered, headers), settings)


def test_a_body_signed_with_another_secret_is_refused(settings):
    body = raw("whatsapp_text.json")
    with pytest.raises(Unauthorized, match="does not match"):
        meta.verify(request(body, {"X-Hub-Signature-256": signature("someone-else", body)}), settings)


def test_a_missing_signature_is_refused(settings):
    with pytest.raises(Unauthorized, match="missing"):
        meta.verify(request(raw("whatsapp_text.json"), {}), settings)


@pytest.mark.parametrize("header", [
    "sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
    "sha256=",
    "0" * 64,
    "sha256",
])
def test_a_malformed_signature_header_is_refused(settings, header):
    with pytest.raises(Unauthorized, match="malformed"):
        meta.verify(request(raw("whatsapp_text.json"), {"X-Hub-Signature-256": header}), settings)


def test_a_signature_with_non_ascii_characters_is_refused_not_crashed(settings):
    with pytest.raises(Unauthorized):
        meta.verify(request(b"{}", {"X-Hub-Signature-256": "sha256=é" * 8}), settings)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_a_correctly_signed_body_that_is_not_a_json_object_is_unprocessable(settings, body):
    with pytest.raises(Unprocessable):
        meta.verify(signed(settings, body), settings)


# Messenger

def test_a_messenger_batch_yields_every_customer_message_across_entries():
    found = messages(meta.normalize(event("meta/messenger_batch.json")))
    assert [m.provider_message_id[:6] for m in found] == ["m_AG5H", "m_Kx81", "m_PbK2"]
    assert {(m.channel, m.provider, m.sender_kind, m.recipient) for m in found} == {
        ("messenger", "meta", "messenger", PAGE)}


def test_a_messenger_text_message_keeps_the_psid_and_text():
    first = messages(meta.normalize(event("meta/messenger_batch.json")))[0]
    assert (first.sender, first.text) == (PSID, "My flight JD123 to Lisbon was cancelled, can you rebook me?")
    assert first.dedup_key.startswith("messenger#m_AG5Hz2")


def test_our_own_messages_echoed_back_are_ignored():
    found = messages(meta.normalize(event("meta/messenger_batch.json")))
    assert not any(m.provider_message_id.startswith("m_echo") for m in found)
    assert PAGE not in {m.sender for m in found}


def test_a_messenger_attachment_becomes_media_and_an_empty_payload_is_skipped():
    image = messages(meta.normalize(event("meta/messenger_batch.json")))[1]
    assert image.text == ""
    assert [(m.url.split("?")[0][-6:], m.content_type) for m in image.media] == [("_n.jpg", "image")]


def test_a_postback_becomes_a_message_with_its_title():
    postback = messages(meta.normalize(event("meta/messenger_batch.json")))[2]
    assert (postback.text, postback.sender) == ("Talk to an agent", "7034567890123456")
    assert postback.provider_message_id.startswith("m_PbK2")


def test_a_postback_without_mid_gets_an_id_stable_across_redeliveries():
    payload = event("meta/messenger_batch.json")
    del payload["entry"][1]["messaging"][1]["postback"]["mid"]
    first, again = (messages(meta.normalize(copy.deepcopy(payload)))[2] for _ in range(2))
    assert first.provider_message_id == again.provider_message_id == "postback.7034567890123456.1718031670215"


def test_a_delivery_reports_every_mid_delivered_and_read_watermarks_are_ignored():
    updates = statuses(meta.normalize(event("meta/messenger_batch.json")))
    assert [(u.provider, u.provider_message_id[:6], u.status) for u in updates] == [
        ("meta", "m_outA", "delivered"), ("meta", "m_outB", "delivered")]


def test_a_delivery_without_mids_reports_nothing():
    payload = {"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [
        {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "delivery": {"watermark": 1718031605400}}]}]}
    assert meta.normalize(payload) == []


# Instagram

def test_an_instagram_message_normalises_with_the_igsid():
    [msg] = meta.normalize(event("meta/instagram_message.json"))
    assert (msg.channel, msg.sender_kind, msg.sender, msg.recipient) == (
        "instagram", "instagram", "1254459154682919", "17841405822304914")
    assert msg.text == "Hi! My bag didn't arrive in Madrid, flight JD456"
    assert msg.dedup_key.startswith("instagram#aWdfZAG1")


# WhatsApp Cloud API

def test_a_whatsapp_text_message_gets_an_e164_sender_and_the_profile_name():
    [msg] = meta.normalize(event("meta/whatsapp_text.json"))
    assert (msg.channel, msg.provider, msg.sender_kind) == ("whatsapp", "meta", "phone")
    assert (msg.sender, msg.sender_name, msg.recipient) == ("+33612345678", "Amélie Durand", "106540352242922")
    assert msg.text.startswith("Bonjour, mon vol JD789")
    assert msg.dedup_key == "whatsapp#wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="


def test_a_whatsapp_image_keeps_its_caption_and_a_media_reference():
    [msg] = meta.normalize(event("meta/whatsapp_image.json"))
    assert (msg.sender, msg.sender_name) == ("+447700900123", "Oliver Bennett")
    assert msg.text == "This is how my suitcase came off the belt"
    assert msg.media == (Media("whatsapp-media:2754859441498128", "image/jpeg"),)


def whatsapp_with(fields: dict) -> dict:
    """The captured text message, changed into another kind of message."""
    payload = event("meta/whatsapp_text.json")
    [message] = payload["entry"][0]["changes"][0]["value"]["messages"]
    if "type" in fields:
        del message["text"]
    message.update(fields)
    return payload


@pytest.mark.parametrize("message, text", [
    ({"type": "button", "button": {"payload": "REBOOK", "text": "Rebook me"}}, "Rebook me"),
    ({"type": "interactive", "interactive": {"type": "button_reply",
                                             "button_reply": {"id": "yes", "title": "Yes please"}}}, "Yes please"),
    ({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {
        "id": "jd789", "title": "JD789 Paris–Lisbon", "description": "10 June"}}}, "JD789 Paris–Lisbon"),
    ({"type": "document", "document": {"caption": "Boarding pass", "filename": "bp.pdf",
                                       "mime_type": "application/pdf", "id": "889900"}}, "Boarding pass"),
    ({"type": "location", "location": {"latitude": 38.77, "longitude": -9.13}}, "Location: (38.77, -9.13)"),
    ({"type": "location", "location": {"latitude": 38.77, "longitude": -9.13, "name": "Lisbon airport",
                                       "address": "Alameda das Comunidades"}},
     "Location: Lisbon airport, Alameda das Comunidades (38.77, -9.13)"),
    ({"type": "contacts", "contacts": [{"name": {"formatted_name": "Ana Lima"},
                                        "phones": [{"phone": "+351 912 345 678"}]}]},
     "Contact: Ana Lima +351 912 345 678"),
])
def test_whatsapp_replies_and_captions_become_the_text(message, text):
    [msg] = meta.normalize(whatsapp_with(message))
    assert msg.text == text


@pytest.mark.parametrize("message", [
    {"type": "reaction", "reaction": {"message_id": "wamid.OURS", "emoji": "\U0001F44D"}},
    {"type": "reaction", "reaction": {"message_id": "wamid.OURS"}},          # a reaction taken back
    {"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]},
])
def test_whatsapp_reactions_and_what_the_api_cannot_show_are_no_customer_messages(message):
    payload = whatsapp_with(message)
    payload["entry"][0]["changes"][0]["value"]["messages"][0].pop("text", None)
    assert meta.normalize(payload) == []


def test_a_mexican_whatsapp_number_written_with_its_old_mobile_1_is_the_customers_one_number():
    [msg] = meta.normalize(whatsapp_with({"from": "5215512345678"}))
    assert msg.sender == "+525512345678"   # as the same customer's SMS and calls give it


def test_a_whatsapp_sender_that_is_no_phone_number_is_refused():
    [refused] = meta.normalize(whatsapp_with({"from": "12"}))
    assert isinstance(refused, Refused) and "WhatsApp sender '12'" in refused.reason


def test_a_whatsapp_message_that_cannot_be_read_is_refused_alone_and_its_batch_is_read():
    payload = event("meta/whatsapp_text.json")
    value = payload["entry"][0]["changes"][0]["value"]
    [good] = value["messages"]
    value["messages"] = [dict(good, id="wamid.bad", **{"from": "12"}), good, {"type": "text", "id": "wamid.nofrom"}]
    value["statuses"] = [{"id": "wamid.out", "status": "read"}, {"status": "delivered"}]
    refused, message, missing_from, read, no_id = meta.normalize(payload)
    assert message.provider_message_id == good["id"] and read == StatusUpdate("meta", "wamid.out", "read")
    assert [type(r) for r in (refused, missing_from, no_id)] == [Refused] * 3
    assert refused.reason.startswith("WhatsApp message: WhatsApp sender") and "KeyError" in missing_from.reason
    assert no_id.reason.startswith("malformed WhatsApp status")


def test_a_messenger_event_that_cannot_be_read_is_refused_alone():
    payload = event("meta/messenger_batch.json")
    events = payload["entry"][0]["messaging"]
    events.insert(0, {"sender": {"id": PSID}, "message": {"text": "no mid"}})
    first, *rest = meta.normalize(payload)
    assert isinstance(first, Refused) and first.reason.startswith("malformed messenger event: KeyError")
    assert rest == meta.normalize(event("meta/messenger_batch.json")) and rest


def test_whatsapp_statuses_become_delivery_updates_with_the_failure_reason():
    updates = meta.normalize(event("meta/whatsapp_statuses.json"))
    assert [(u.provider, u.status) for u in updates] == [
        ("meta", "delivered"), ("meta", "read"), ("meta", "failed")]
    assert updates[0].provider_message_id == "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
    assert updates[0].reason is None
    assert updates[2].reason == "Re-engagement message (131047)"


def test_whatsapp_changes_other_than_messages_are_not_conversations():
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}}]}]}
    assert meta.normalize(payload) == []


# Unprocessable payloads

def test_an_unknown_object_is_unprocessable():
    with pytest.raises(Unprocessable, match="unknown Meta webhook object 'user'"):
        meta.normalize(event("meta/unknown_object.json"))


@pytest.mark.parametrize("payload", [
    {"object": "page"},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {}}]}]},
    {"object": "instagram", "entry": "not a list"},
])
def test_a_malformed_payload_is_unprocessable_not_a_crash(payload):
    with pytest.raises(Unprocessable, match="malformed"):
        meta.normalize(payload)


# Sending



def context(settings, response=None, error=None) -> SendContext:
    return SendContext(settings=settings, http=FakeSession(error or response))


MESSENGER_OK = {"recipient_id": PSID, "message_id": "m_sentAq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqx"}
WHATSAPP_OK = {"messaging_product": "whatsapp", "contacts": [{"input": "33612345678", "wa_id": "33612345678"}],
               "messages": [{"id": "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBIyRkQ5NTQ3NTBCRjE2QzM2QTEA"}]}
MESSENGER_TO = {"channel": "messenger", "provider": "meta", "address": PSID, "from": PAGE}
WHATSAPP_TO = {"channel": "whatsapp", "provider": "meta", "address": "+33612345678", "from": "106540352242922"}


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_a_messenger_or_instagram_reply_goes_to_the_send_api(settings, channel):
    ctx = context(settings, FakeResponse(200, MESSENGER_OK))
    sent = meta.send(ctx, {**MESSENGER_TO, "channel": channel}, "We have rebooked you on JD125.")
    assert sent == Sent(MESSENGER_OK["message_id"], "sent")
    [(url, kwargs)] = ctx.http.calls
    assert url == f"{settings.meta_api_base}/me/messages"
    assert kwargs["headers"] == {"Authorization": f"Bearer {settings.meta_access_token}"}
    assert kwargs["timeout"] == 10
    assert kwargs["json"] == {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
                              "message": {"text": "We have rebooked you on JD125."}}


def test_a_whatsapp_reply_goes_to_the_cloud_api_of_our_number(settings):
    ctx = context(settings, FakeResponse(200, WHATSAPP_OK))
    sent = meta.send(ctx, WHATSAPP_TO, "Votre correspondance est protégée.")
    assert sent == Sent(WHATSAPP_OK["messages"][0]["id"], "sent")
    [(url, kwargs)] = ctx.http.calls
    assert url == f"{settings.meta_api_base}/106540352242922/messages"
    assert kwargs["headers"]["Authorization"] == f"Bearer {settings.meta_access_token}"
    assert kwargs["timeout"] == 10
    assert kwargs["json"] == {"messaging_product": "whatsapp", "recipient_type": "individual",
                              "to": "33612345678", "type": "text",
                              "text": {"body": "Votre correspondance est protégée."}}


def test_a_request_meta_refuses_fails_with_metas_own_message(settings):
    error = {"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
                       "error_data": {"messaging_product": "whatsapp",
                                      "details": "More than 24 hours have passed since the customer last replied."},
                       "fbtrace_id": "AbCdEfGhIjK"}}
    with pytest.raises(ProviderRefused, match=r"meta 400: \(#131047\) Re-engagement message More than 24 hours"):
        meta.send(context(settings, FakeResponse(400, error)), WHATSAPP_TO, "hello")


def test_a_refusal_without_a_graph_error_body_still_fails(settings):
    with pytest.raises(ProviderRefused, match="meta 404"):
        meta.send(context(settings, FakeResponse(404, "Not Found")), MESSENGER_TO, "hello")


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_provider_outage_or_throttle_is_retried_later(settings, status):
    body = {"error": {"message": "An unexpected error has occurred.", "type": "OAuthException", "code": 2}}
    with pytest.raises(ProviderUnavailable, match=f"meta {status}"):
        meta.send(context(settings, FakeResponse(status, body)), MESSENGER_TO, "hello")


def test_graph_throttling_answered_as_400_is_retried_later(settings):
    body = {"error": {"message": "(#613) Calls to this api have exceeded the rate limit.",
                      "type": "OAuthException", "code": 613}}
    with pytest.raises(ProviderUnavailable, match="rate limit"):
        meta.send(context(settings, FakeResponse(400, body)), MESSENGER_TO, "hello")


@pytest.mark.parametrize("error", [requests.ConnectionError("connection refused"), requests.Timeout("read timed out")])
def test_an_unreachable_meta_is_retried_later(settings, error):
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        meta.send(context(settings, error=error), WHATSAPP_TO, "hello")


def test_an_answer_without_a_message_id_is_not_taken_for_a_send(settings):
    with pytest.raises(ProviderUnavailable, match="without a message id"):
        meta.send(context(settings, FakeResponse(200, {"messaging_product": "whatsapp"})), WHATSAPP_TO, "hello")


def test_a_channel_meta_does_not_serve_is_refused(settings):
    ctx = context(settings, FakeResponse(200, MESSENGER_OK))
    with pytest.raises(ProviderRefused):
        meta.send(ctx, {**MESSENGER_TO, "channel": "sms"}, "hello")
    assert ctx.http.calls == []


def test_a_sender_id_that_is_no_text_is_unprocessable():
    payload = event("meta/instagram_message.json")
    payload["entry"][0]["messaging"][0]["sender"]["id"] = {"id": 1}
    [refused] = meta.normalize(payload)
    assert "sender is dict" in refused.reason

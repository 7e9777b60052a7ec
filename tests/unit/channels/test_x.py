import base64
import hashlib
import hmac
import json

import pytest
import requests

from chalicelib.errors import BadRequest, Unauthorized, Unprocessable
from channels import x
from channels.base import ProviderRefused, ProviderUnavailable, RawRequest, Refused, SendContext
from tests.conftest import event

from .fakes import FakeResponse, FakeSession

OURS = "1460393046223048704"


def signed(settings, body: bytes) -> RawRequest:
    mac = hmac.new(settings.x_consumer_secret.encode(), body, hashlib.sha256).digest()
    headers = {"Content-Type": "application/json",
               "X-Twitter-Webhooks-Signature": "sha256=" + base64.b64encode(mac).decode()}
    return RawRequest("POST", "/channels/x", headers, body)


def test_the_crc_answer_is_the_base64_hmac_of_the_token_under_the_consumer_secret(settings):
    token = "Mjk3NTY0ODUtYjMxMC00ZjRiLWE2ZTAtNzE0ZTk5NDY4ZjE5"
    mac = hmac.new(settings.x_consumer_secret.encode(), token.encode(), hashlib.sha256).digest()
    assert x.crc_response(token, settings) == {
        "response_token": "sha256=" + base64.b64encode(mac).decode()}


def test_the_crc_answer_matches_a_value_computed_with_openssl():
    # printf crc-token | openssl dgst -sha256 -hmac consumer-secret -binary | base64
    class Secret:
        x_consumer_secret = "consumer-secret"
    assert x.crc_response("crc-token", Secret()) == {
        "response_token": "sha256=QaSOGVGc8HwsDnfQi3dEVXnS9z5GRw8bGBns3lRY5iQ="}


def test_a_crc_without_token_is_a_bad_request(settings):
    with pytest.raises(BadRequest):
        x.crc_response("", settings)


def test_the_crc_check_signs_no_text_but_a_challenge_token_so_it_cannot_sign_a_forged_webhook(settings):
    forged = json.dumps(event("x/dm.json"))
    with pytest.raises(BadRequest):
        x.crc_response(forged, settings)   # else its answer would be the signature of this body
    assert x.crc_response("9b4507b3-9040-4669-9ca3-6b94edb50553", settings)["response_token"].startswith("sha256=")


def test_a_body_signed_with_the_consumer_secret_verifies(settings):
    payload = x.verify(signed(settings, json.dumps(event("x/dm.json")).encode()), settings)
    assert payload["for_user_id"] == OURS


def test_a_tampered_body_is_refused(settings):
    request = signed(settings, json.dumps(event("x/dm.json")).encode())
    tampered = RawRequest("POST", request.path, request.headers, request.body.replace(b"JD412", b"JD999"))
    with pytest.raises(Unauthorized):
        x.verify(tampered, settings)


def test_a_missing_signature_is_refused(settings):
    with pytest.raises(Unauthorized):
        x.verify(RawRequest("POST", "/channels/x", {}, b"{}"), settings)


def test_a_signature_made_with_another_secret_is_refused(settings):
    mac = base64.b64encode(hmac.new(b"not-our-secret", b"{}", hashlib.sha256).digest()).decode()
    request = RawRequest("POST", "/channels/x", {"x-twitter-webhooks-signature": f"sha256={mac}"}, b"{}")
    with pytest.raises(Unauthorized):
        x.verify(request, settings)


def test_a_signed_body_that_is_not_json_is_unprocessable(settings):
    with pytest.raises(Unprocessable):
        x.verify(signed(settings, b"not json"), settings)


def test_a_direct_message_normalises_with_the_senders_name():
    [msg] = x.normalize(event("x/dm.json"))
    assert (msg.channel, msg.provider, msg.sender_kind) == ("x", "x", "x")
    assert (msg.sender, msg.recipient, msg.sender_name) == ("2871945302", OURS, "Inês Carvalho")
    assert msg.dedup_key == "x#1724398761538465798"
    assert msg.text.startswith("Hi, my flight JD412")


def test_the_echo_of_a_message_our_account_sent_is_skipped():
    assert x.normalize(event("x/dm_echo.json")) == []


def test_a_photo_is_recorded_and_its_link_removed_from_the_text():
    [msg] = x.normalize(event("x/dm_media.json"))
    [media] = msg.media
    assert media.url.startswith("https://ton.twitter.com/1.1/ton/data/dm/")
    assert media.content_type == "image/jpeg"
    assert msg.text == "My suitcase came off the belt like this"


def test_a_video_keeps_its_best_playable_variant():
    payload = event("x/dm_media.json")
    media = payload["direct_message_events"][0]["message_create"]["message_data"]["attachment"]["media"]
    media.update(type="video", video_info={"variants": [
        {"bitrate": 256000, "content_type": "video/mp4", "url": "https://video.twimg.com/dm_video/1/low.mp4"},
        {"bitrate": 832000, "content_type": "video/mp4", "url": "https://video.twimg.com/dm_video/1/high.mp4"},
        {"content_type": "application/x-mpegURL", "url": "https://video.twimg.com/dm_video/1/pl.m3u8"},
    ]})
    [msg] = x.normalize(payload)
    assert msg.media[0].url.endswith("high.mp4") and msg.media[0].content_type == "video/mp4"


def test_a_tweet_is_not_a_direct_message():
    assert x.normalize(event("x/tweet_create.json")) == []


def test_a_typing_indicator_is_ignored():
    assert x.normalize(event("x/typing.json")) == []


def test_direct_messages_without_for_user_id_are_unprocessable():
    payload = event("x/dm.json")
    del payload["for_user_id"]
    with pytest.raises(Unprocessable):
        x.normalize(payload)


def context(settings, answer) -> SendContext:
    return SendContext(settings=settings, http=FakeSession(answer))


def test_a_reply_is_posted_to_the_dm_conversation_with_the_customer(settings):
    ctx = context(settings, FakeResponse(201, {"data": {
        "dm_conversation_id": f"2871945302-{OURS}", "dm_event_id": "1724402233118412807"}}))
    sent = x.send(ctx, {"channel": "x", "address": "2871945302", "from": OURS}, "Rebooked you on JD414")
    assert (sent.provider_message_id, sent.status) == ("1724402233118412807", "sent")
    [(url, kwargs)] = ctx.http.calls
    assert url == f"{settings.x_api_base}/2/dm_conversations/with/2871945302/messages"
    assert kwargs["json"] == {"text": "Rebooked you on JD414"}
    assert kwargs["headers"]["Authorization"] == f"Bearer {settings.x_access_token}"
    assert kwargs["timeout"] == 10


@pytest.mark.parametrize("status, failure", [
    (400, ProviderRefused), (403, ProviderRefused), (429, ProviderUnavailable), (500, ProviderUnavailable),
])
def test_http_errors_map_to_refused_or_unavailable(settings, status, failure):
    answer = FakeResponse(status, {"title": "error", "detail": "x said no", "status": status})
    with pytest.raises(failure):
        x.send(context(settings, answer), {"address": "2871945302"}, "hello")


def test_a_connection_error_means_try_again_later(settings):
    with pytest.raises(ProviderUnavailable):
        x.send(context(settings, requests.ConnectionError("reset")), {"address": "2871945302"}, "hello")


def test_an_answer_without_event_id_is_refused(settings):
    with pytest.raises(ProviderRefused):
        x.send(context(settings, FakeResponse(201, {"data": {}})), {"address": "2871945302"}, "hello")


def test_direct_message_events_that_are_not_objects_are_unprocessable():
    with pytest.raises(Unprocessable, match="malformed X webhook"):
        x.normalize({"for_user_id": "1", "direct_message_events": [None]})


def test_a_direct_message_that_cannot_be_read_is_refused_alone_and_the_others_are_read():
    payload = event("x/dm.json")
    [good] = payload["direct_message_events"]
    payload["direct_message_events"] = [{"type": "message_create", "message_create": {"sender_id": "2871945302"}}, good]
    refused, message = x.normalize(payload)
    assert isinstance(refused, Refused) and "needs id" in refused.reason
    assert message.provider_message_id == good["id"]

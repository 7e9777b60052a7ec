import json

import pytest
import requests

from chalicelib.errors import Unauthorized, Unprocessable
from channels import telegram
from channels.base import ProviderRefused, ProviderUnavailable, RawRequest, SendContext
from tests.conftest import event

from .fakes import FakeResponse, FakeSession


def request(body: bytes, secret=None) -> RawRequest:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return RawRequest("POST", "/channels/telegram", headers, body)


def test_an_update_with_our_secret_token_verifies(settings):
    body = json.dumps(event("telegram/message.json")).encode()
    update = telegram.verify(request(body, settings.telegram_secret_token), settings)
    assert update["update_id"] == 731946821


def test_a_wrong_secret_token_is_refused(settings):
    with pytest.raises(Unauthorized):
        telegram.verify(request(b"{}", settings.telegram_secret_token + "x"), settings)


def test_a_missing_secret_token_is_refused(settings):
    with pytest.raises(Unauthorized):
        telegram.verify(request(b"{}"), settings)


def test_an_update_that_is_not_json_is_unprocessable(settings):
    with pytest.raises(Unprocessable):
        telegram.verify(request(b"<html>", settings.telegram_secret_token), settings)


def test_a_text_message_normalises_to_the_inbound_shape():
    [msg] = telegram.normalize(event("telegram/message.json"))
    assert (msg.channel, msg.provider, msg.sender_kind) == ("telegram", "telegram", "telegram")
    assert (msg.sender, msg.recipient, msg.sender_name) == ("5120384471", "5120384471", "Priya Raman")
    assert msg.dedup_key == "telegram#5120384471:1842"   # chat and message, not the update
    assert msg.text.startswith("Hello, I need a wheelchair") and not msg.edited


def test_an_edited_message_is_marked_edited_and_keyed_by_its_edit():
    [msg] = telegram.normalize(event("telegram/edited_message.json"))
    assert msg.edited and msg.provider_message_id.count(":") == 2
    assert "JD219, not JD218" in msg.text


def test_a_photo_keeps_its_caption_and_only_its_largest_size():
    [msg] = telegram.normalize(event("telegram/photo.json"))
    assert msg.text.startswith("Boarding pass shows seat 14C")
    assert msg.sender_name == "Tomasz"
    [media] = msg.media
    assert media.url == "telegram-file:AgACAgQAAxkBAAIHO2VUx1AAAbRk8mEXAMPLExlarge0AAgG7MRsAAQABAgADeQADMwQ"
    assert media.content_type == "image/jpeg"


def test_a_document_keeps_its_mime_type():
    [msg] = telegram.normalize(event("telegram/document.json"))
    assert [m.content_type for m in msg.media] == ["application/pdf"]


def test_a_message_from_a_bot_is_ignored():
    assert telegram.normalize(event("telegram/bot_message.json")) == []


def test_a_callback_query_is_ignored():
    assert telegram.normalize(event("telegram/callback_query.json")) == []


def test_a_service_message_without_content_is_ignored():
    update = event("telegram/message.json")
    del update["message"]["text"]
    update["message"]["pinned_message"] = {"message_id": 1}
    assert telegram.normalize(update) == []


def test_a_message_without_sender_is_unprocessable():
    update = event("telegram/message.json")
    del update["message"]["from"]
    with pytest.raises(Unprocessable):
        telegram.normalize(update)


def context(settings, answer) -> SendContext:
    return SendContext(settings=settings, http=FakeSession(answer))


REPLY_TO = {"channel": "telegram", "address": "5120384471", "from": "5120384471"}


def test_a_reply_is_sent_into_the_customers_chat(settings):
    ctx = context(settings, FakeResponse(200, {"ok": True, "result": {
        "message_id": 1850, "chat": {"id": 5120384471, "type": "private"}, "date": 1700049500,
        "text": "A wheelchair is booked"}}))
    sent = telegram.send(ctx, REPLY_TO, "A wheelchair is booked")
    assert (sent.provider_message_id, sent.status) == ("5120384471:1850", "sent")
    [(url, kwargs)] = ctx.http.calls
    assert url == f"{settings.telegram_api_base}/bot{settings.telegram_bot_token}/sendMessage"
    assert kwargs["json"] == {"chat_id": "5120384471", "text": "A wheelchair is booked"}
    assert kwargs["timeout"] == 10


def test_a_group_reply_goes_to_the_chat_not_the_user(settings):
    ctx = context(settings, FakeResponse(200, {"ok": True, "result": {"message_id": 9}}))
    telegram.send(ctx, {"address": "5120384471", "from": "-1001712093344"}, "hi")
    assert ctx.http.calls[0][1]["json"]["chat_id"] == "-1001712093344"


@pytest.mark.parametrize("status, description, failure", [
    (400, "Bad Request: chat not found", ProviderRefused),
    (403, "Forbidden: bot was blocked by the user", ProviderRefused),
    (429, "Too Many Requests: retry after 7", ProviderUnavailable),
    (500, "Internal Server Error", ProviderUnavailable),
])
def test_telegram_errors_map_to_refused_or_unavailable(settings, status, description, failure):
    answer = FakeResponse(status, {"ok": False, "error_code": status, "description": description})
    with pytest.raises(failure, match=description.split(":")[0]):
        telegram.send(context(settings, answer), REPLY_TO, "hello")


def test_a_gateway_error_without_json_is_unavailable(settings):
    answer = FakeResponse(502, text="<html>Bad Gateway</html>")
    with pytest.raises(ProviderUnavailable):
        telegram.send(context(settings, answer), REPLY_TO, "hello")


def test_a_connection_error_is_unavailable_and_does_not_repeat_the_bot_token(settings):
    url = f"{settings.telegram_api_base}/bot{settings.telegram_bot_token}/sendMessage"
    error = requests.ConnectionError(f"Max retries exceeded with url: {url}")
    with pytest.raises(ProviderUnavailable) as caught:
        telegram.send(context(settings, error), REPLY_TO, "hello")
    assert settings.telegram_bot_token not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_null_message_is_unprocessable():
    with pytest.raises(Unprocessable, match="malformed Telegram update"):
        telegram.normalize({"update_id": 1, "message": None})


@pytest.mark.parametrize("kind, content_type", [("sticker", "image/webp"), ("video_note", "video/mp4"),
                                                ("animation", "video/mp4")])
def test_a_sticker_round_video_or_gif_alone_is_kept_as_media(kind, content_type):
    update = event("telegram/message.json")
    update["message"].pop("text")
    update["message"][kind] = {"file_id": "F1", "file_unique_id": "U1"}
    [msg] = telegram.normalize(update)
    assert msg.media == (telegram.Media("telegram-file:F1", content_type),)

"""Every channel parser, fed anything (captured payloads mutated at random, arbitrary JSON, arbitrary
bytes): it never crashes. It either hands back well-typed messages or refuses with a clear API error
(422/400/401), which the webhook answers and keeps as a dead letter."""
from __future__ import annotations

import json
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chalicelib import validation
from chalicelib.domain.inbound import InboundMessage, IntegrationEvent
from chalicelib.errors import ApiError
from channels import chat, email, integration, meta, telegram, twilio_sms, x
from channels.base import RawRequest, Refused, StatusUpdate
from tests.conftest import EVENTS, event

EXAMPLES = hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**53, 2**53), st.floats(allow_nan=False),
                    st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                           max_leaves=12)


def mutated(value):
    """A captured payload with random parts dropped, replaced by other JSON or kept as they were."""
    if isinstance(value, dict) and value:
        keys = sorted(value)
        fields = st.tuples(*[st.one_of(st.just(value[k]), mutated(value[k]), json_values,
                                       st.just(...)) for k in keys])
        shaped = fields.map(lambda vs: {k: v for k, v in zip(keys, vs, strict=True) if v is not ...})
    elif isinstance(value, list) and value:
        shaped = st.lists(st.one_of(*[mutated(v) for v in value[:2]]), max_size=3)
    else:
        shaped = st.just(value)
    return st.one_of(shaped, shaped, shaped, json_values)


def captured(folder: str) -> list:
    return [event(f"{folder}/{p.name}") for p in sorted((EVENTS / folder).glob("*.json"))]


def well_typed(items: list) -> None:
    """What a parser hands on must be usable as it is: no None sender, no dict as a message id."""
    assert isinstance(items, list)
    for item in items:
        if isinstance(item, InboundMessage):
            assert isinstance(item.provider_message_id, str) and item.provider_message_id
            assert isinstance(item.sender, str) and item.sender
            assert all(isinstance(v, str) for v in (item.text, item.recipient, item.channel, item.reply_via))
            assert item.sender_name is None or isinstance(item.sender_name, str)
            assert item.subject is None or isinstance(item.subject, str)
            assert all(isinstance(m.url, str) and isinstance(m.content_type, str) for m in item.media)
            json.dumps(item.to_dict(), default=lambda b: b.hex())   # storable as it is
        elif isinstance(item, StatusUpdate):
            assert isinstance(item.provider_message_id, str) and item.provider_message_id
            assert item.reason is None or isinstance(item.reason, str)
        elif isinstance(item, Refused):   # one part of a batch refused on its own, with why
            assert isinstance(item.reason, str) and item.reason
        else:
            assert isinstance(item, IntegrationEvent)


def never_crashes(parse, payload) -> None:
    try:
        items = parse(payload)
    except ApiError as exc:
        assert exc.status in (400, 401, 422) and exc.message
    else:
        well_typed(items)


def as_body(payload) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.parametrize("folder, adapter", [("meta", meta), ("x", x), ("telegram", telegram)])
def test_a_json_webhook_parser_never_crashes_on_a_mutated_payload(folder, adapter):
    @EXAMPLES
    @given(st.one_of(st.sampled_from(captured(folder)).flatmap(mutated), json_values))
    def check(payload):
        never_crashes(lambda p: adapter.normalize(adapter._parse(as_body(p))), payload)
    check()


@pytest.mark.parametrize("adapter", [meta, x, telegram])
@EXAMPLES
@given(body=st.binary(max_size=200))
def test_a_json_webhook_parser_refuses_bytes_that_are_no_json_object_clearly(adapter, body):
    never_crashes(lambda b: adapter.normalize(adapter._parse(b)), body)


def form_pairs():
    keys = st.sampled_from(["MessageSid", "SmsMessageSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
                            "MediaContentType0", "MessagingServiceSid", "ProfileName", "MessageStatus",
                            "ErrorCode"]) | st.text(max_size=8)
    values = st.sampled_from(["+14155550123", "whatsapp:+14155550123", "SM1", "1", "-1", "99999999", "",
                              "delivered", "failed", "x", "1e3", "\x00"]) | st.text(max_size=20)
    return st.lists(st.tuples(keys, values), max_size=12)


@EXAMPLES
@given(base=st.sampled_from([event(f"twilio/{n}") for n in ("sms_inbound.json", "mms_inbound.json",
                                                               "whatsapp_inbound.json")]),
       changes=form_pairs(), raw=st.binary(max_size=120))
def test_the_twilio_form_parser_never_crashes(base, changes, raw):
    from urllib.parse import urlencode
    fields = {**base, **dict(changes)}
    for body in (urlencode(fields).encode(), raw, urlencode(changes).encode()):
        form = twilio_sms.parse_form(body)
        never_crashes(twilio_sms.normalize, form)
        never_crashes(twilio_sms.status_updates, form)


header_names = st.sampled_from(["From", "To", "Subject", "Message-ID", "In-Reply-To", "References", "Content-Type",
                                "Content-Transfer-Encoding", "Content-Disposition", "Auto-Submitted",
                                "Precedence", "Delivered-To", "MIME-Version"])
header_values = st.one_of(
    st.sampled_from(["a@b.co", "Olivia <olivia@example.co.uk>", "<x@y>", "multipart/mixed; boundary=b",
                     "multipart/mixed", "text/plain; charset=klingon", "text/html", "base64", "quoted-printable",
                     "attachment; filename=a.pdf", "=?utf-8?b?w6k=?=", "=?bogus?q?x?=", "<<<>>>", "@", ""]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30))


@st.composite
def raw_emails(draw) -> bytes:
    headers = draw(st.lists(st.tuples(header_names, header_values), max_size=8))
    body = draw(st.one_of(st.text(max_size=200).map(str.encode), st.binary(max_size=200),
                          st.sampled_from([b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n",
                                           b"--b\r\n\r\n--b\r\nContent-Type: multipart/mixed\r\n\r\n",
                                           b"<p>hi<script>alert(1)</script></p>", b"=\r\n=ZZ=", b"!!!!"])))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers).encode("utf-8", "surrogateescape")
    return head + b"\r\n" + body


@EXAMPLES
@given(raw=st.one_of(raw_emails(), st.binary(max_size=300),
                     st.sampled_from(sorted((EVENTS / "email").glob("*.eml"))).map(lambda p: p.read_bytes())
                     .flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n]))))
def test_the_email_parser_never_crashes_on_any_bytes(raw):
    never_crashes(email.normalize, raw)


@EXAMPLES
@given(st.one_of(st.sampled_from(captured("email")).flatmap(mutated), json_values))
def test_an_ses_notification_parser_never_crashes(notification):
    def mail_of(notification) -> list:     # as services/mail.py reads it
        raw = email.from_ses_notification(notification)
        if raw is None:
            email.s3_location(notification)
            return []
        return email.normalize(raw)
    never_crashes(mail_of, notification)


@EXAMPLES
@given(st.one_of(st.sampled_from(captured("integration")).flatmap(mutated), json_values))
def test_the_integration_event_parser_never_crashes(envelope):
    never_crashes(lambda e: integration.normalize(validation.validated("integration_event", as_body(e))), envelope)


@EXAMPLES
@given(token=st.text(max_size=60), scheme=st.sampled_from(["Bearer ", "bearer ", "Basic ", ""]))
def test_a_chat_session_check_refuses_any_made_up_token(token, scheme):
    from chalicelib.settings import get_settings
    request = RawRequest("GET", "/channels/chat/messages", {"Authorization": scheme + token}, b"")
    with pytest.raises(ApiError) as refused:
        chat.verify(request, get_settings())
    assert refused.value.status == 401


def test_a_deeply_nested_multipart_email_is_parsed_without_recursion_errors():
    mail = EmailMessage()
    mail["From"], mail["Subject"] = "Olivia <olivia@example.co.uk>", "nested"
    raw = b"".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n".encode() for i in range(400))
    never_crashes(email.normalize, bytes(mail)[:-1] + raw + b"Content-Type: text/plain\r\n\r\nhello\r\n")

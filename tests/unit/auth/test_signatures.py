import base64
import hashlib
import hmac

import pytest

from chalicelib.auth import signatures
from chalicelib.errors import Unauthorized

SECRET = "s3cret"
BODY = b'{"id":"evt_1"}'


def test_a_fresh_signature_verifies():
    header = signatures.jetdesk_signature(SECRET, BODY, 1_000_000)
    signatures.verify_jetdesk_signature(SECRET, header, BODY, now=1_000_100)


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamps_outside_the_window_either_way_are_refused(skew):
    header = signatures.jetdesk_signature(SECRET, BODY, 1_000_000)
    with pytest.raises(Unauthorized):
        signatures.verify_jetdesk_signature(SECRET, header, BODY, now=1_000_000 + skew)


def test_another_body_or_secret_is_refused():
    header = signatures.jetdesk_signature(SECRET, BODY, 1_000_000)
    with pytest.raises(Unauthorized):
        signatures.verify_jetdesk_signature(SECRET, header, BODY + b" ", now=1_000_000)
    with pytest.raises(Unauthorized):
        signatures.verify_jetdesk_signature("other", header, BODY, now=1_000_000)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=notanumber,v1=abc", "t=" + "9" * 400 + ",v1=00",
                                    "t=-1000000,v1=00", "t=1_000_000,v1=00", "t=1000000,v1=\u00e9\u00e9"])
def test_missing_or_malformed_headers_are_refused(header):
    with pytest.raises(Unauthorized):
        signatures.verify_jetdesk_signature(SECRET, header, BODY, now=1_000_000.5)  # a float, as time.time()


def test_outbound_webhooks_follow_standard_webhooks():
    headers = signatures.standard_webhook_headers(SECRET, "msg_1", BODY, timestamp=1_700_000_000)
    expected = base64.b64encode(hmac.new(SECRET.encode(), b"msg_1.1700000000." + BODY, hashlib.sha256).digest())
    assert headers == {"webhook-id": "msg_1", "webhook-timestamp": "1700000000",
                       "webhook-signature": "v1," + expected.decode()}

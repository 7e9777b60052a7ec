"""Faults in DynamoDB on every step: every acknowledged message ends in exactly one ticket message,
every refused one (5xx) left nothing behind and succeeds when the provider retries."""
from __future__ import annotations

import json
import os
import random
from collections import Counter

import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.storage import models
from chalicelib.storage.models import DeadLetter, InboundMessage, Message

from .conftest import sms

MESSAGES = int(os.environ.get("JETDESK_FAULT_MESSAGES", "150"))
FAULT_RATE = 0.08
FAULTS = ("ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError")


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs):
        yield self._body


@pytest.fixture
def faulty_dynamodb(stack, monkeypatch):
    """A botocore before-send hook: a share of DynamoDB calls fail as the real service can fail.
    botocore still retries them, without its backoff sleep (time is not what is tested)."""
    from botocore.retries import standard
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    rng, injected = random.Random(7), Counter()

    def maybe_fail(request, **kwargs):
        if rng.random() >= FAULT_RATE:
            return None
        fault = rng.choice(FAULTS)
        injected[fault] += 1
        status = 500 if fault == "InternalServerError" else 400
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{fault}", "message": "injected"}).encode()
        return AWSResponse(request.url, status, {"x-amzn-RequestId": "fault"}, _Raw(body))

    client = models._shared["connection"].client
    client.meta.events.register("before-send.dynamodb", maybe_fail)
    yield injected
    client.meta.events.unregister("before-send.dynamodb", maybe_fail)


def test_messages_under_dynamodb_faults_lose_nothing_and_double_nothing(stack, http, faulty_dynamodb):
    senders = [f"+1415555{n:04d}" for n in range(60)]
    answers = Counter()
    sids = []
    for n in range(MESSAGES):
        sid, sender = f"SM{n:032d}", senders[n % len(senders)]
        sids.append(sid)
        for _ in range(8):  # the provider retries until it gets a 2xx
            status = sms(stack, http, sid, f"message {n}: where is my bag?", sender=sender).status_code
            answers[status] += 1
            if status == 200:
                break
        else:
            pytest.fail(f"{sid} never acknowledged")
        if n % 3 == 0:  # and redelivers some that were acknowledged
            assert sms(stack, http, sid, f"message {n}: where is my bag?", sender=sender).status_code == 200
    for _ in range(5):
        stack.pump.drain()
    assert sum(faulty_dynamodb.values()) > MESSAGES // 4, faulty_dynamodb  # the faults really happened
    stored = {sid: InboundMessage.get("sms#" + sid, consistent_read=True) for sid in sids}
    assert all(item.status == "processed" for item in stored.values())
    tickets = {item.ticket_id for item in stored.values()}
    per_message = Counter(m.provider_message_id for t in tickets for m in Message.query(t) if m.direction == "inbound")
    assert set(per_message) == set(sids) and set(per_message.values()) == {1}
    assert [d.source for d in DeadLetter.scan() if d.source.startswith("stream:")] == []
    print(f"\nanswers {dict(answers)}; faults injected {dict(faulty_dynamodb)}")

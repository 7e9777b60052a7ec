"""Faults on every step: DynamoDB, SQS, SES and SNS calls failing as the real services fail (error
answers, throttling, read and connect timeouts), and the Twilio and webhook sinks failing.
Every acknowledged message ends in exactly one ticket message, every refused one (5xx) left
nothing behind and succeeds when the provider retries; every notification is delivered, or
dead-lettered after exhausting its retries and completed by a replay; nothing is sent twice."""
from __future__ import annotations

import json
import os
import random
from collections import Counter
from datetime import timedelta

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from chalicelib.services import notifier, providers, webhooks
from chalicelib.storage import models
from chalicelib.storage.models import DeadLetter, InboundMessage, Message, Outbox
from tests.helpers import outbox_intents
from tests.integration.test_bad_input import mail

from .conftest import bearer, sms

MESSAGES = int(os.environ.get("JETDESK_FAULT_MESSAGES", "1000"))
FAULT_RATE = 0.08
FAULTS = ("ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError")
AWS_FAULTS = ("500", "503", "ReadTimeoutError", "ConnectTimeoutError")
OUTAGE = 20   # the last messages meet a webhook endpoint that is down for longer than the retries last


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs):
        yield self._body


class Faults(Counter):
    """What was injected, by kind; ``rate`` is the share of calls that fail."""
    rate = FAULT_RATE
    outage = 0  # the next this many DynamoDB calls never arrive (connect timeouts)


@pytest.fixture
def faulty_dynamodb(stack, monkeypatch):
    """A botocore before-send hook: a share of DynamoDB calls fail as the real service can fail.
    botocore still retries them, without its backoff sleep (time is not what is tested)."""
    from botocore.retries import standard
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    rng, injected = random.Random(7), Faults()

    def maybe_fail(request, **kwargs):
        if injected.outage:
            injected.outage -= 1
            injected["DynamoDB unreachable"] += 1
            raise ConnectTimeoutError(endpoint_url=request.url)
        if rng.random() >= injected.rate:
            return None
        fault = rng.choice(FAULTS)
        injected[fault] += 1
        status = 500 if fault == "InternalServerError" else 400
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{fault}", "message": "injected"}).encode()
        return AWSResponse(request.url, status, {"x-amzn-RequestId": "fault"}, _Raw(body))

    def maybe_fail_aws(request, **kwargs):
        if rng.random() >= injected.rate:
            return None
        fault = rng.choice(AWS_FAULTS)
        injected[f"{kwargs['event_name'].split('.')[-1]} {fault}"] += 1
        if fault == "ReadTimeoutError":
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault == "ConnectTimeoutError":
            raise ConnectTimeoutError(endpoint_url=request.url)
        return AWSResponse(request.url, int(fault), {"x-amzn-RequestId": "fault"}, _Raw(b""))

    client = models._shared["connection"].client
    client.meta.events.register("before-send.dynamodb", maybe_fail)
    others = [(providers.sqs(), "sqs"), (providers.ses(), "ses"), (providers.sns(), "sns")]
    for other, name in others:
        other.meta.events.register(f"before-send.{name}", maybe_fail_aws)
    yield injected
    client.meta.events.unregister("before-send.dynamodb", maybe_fail)
    for other, name in others:
        other.meta.events.unregister(f"before-send.{name}", maybe_fail_aws)


@pytest.fixture
def retries_now(stack, monkeypatch):
    """The retry queue hands a message back at once when its handler failed (its visibility
    timeout is time, which is not what is tested), retries are not delayed, and the lease of a run
    that failed without releasing it has run out by the next run."""
    monkeypatch.setattr(notifier, "backoff", lambda attempt: 0)
    monkeypatch.setattr(notifier, "LEASE", timedelta(0))
    sqs = providers.sqs()
    url = sqs.get_queue_url(QueueName=stack.settings.notify_retry_queue)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})


def deliver(stack, http, n: int, sender: str) -> int:
    if n % 5 == 4:  # every fifth by email, acknowledged through SES
        raw = (f"From: Customer {n} <customer{n % 60}@example.com>\r\nTo: support@jetdesk.local\r\n"
               f"Subject: Bag {n}\r\nMessage-ID: <m{n}@example.com>\r\n\r\nWhere is my bag? ({n})\r\n").encode()
        return mail(stack, http, raw).status_code
    return sms(stack, http, f"SM{n:032d}", f"message {n}: where is my bag?", sender=sender).status_code


def key_of(n: int) -> str:
    return f"email#m{n}@example.com" if n % 5 == 4 else f"sms#SM{n:032d}"


def test_messages_under_faults_everywhere_lose_nothing_and_double_nothing(stack, http, faulty_dynamodb, retries_now):
    senders = [f"+1415555{n:04d}" for n in range(60)]
    answers = Counter()
    for n in range(MESSAGES):
        if n == MESSAGES - OUTAGE:
            stack.sink.faults["webhook"] = [503] * (OUTAGE * 4 * notifier.MAX_ATTEMPTS)
        elif n % 100 == 50:  # DynamoDB unreachable for longer than botocore retries: the webhook answers 5xx
            faulty_dynamodb.outage = 6
        elif n % 25 == 0:  # and now and then a provider stumbles for a few calls
            for provider in ("twilio", "webhook"):
                stack.sink.faults.setdefault(provider, []).extend([500, 503, 429][: 1 + n % 3])
        for _ in range(8):  # the provider retries until it gets a 2xx
            status = deliver(stack, http, n, senders[n % len(senders)])
            answers[status] += 1
            if 200 <= status < 300:
                break
        else:
            pytest.fail(f"message {n} never acknowledged")
        if n % 3 == 0:  # and redelivers some that were acknowledged
            assert 200 <= deliver(stack, http, n, senders[n % len(senders)]) < 300
        if n % 50 == 49:
            stack.pump.drain()
    settle(stack)
    assert sum(faulty_dynamodb.values()) > MESSAGES // 4, faulty_dynamodb  # the faults really happened
    assert sum(count for status, count in answers.items() if status >= 500) >= MESSAGES // 100  # and were refused
    stack.sink.faults.clear()
    faulty_dynamodb.rate = 0  # the outage is over: what follows is checking and replaying

    stored = {n: InboundMessage.get(key_of(n), consistent_read=True) for n in range(MESSAGES)}
    assert {item.status for item in stored.values()} == {"processed"}
    tickets = {item.ticket_id for item in stored.values()}
    per_message = Counter(m.provider_message_id for t in tickets for m in Message.query(t) if m.direction == "inbound")
    assert set(per_message) == {key_of(n).split("#", 1)[1] for n in range(MESSAGES)}
    assert set(per_message.values()) == {1}
    assert [d.source for d in DeadLetter.scan() if d.source.startswith("stream:")] == []

    intents = list(Outbox.scan(consistent_read=True))
    assert {o.status for o in intents} == {"done", "failed"}        # nothing left pending
    failed = [o for o in intents if o.status == "failed"]
    letters = {d.id: d for d in DeadLetter.scan() if d.source == "notifier"}
    assert all(letters[o.dead_letter].payload["record"]["outbox_id"] == o.id for o in failed)  # each kept
    assert {d.payload["record"]["outbox_id"] for d in letters.values()} <= {o.id for o in failed}  # only those
    assert all(o.attempts >= notifier.MAX_ATTEMPTS for o in failed)     # and only after all their retries
    assert len(failed) >= OUTAGE                                          # the outage outlasted the retries
    for intent in failed:
        answer = http.post(f"/admin/dead-letters/{intent.dead_letter}/replay", headers=bearer(stack.settings, "sam"))
        assert answer.status_code == 200, answer.body
    settle(stack)
    assert {o.status for o in Outbox.scan(consistent_read=True)} == {"done"}   # replay completed them

    webhook_ids = Counter(r["headers"]["webhook-id"] for r in stack.sent("webhook"))
    events = [o for o in outbox_intents() if o.kind == "integrator_event"]
    expected = {d.id for event in events for d in webhooks.deliveries(event)}  # each event, each subscriber
    assert events and set(webhook_ids) == expected                        # every delivery arrived,
    acks = Counter((r["body"]["To"], r["body"]["Body"]) for r in stack.sent("twilio"))
    assert set(acks.values()) == {1}                                      # no SMS sent twice
    print(f"\nanswers {dict(answers)}; faults injected {dict(faulty_dynamodb)}; "
          f"dead letters {len(failed)} replayed; webhook resends (same id) "
          f"{sum(webhook_ids.values()) - len(webhook_ids)}; SMS {sum(acks.values())}, "
          f"emails {len(stack.sent('ses'))}, intents {len(intents)}")


def settle(stack, rounds: int = 20) -> None:
    """Pump until no intent is pending (retries go through the retry queue)."""
    for _ in range(rounds):
        stack.pump.drain(max_rounds=1000)
        if not [o for o in Outbox.scan(consistent_read=True) if o.status == "pending"]:
            return

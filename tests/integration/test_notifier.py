"""Delivery: at least once, retried through SQS on transient failures, failed with a reason otherwise."""
import json
import urllib.request

import pytest

from chalicelib.services import notifier
from chalicelib.storage.models import DeadLetter, Message, Outbox

from .conftest import sms


def fault(stack, provider, count, status=500):
    request = urllib.request.Request(stack.sink.url + "/faults", method="POST",
                                     data=json.dumps({"provider": provider, "count": count, "status": status}).encode())
    urllib.request.urlopen(request).close()


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(notifier, "backoff", lambda attempt: 0)


def acknowledgement():
    return next(m for m in Message.scan() if m.author == "system")  # test-only inspection


def test_a_provider_outage_is_retried_until_the_message_is_handed_over(stack, http):
    fault(stack, "twilio", 2)
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    stack.pump.drain()
    ack = acknowledgement()
    assert ack.delivery_status == "queued" and ack.provider_message_id.startswith("SM")
    assert len(stack.sent("twilio")) == 1
    intent = next(o for o in Outbox.scan() if o.kind == "customer_message")
    assert (intent.status, intent.attempts) == ("done", 3)


def test_a_refused_message_fails_with_the_providers_reason_and_is_dead_lettered(stack, http):
    fault(stack, "twilio", 1, status=400)
    sms(stack, http, "SM" + "2" * 32, "Where is my bag?")
    stack.pump.drain()
    ack = acknowledgement()
    assert ack.delivery_status == "failed" and "twilio 400" in ack.failure_reason
    assert [d.source for d in DeadLetter.scan()] == ["notifier"]
    assert stack.sent("twilio") == []


def test_a_webhook_that_keeps_failing_is_given_up_after_max_attempts(stack, http):
    fault(stack, "webhook", notifier.MAX_ATTEMPTS)
    sms(stack, http, "SM" + "3" * 32, "Where is my bag?")
    stack.pump.drain()
    event = next(o for o in Outbox.scan() if o.kind == "webhook_delivery")
    assert (event.status, event.attempts) == ("failed", notifier.MAX_ATTEMPTS)
    assert stack.sent("webhook") == []


def test_integrator_events_are_standard_webhooks_verified_by_the_reference_library(stack, http):
    from standardwebhooks import Webhook
    fault(stack, "webhook", 1)
    sms(stack, http, "SM" + "4" * 32, "Where is my bag?")
    stack.pump.drain()
    [delivery] = stack.sent("webhook")
    event = next(o for o in Outbox.scan() if o.kind == "webhook_delivery")
    assert delivery["headers"]["webhook-id"] == event.id and event.attempts == 2  # same id on the retry
    body = json.dumps(delivery["body"], separators=(",", ":"))
    verified = Webhook(stack.settings.jetdesk_signing_secret.encode()).verify(body, delivery["headers"])
    assert verified["type"] == "ticket.created"


def test_one_part_of_a_change_that_fails_is_retried_alone_and_the_others_go_once(stack, http):
    fault(stack, "twilio", 1)            # the acknowledgement fails once; the alert and the webhook go through
    sms(stack, http, "SM" + "5" * 32, "Where is my bag?")
    stack.pump.drain()
    change = next(o for o in Outbox.scan() if o.kind == "change")
    [alone] = [o for o in Outbox.scan() if o.kind == "customer_message"]
    assert change.status == "done" and alone.id.startswith(change.id + ".")
    assert (alone.status, alone.attempts) == ("done", 2)   # the inline try, then its own
    assert len(stack.sent("twilio")) == 1 and len(stack.sent("webhook")) == 1
    assert acknowledgement().delivery_status == "queued"


def test_a_refused_part_is_failed_and_dead_lettered_by_itself_and_replays_alone(stack, http):
    from chalicelib.services import replay
    fault(stack, "twilio", 1, status=400)
    sms(stack, http, "SM" + "6" * 32, "Where is my bag?")
    stack.pump.drain()
    [alone] = [o for o in Outbox.scan() if o.kind == "customer_message"]
    [letter] = DeadLetter.scan()
    assert alone.status == "failed" and letter.payload["record"]["outbox_id"] == alone.id
    assert replay.replay(letter.id) == {"id": letter.id, "source": "notifier", "redelivered": alone.id}
    assert len(stack.sent("twilio")) == 1 and len(stack.sent("webhook")) == 1
    assert acknowledgement().delivery_status == "queued"

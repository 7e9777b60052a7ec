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


def _change(stack, http, sid):
    sms(stack, http, sid, "Where is my bag?")
    stack.pump.drain()
    return next(o for o in Outbox.scan() if o.kind == "change")  # test-only inspection


def _as_inserted(intent):
    """The intent as its stream INSERT image still shows it: pending, never tried."""
    return Outbox(intent.id, kind=intent.kind, ticket_id=intent.ticket_id, payload=intent.payload,
                  status="pending", attempts=0, created_at=intent.created_at)


def test_a_stream_record_redelivered_after_its_intent_went_out_sends_nothing_again(stack, http):
    change = _change(stack, http, "SM" + "7" * 32)
    sent = len(stack.sink.records)
    notifier.deliver(_as_inserted(change))
    assert len(stack.sink.records) == sent and Outbox.get(change.id).status == "done"


def test_an_intent_another_run_holds_is_left_to_it_and_taken_up_once_that_lease_runs_out(stack, http):
    from datetime import timedelta

    from chalicelib import clock
    change = _change(stack, http, "SM" + "8" * 32)
    change.update(actions=[Outbox.status.set("pending"), Outbox.attempts.set(0),
                           Outbox.sending_until.set(clock.now() + notifier.LEASE)])   # a run is sending it
    stack.sink.records.clear()
    notifier.deliver(_as_inserted(change))
    assert stack.sink.records == []
    from chalicelib.services import providers
    sqs = providers.sqs()
    url = sqs.get_queue_url(QueueName=stack.settings.notify_retry_queue)["QueueUrl"]
    waiting = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert waiting["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"   # its turn, after the lease
    change.update(actions=[Outbox.sending_until.set(clock.now() - timedelta(seconds=1))])  # that run died
    notifier.redeliver(change.id, 0)
    assert len(stack.sent("webhook")) == 1 and Outbox.get(change.id).status == "done"


def test_a_retry_message_for_an_attempt_the_intent_has_moved_past_sends_nothing(stack, http):
    fault(stack, "webhook", 1)
    _change(stack, http, "SM" + "9" * 32)
    event = next(o for o in Outbox.scan() if o.kind == "webhook_delivery")
    assert (event.status, event.attempts) == ("done", 2)
    notifier.redeliver(event.id, 1)   # the message that scheduled attempt 2, delivered twice by SQS
    Outbox(event.id).update(actions=[Outbox.status.set("pending")])
    notifier.redeliver(event.id, 1)
    assert len(stack.sent("webhook")) == 1


def test_a_batch_is_retried_from_the_intent_that_failed_and_not_from_its_start(stack, http, monkeypatch):
    handed, failures = [], iter([RuntimeError("DynamoDB went away")])
    deliver = notifier.deliver

    def flaky(intent):
        handed.append(intent.id)
        if len(handed) == 2:
            raise next(failures)
        deliver(intent)

    monkeypatch.setattr(notifier, "deliver", flaky)
    sms(stack, http, "SM" + "a" * 32, "Where is my bag?", sender="+14155550101")
    sms(stack, http, "SM" + "b" * 32, "Where is my bag?", sender="+14155550102")
    stack.pump.drain()
    first, second = sorted(o.id for o in Outbox.scan() if o.kind == "change")
    assert handed == [first, second, second]          # the first is not handed over again
    assert len(stack.sent("webhook")) == 2 and {o.status for o in Outbox.scan()} == {"done"}


def _retry_message(intent_id, attempts, receives):
    """The retry queue's message as Lambda hands it over on its ``receives``-th delivery."""
    from tests.conftest import event
    lambda_event = event("aws/sqs_notify_retry.json")
    record = lambda_event["Records"][0]
    record["body"] = json.dumps({"outbox_id": intent_id, "attempts": attempts})
    record["attributes"]["ApproximateReceiveCount"] = str(receives)
    return lambda_event


def test_a_retry_that_still_fails_on_its_last_receive_fails_its_intent_as_a_replayable_dead_letter(
        stack, http, monkeypatch):
    from .conftest import bearer
    change = _change(stack, http, "SM" + "c" * 32)
    change.update(actions=[Outbox.status.set("pending"), Outbox.attempts.set(0)])
    stack.sink.records.clear()
    real = notifier.deliver

    def broken(intent):
        raise RuntimeError("DynamoDB went away")
    monkeypatch.setattr(notifier, "deliver", broken)
    with pytest.raises(RuntimeError):   # SQS delivers it again
        stack.app.handle_notify_retry(_retry_message(change.id, 0, notifier.RETRY_RECEIVES - 1), None)
    assert Outbox.get(change.id).status == "pending" and DeadLetter.count() == 0

    stack.app.handle_notify_retry(_retry_message(change.id, 0, notifier.RETRY_RECEIVES), None)  # not to the DLQ
    intent = Outbox.get(change.id)
    assert intent.status == "failed" and stack.sink.records == []
    sam = bearer(stack.settings, "sam")
    [letter] = http.get("/admin/dead-letters", headers=sam).json_body["items"]
    assert letter["id"] == intent.dead_letter and letter["replayable"] and "DynamoDB went away" in letter["reason"]

    monkeypatch.setattr(notifier, "deliver", real)
    assert http.post(f"/admin/dead-letters/{letter['id']}/replay", headers=sam).status_code == 200
    assert Outbox.get(change.id).status == "done" and len(stack.sent("webhook")) == 1


def test_a_change_retried_whole_after_failing_part_way_sends_its_alert_once(stack, http, monkeypatch):
    sent_alerts, failures = [], iter([RuntimeError("DynamoDB went away")])
    handlers = dict(notifier._HANDLERS)
    alert, to_customer = handlers["agent_alert"], handlers["customer_message"]

    def counted_alert(intent):
        sent_alerts.append(intent.id)
        alert(intent)

    def flaky_customer_message(intent):
        failure = next(failures, None)
        if failure:
            raise failure
        to_customer(intent)

    monkeypatch.setitem(notifier._HANDLERS, "agent_alert", counted_alert)
    monkeypatch.setitem(notifier._HANDLERS, "customer_message", flaky_customer_message)
    sms(stack, http, "SM" + "d" * 32, "Where is my bag?")
    stack.pump.drain()
    change = next(o for o in Outbox.scan() if o.kind == "change")
    assert change.status == "done" and [p["kind"] for p in change.payload["parts"]][-1] == "agent_alert"
    assert len(sent_alerts) == 1 and len(stack.sent("twilio")) == 1


def test_an_alert_topic_that_throttles_is_retried_alone_and_the_rest_of_the_change_goes_out(stack, http, monkeypatch):
    from botocore.exceptions import ClientError

    from chalicelib.services import providers
    real, throttled = providers.sns(), iter([True])

    class ThrottledOnce:
        def publish(self, **kwargs):
            if next(throttled, False):
                raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                                   "ResponseMetadata": {"HTTPStatusCode": 400}}, "Publish")
            return real.publish(**kwargs)
    monkeypatch.setattr(providers, "sns", lambda: ThrottledOnce())
    sms(stack, http, "SM" + "e" * 32, "Where is my bag?")
    stack.pump.drain()
    intents = {o.kind: o for o in Outbox.scan()}
    assert intents["change"].status == "done" and len(stack.sent("twilio")) == 1   # not held up by SNS
    assert (intents["agent_alert"].status, intents["agent_alert"].attempts) == ("done", 2)   # retried alone
    assert DeadLetter.count() == 0


def test_a_webhook_host_that_does_not_resolve_for_now_is_retried_not_failed(stack, http, monkeypatch):
    from chalicelib.services import webhooks

    def no_dns(url, body, headers):
        raise webhooks.CannotResolve("cannot resolve hooks.example.com")
    monkeypatch.setattr(webhooks, "post", no_dns)
    with pytest.raises(notifier.TransientFailure):
        notifier._post_webhook("D1", "ticket.created", {"ticket_id": "T1"})


def test_an_intent_given_up_after_its_message_was_handed_over_leaves_the_message_as_it_is(stack, http):
    sms(stack, http, "SM" + "f" * 32, "Where is my bag?")
    stack.pump.drain()
    ack = acknowledgement()
    assert ack.delivery_status == "queued"
    intent = Outbox(f"x.{ack.id}", kind="customer_message", ticket_id=ack.ticket_id, message_id=ack.id)
    notifier._record_failure(intent, "given up after its handover")
    assert Message.get(ack.ticket_id, ack.id).delivery_status == "queued"


def test_a_change_run_again_after_failing_part_way_leaves_the_parts_it_kept_to_their_own_intents(
        stack, http, monkeypatch):
    change = _change(stack, http, "SM" + "d" * 32)
    ack = acknowledgement()
    change.update(actions=[Outbox.status.set("pending"), Outbox.attempts.set(0)])
    ack.update(actions=[Message.delivery_status.set("pending")])
    stack.sink.records.clear()
    fault(stack, "twilio", 1, status=503)                 # the acknowledgement goes on by itself…

    def down(intent):
        raise RuntimeError("DynamoDB went away")
    monkeypatch.setitem(notifier._HANDLERS, "integrator_event", down)
    with pytest.raises(RuntimeError):                      # …and the run fails on the next part
        notifier.deliver(_as_inserted(change))
    kept = Outbox.get(change.id + ".0")
    assert (kept.kind, kept.status) == ("customer_message", "pending")

    monkeypatch.undo()
    monkeypatch.setattr(notifier, "backoff", lambda attempt: 0)
    monkeypatch.setattr(notifier, "_record_handover", lambda *args: None)  # its answer not recorded yet
    notifier.deliver(kept)                                 # the kept intent sends it…
    notifier.deliver(_as_inserted(change))                 # …while the change is run again
    assert len(stack.sent("twilio")) == 1 and len(stack.sent("webhook")) == 1
    assert Outbox.get(change.id).status == "done"


def test_retries_ask_sqs_for_the_retry_queues_address_once(stack):
    from chalicelib.services import providers
    asked = []
    providers.sqs().meta.events.register("before-call.sqs.GetQueueUrl", lambda **kw: asked.append(1))
    providers.retry_later({"outbox_id": "a", "attempts": 1}, 0)
    providers.retry_later({"outbox_id": "b", "attempts": 1}, 0)
    assert len(asked) == 1


def test_a_retry_handed_over_before_its_attempt_was_counted_still_delivers(stack, http, monkeypatch):
    retry_queue = next(q for q in stack.pump.queues if not q[3])
    schedule, raced = notifier._schedule, []

    def sqs_is_quicker_than_the_count(outbox_id, attempts, delay):
        schedule(outbox_id, attempts, delay)
        if not raced:   # SQS and Lambda hand the message over before this run counts the attempt
            raced.append(outbox_id)
            stack.pump._pump_queue(*retry_queue)
    monkeypatch.setattr(notifier, "_schedule", sqs_is_quicker_than_the_count)
    monkeypatch.setattr(notifier, "EARLY_RETRY_SECONDS", 0)
    fault(stack, "webhook", 2)
    sms(stack, http, "SM" + "7" * 32, "Where is my bag?")
    for _ in range(3):
        stack.pump.drain()
    assert raced and Outbox.get(raced[0]).status == "done"
    assert len(stack.sent("webhook")) == 1


def throttled():
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import UpdateError
    return UpdateError("Failed to update item", cause=ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "UpdateItem"))


def test_an_acknowledgement_whose_handover_note_is_throttled_once_is_sent_once(stack, http, monkeypatch):
    record, failed = notifier._record_handover, []

    def throttled_once(intent, status, provider_id):
        if not failed:   # Twilio took the SMS; writing that down is throttled
            failed.append(intent.id)
            raise throttled()
        record(intent, status, provider_id)
    monkeypatch.setattr(notifier, "_record_handover", throttled_once)
    monkeypatch.setattr(notifier, "HANDOVER_NOTE_PAUSE", 0)
    sms(stack, http, "SM" + "2" * 32, "Where is my bag?")
    for _ in range(3):
        stack.pump.drain()
    assert failed and len(stack.sent("twilio")) == 1
    assert acknowledgement().delivery_status == "queued"


def test_an_acknowledgement_whose_handover_cannot_be_noted_at_all_is_still_sent_once(stack, http, monkeypatch):
    def never(intent, status, provider_id):
        raise throttled()
    monkeypatch.setattr(notifier, "_record_handover", never)
    monkeypatch.setattr(notifier, "HANDOVER_NOTE_PAUSE", 0)
    sms(stack, http, "SM" + "3" * 32, "Where is my bag?")
    for _ in range(3):
        stack.pump.drain()
    assert len(stack.sent("twilio")) == 1
    assert next(o for o in Outbox.scan() if o.kind == "change").status == "done"

"""A stream batch Lambda gave up on: its on-failure destination, the stream-failures queue, gets only
where the records are in the stream; handle_stream_failure reads them back, tries each once more, and
keeps what still fails as a dead letter a supervisor lists and replays. The local pump sends the same
pointers to the same handler, so these tests take the production path."""
import json

import boto3
from botocore.exceptions import ClientError

from chalicelib.services import conversations, notifier, providers, stream_failures
from chalicelib.storage.models import DeadLetter, InboundMessage, Outbox, Ticket
from infra.local.pump import EventPump

from .conftest import bearer, sms

SID = "SM" + "8" * 32


def watch_on_failure(stack) -> list[dict]:
    """What the pump sends the stream-failures queue as Lambda's on-failure destination (still sent)."""
    sent, report = [], stack.pump.on_give_up

    def watched(failure):
        sent.append(failure)
        report(failure)
    stack.pump.on_give_up = watched
    return sent


def on_failure_record(stack, table: str) -> dict:
    """Lambda's on-failure record for a batch of every record the table's stream holds so far."""
    region = stack.settings.region
    arn = boto3.client("dynamodb", region_name=region).describe_table(
        TableName=stack.settings.table_name(table))["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", region_name=region)
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in streams.get_records(ShardIterator=iterator)["Records"]]
    return {"requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
            "version": "1.0", "timestamp": "2026-12-07T10:00:00.000Z",
            "DDBStreamBatchInfo": {"shardId": shard["ShardId"], "startSequenceNumber": numbers[0],
                                   "endSequenceNumber": numbers[-1], "batchSize": len(numbers), "streamArn": arn,
                                   "approximateArrivalOfFirstRecord": "2026-12-07T09:59:58Z",
                                   "approximateArrivalOfLastRecord": "2026-12-07T09:59:59Z"}}


def lambda_gives_up(stack, failure, times: int = 1) -> None:
    """The on-failure record on the stream-failures queue (``times`` over), handed to its handler
    as Lambda would (the stack's pump is left alone: nothing else is delivered)."""
    queue = stack.settings.stream_failures_queue
    pump = EventPump(stack.settings.region, None).queue(queue, stack.app.handle_stream_failure)
    for _ in range(times):
        pump.sqs.send_message(QueueUrl=pump.queues[0][0],
                              MessageBody=failure if isinstance(failure, str) else json.dumps(failure))
    pump.drain()


def letters(stack, http) -> list[dict]:
    return http.get("/admin/dead-letters", headers=bearer(stack.settings, "sam")).json_body["items"]


def replay(stack, http, letter_id: str):
    return http.post(f"/admin/dead-letters/{letter_id}/replay", headers=bearer(stack.settings, "sam"))


def test_an_intent_the_outbox_stream_gave_up_on_is_a_replayable_dead_letter_and_its_replay_delivers_it(
        stack, http, monkeypatch):
    sent = watch_on_failure(stack)
    real = notifier.deliver

    def poison(intent):
        if intent.kind == "change":
            raise RuntimeError("this intent cannot be read")   # every try fails
        real(intent)
    monkeypatch.setattr(notifier, "deliver", poison)
    sms(stack, http, SID, "Where is my bag?")
    stack.pump.drain()
    change = next(o for o in Outbox.scan() if o.kind == "change")
    [failure] = sent
    assert set(failure["DDBStreamBatchInfo"]) >= {"shardId", "startSequenceNumber", "endSequenceNumber",
                                                  "streamArn", "batchSize"}
    assert change.id not in json.dumps(failure) and "NewImage" not in json.dumps(failure)  # pointers only
    assert Outbox.get(change.id).status == "pending"          # never delivered, never failed

    [letter] = letters(stack, http)
    assert letter["replayable"] and letter["source"] == "stream:" + stack.settings.table_name("outbox")
    assert "RetryAttemptsExhausted" in letter["reason"]

    monkeypatch.setattr(notifier, "deliver", real)
    replayed = replay(stack, http, letter["id"])
    assert replayed.status_code == 200 and replayed.json_body["redelivered"] == change.id
    assert Outbox.get(change.id).status == "done" and stack.sent("twilio")   # the acknowledgement went out


def test_records_after_the_failing_one_in_a_batch_lambda_gave_up_on_are_tried_again_and_only_it_is_kept(
        stack, http, monkeypatch):
    real = conversations.process

    def broken(item):
        if item.key == "sms#" + SID:
            raise RuntimeError("threading is down")
        return real(item)
    monkeypatch.setattr(conversations, "process", broken)
    sms(stack, http, SID, "Where is my bag?")
    sms(stack, http, "SM" + "9" * 32, "My flight was cancelled", sender="+14155550124")
    lambda_gives_up(stack, on_failure_record(stack, "inbound"))   # the batch of both, the first failing

    assert InboundMessage.get("sms#" + SID).status == "stored"
    assert InboundMessage.get("sms#SM" + "9" * 32).status == "processed" and Ticket.count() == 1
    [letter] = letters(stack, http)
    assert letter["replayable"] and letter["source"] == "stream:" + stack.settings.table_name("inbound")
    assert "threading is down" in letter["reason"] and "RetryAttemptsExhausted" in letter["reason"]

    monkeypatch.setattr(conversations, "process", real)
    replayed = replay(stack, http, letter["id"])
    assert replayed.status_code == 200 and replayed.json_body["ticket_id"] and Ticket.count() == 2


def test_a_batch_handed_over_twice_is_kept_once_and_a_replayed_letter_stays_replayed(stack, http, monkeypatch):
    real = conversations.process

    def broken(item):
        raise RuntimeError("threading is down")
    monkeypatch.setattr(conversations, "process", broken)
    sms(stack, http, SID, "Where is my bag?")
    failure = on_failure_record(stack, "inbound")
    lambda_gives_up(stack, failure, times=2)       # SQS hands a message over at least once
    [letter] = DeadLetter.scan()
    monkeypatch.setattr(conversations, "process", real)
    assert replay(stack, http, letter.id).status_code == 200
    lambda_gives_up(stack, failure)
    assert [d.id for d in DeadLetter.scan()] == [letter.id] and DeadLetter.get(letter.id).replayed_at


def test_a_batch_whose_reading_failed_comes_back_and_is_then_kept_without_another_try(stack, http, monkeypatch):
    sms(stack, http, SID, "Where is my bag?")
    sqs = providers.sqs()
    url = sqs.get_queue_url(QueueName=stack.settings.stream_failures_queue)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})  # back at once
    read, calls = stream_failures.read, []

    def throttled_once(info):
        calls.append(info)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetRecords")
        return read(info)
    monkeypatch.setattr(stream_failures, "read", throttled_once)
    lambda_gives_up(stack, on_failure_record(stack, "inbound"))
    assert len(calls) == 2                                       # handed over again, then read
    assert InboundMessage.get("sms#" + SID).status == "stored"   # not tried a second time on its own
    [letter] = letters(stack, http)
    assert letter["replayable"] and "not tried again" in letter["reason"]


def test_a_batch_the_stream_no_longer_holds_is_kept_with_its_pointers_for_inspection_only(stack, http, monkeypatch):
    sms(stack, http, SID, "Where is my bag?")
    failure = on_failure_record(stack, "inbound")

    def trimmed(**kwargs):
        raise ClientError({"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}},
                          "GetShardIterator")
    monkeypatch.setattr(providers.streams(), "get_shard_iterator", trimmed)
    lambda_gives_up(stack, failure)
    [letter] = letters(stack, http)
    assert not letter["replayable"] and "no longer holds" in letter["reason"]
    assert DeadLetter.get(letter["id"]).payload["message"] == failure
    refused = replay(stack, http, letter["id"])
    assert refused.status_code == 409 and "no longer holds" in refused.json_body["error"]["message"]


def test_a_message_that_is_no_on_failure_record_is_kept_for_inspection(stack, http):
    lambda_gives_up(stack, "not json at all")
    [letter] = letters(stack, http)
    assert letter["source"] == "stream-failures" and not letter["replayable"]

"""The event pump: DynamoDB stream and SQS records to the handlers Lambda would run.

Stream semantics follow Lambda's: a failing batch is retried (from the first record the
handler reports in ``batchItemFailures``, or whole when it raises), bisected down to the
failing record, and after MAX_ATTEMPTS the shard moves on and the on-failure destination (an
SQS queue) gets what Lambda sends it: where the record is in the stream, never the record
(``handle_stream_failure`` reads it back, as it does in AWS). SQS messages are deleted only
after their handler returns; otherwise they come back after the visibility
timeout and, past maxReceiveCount, SQS moves them to the dead-letter queue.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3

from chalicelib import clock
from chalicelib.services.stream_failures import lambda_record

log = logging.getLogger("jetdesk.pump")
MAX_ATTEMPTS = 3
Handler = Callable[[dict, Any], Any]


@dataclass
class _Stream:
    table: str
    handler: Handler
    arn: str = ""
    iterators: dict[str, str | None] = field(default_factory=dict)


def _first_failure(records: list[dict], result: Any) -> int | None:
    """ReportBatchItemFailures: the index Lambda retries the batch from, None when all went through."""
    if not isinstance(result, dict):
        return None
    reported = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
    return next((n for n, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in reported), None)


def _iso(epoch: Any) -> str | None:
    return clock.iso(clock.from_epoch(epoch)) if isinstance(epoch, (int, float)) else None


class EventPump:
    def __init__(self, region: str, endpoint_url: str | None, on_failure: str | None = None) -> None:
        """``on_failure``: the SQS queue the streams' batches given up on are reported to (as Lambda's
        on-failure destination); without one they are dropped, as Lambda drops them."""
        self.region = region
        self.ddb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
        self.streams_api = boto3.client("dynamodbstreams", region_name=region, endpoint_url=endpoint_url)
        self.sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint_url)
        self.streams: list[_Stream] = []
        self.queues: list[tuple[str, str, Handler, bool]] = []
        self.failure_url = self.sqs.get_queue_url(QueueName=on_failure)["QueueUrl"] if on_failure else None
        self.on_give_up: Callable[[dict], Any] = self._report   # called with Lambda's on-failure record
        self.delivered = 0
        self.schedules: list[list] = []   # [every_seconds, handler, next_run]

    def stream(self, table: str, handler: Handler) -> "EventPump":
        self.streams.append(_Stream(table, handler))
        return self

    def queue(self, name: str, handler: Handler, sns: bool = False) -> "EventPump":
        """SQS records to ``handler``; with ``sns``, the queue is subscribed to a topic and each
        message is handed over as the SNS event Lambda would get from that topic."""
        url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queues.append((url, arn, handler, sns))
        return self

    def every(self, seconds: float, handler: Handler) -> "EventPump":
        """A scheduled handler, called with the EventBridge event Lambda would get."""
        self.schedules.append([seconds, handler, 0.0])
        return self

    def run_schedules(self, force: bool = False) -> int:
        ran = 0
        for schedule in self.schedules:
            seconds, handler, next_run = schedule
            if force or time.monotonic() >= next_run:
                schedule[2] = time.monotonic() + seconds
                handler({"version": "0", "id": str(time.time_ns()), "detail-type": "Scheduled Event",
                         "source": "aws.events", "account": "123456789012", "region": self.region,
                         "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "resources": [],
                         "detail": {}}, None)
                ran += 1
        return ran

    # -- one pass ------------------------------------------------------------

    def pump_once(self) -> int:
        """Deliver whatever is waiting now; returns how many records were handled."""
        handled = sum(self._pump_stream(s) for s in self.streams)
        handled += sum(self._pump_queue(*q) for q in self.queues)
        self.delivered += handled
        return handled

    def drain(self, max_rounds: int = 100) -> int:
        """Pump until nothing is waiting (delayed SQS messages excepted)."""
        total = 0
        for _ in range(max_rounds):
            handled = self.pump_once()
            total += handled
            if not handled:
                return total
        raise RuntimeError("the pump did not settle")

    def run(self, stop: threading.Event, idle_sleep: float = 0.05) -> None:
        while not stop.is_set():
            try:
                self.run_schedules()
                if not self.pump_once():
                    stop.wait(idle_sleep)
            except Exception:  # noqa: BLE001 - keep pumping; the failure is logged
                log.exception("pump pass failed")
                stop.wait(1.0)

    # -- DynamoDB streams ----------------------------------------------------

    def _pump_stream(self, stream: _Stream) -> int:
        if not stream.arn:
            stream.arn = self.ddb.describe_table(TableName=stream.table)["Table"]["LatestStreamArn"]
        shards = self.streams_api.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"]
        handled = 0
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in stream.iterators:
                stream.iterators[shard_id] = self.streams_api.get_shard_iterator(
                    StreamArn=stream.arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            iterator = stream.iterators[shard_id]
            if iterator is None:
                continue
            page = self.streams_api.get_records(ShardIterator=iterator, Limit=100)
            records = [lambda_record(r, stream.arn) for r in page["Records"]]
            if records:
                self._deliver(stream, shard_id, records)
                handled += len(records)
            stream.iterators[shard_id] = page.get("NextShardIterator")
        return handled

    def _deliver(self, stream: _Stream, shard_id: str, records: list[dict]) -> None:
        """Lambda's retry with bisect-on-error, down to single records."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                failed = _first_failure(records, stream.handler({"Records": records}, None))
                if failed is None:
                    return
                records, error = records[failed:], "reported as a batch item failure"
            except Exception as exc:  # noqa: BLE001 - the handler's failure decides the retry
                error = f"{type(exc).__name__}: {exc}"
            log.warning("%s handler failed (attempt %d): %s", stream.table, attempt + 1, error)
            time.sleep(0.01 * 2 ** attempt)
        if len(records) > 1:
            middle = len(records) // 2
            self._deliver(stream, shard_id, records[:middle])
            self._deliver(stream, shard_id, records[middle:])
            return
        self.on_give_up(self._on_failure_record(stream, shard_id, records))

    def _on_failure_record(self, stream: _Stream, shard_id: str, records: list[dict]) -> dict:
        """What Lambda sends a stream's on-failure destination: where the batch is, not what it holds."""
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        return {"requestContext": {"requestId": str(uuid.uuid4()), "condition": "RetryAttemptsExhausted",
                                   "functionArn": f"arn:aws:lambda:{self.region}:000000000000:function:local",
                                   "approximateInvokeCount": MAX_ATTEMPTS},
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "version": "1.0", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "DDBStreamBatchInfo": {
                    "shardId": shard_id, "startSequenceNumber": first["SequenceNumber"],
                    "endSequenceNumber": last["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
                    "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
                    "batchSize": len(records), "streamArn": stream.arn}}

    def _report(self, failure: dict) -> None:
        if self.failure_url is None:
            log.error("a stream record was given up on, with no on-failure destination: dropped",
                      extra={"on_failure": failure})
            return
        self.sqs.send_message(QueueUrl=self.failure_url, MessageBody=json.dumps(failure))

    # -- SQS -----------------------------------------------------------------

    def _pump_queue(self, url: str, arn: str, handler: Handler, sns: bool) -> int:
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                            AttributeNames=["All"]).get("Messages", [])
        for message in messages:
            record = self._sns_record(message) if sns else {
                "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"], "attributes": message.get("Attributes", {}),
                "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": self.region}
            try:
                handler({"Records": [record]}, None)
            except Exception:  # noqa: BLE001 - SQS redelivers, then redrives to the DLQ
                log.warning("queue handler failed", extra={"queue": arn})
                continue
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    @staticmethod
    def _sns_record(message: dict) -> dict:
        envelope = json.loads(message["Body"])
        return {"EventSource": "aws:sns", "EventVersion": "1.0",
                "EventSubscriptionArn": envelope["TopicArn"] + ":local",
                "Sns": {k: envelope.get(k) for k in ("Type", "MessageId", "TopicArn", "Subject", "Message",
                                                     "Timestamp")} | {"MessageAttributes": {}}}

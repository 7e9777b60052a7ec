"""Stream batches Lambda gave up on: read back from the stream and kept as replayable dead letters.

A stream's event source mapping sends a batch it gives up on (retries exhausted, or a record too
old) to its on-failure destination, the stream-failures queue, as pointers only: the stream, the
shard, the first and last sequence number. The stream keeps records for 24 hours, so the records
are read back at once (GetShardIterator AT_SEQUENCE_NUMBER, then GetRecords up to the last one).
Each is handed to its stream's handler once more, alone: a batch Lambda gave up on also holds the
records after the failing one, which the handler never reached (it stops at the first failure).
A record that still fails is kept as a dead letter (``stream:<table>``) that a supervisor lists and
replays, as the local pump kept it before. A batch the stream no longer holds is kept with its
pointers, for inspection only.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any, Callable, Mapping, Optional

from botocore.exceptions import ClientError
from ulid import ULID

from .. import clock
from . import ingest, providers

log = logging.getLogger("jetdesk.stream_failures")
Handler = Callable[[dict, Any], Any]
POINTERS = ("streamArn", "shardId", "startSequenceNumber", "endSequenceNumber")
GONE = {"TrimmedDataAccessException", "ResourceNotFoundException"}   # past retention, or the stream deleted
MAX_PAGES = 10    # GetRecords calls for one batch (an open shard may answer a page with no records)
UNREADABLE = "stream-failures"


def keep(body: str, handlers: Mapping[str, Handler], try_again: bool = True) -> list[str]:
    """Lambda's on-failure record of a stream batch (an SQS message's body): each record that still
    fails its handler (``handlers``: by table name; not tried again without ``try_again``) kept as a
    replayable dead letter. Returns the letters' ids. Safe to run twice: a record is kept under one id."""
    try:
        message = json.loads(body)
    except ValueError:
        message = body
    info = message.get("DDBStreamBatchInfo") if isinstance(message, dict) else None
    if not isinstance(info, dict) or not all(isinstance(info.get(k), str) and info[k] for k in POINTERS):
        return [ingest.keep_once(clock.new_id(), UNREADABLE, "not a stream's on-failure record",
                      {"message": message, "replayable": False})]
    table = table_of(info["streamArn"])
    source, gave_up = f"stream:{table}", _gave_up(message)
    try:
        records = read(info)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code not in GONE:
            raise   # throttled, unreachable: SQS hands the message over again
        return [_keep_pointers(info, source, f"the stream no longer holds these records ({code}: past its "
                                             f"24 h retention?); {gave_up}", message)]
    if not records:
        return [_keep_pointers(info, source, f"no such records in the stream; {gave_up}", message)]
    handler = handlers.get(table)
    kept = []
    for record in records:
        error = _try_again(handler, record) if try_again and handler else "not tried again"
        if error is None:
            log.info("a stream record Lambda gave up on went through on its own",
                     extra={"source": source, "sequence_number": record["dynamodb"]["SequenceNumber"]})
            continue
        kept.append(ingest.keep_once(_stable_id(f"{info['streamArn']}#{record['dynamodb']['SequenceNumber']}",
                                     record["dynamodb"].get("ApproximateCreationDateTime")),
                          source, f"{error}; {gave_up}",
                          {"record": record, "replayable": True, "stream_batch": info}))
    return kept


def table_of(stream_arn: str) -> str:
    """arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label> -> <table>."""
    return stream_arn.split(":table/", 1)[-1].split("/stream/", 1)[0]


def read(info: Mapping[str, Any]) -> list[dict]:
    """The batch's records, as Lambda handed them over: from the first sequence number to the last."""
    arn, last = info["streamArn"], int(info["endSequenceNumber"])
    wanted = int(info.get("batchSize") or 0)
    streams = providers.streams()
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=info["shardId"],
                                          ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          SequenceNumber=info["startSequenceNumber"])["ShardIterator"]
    records: list[dict] = []
    for _ in range(MAX_PAGES):
        page = streams.get_records(ShardIterator=iterator, Limit=min(wanted or 100, 1000))
        for record in page["Records"]:
            if int(record["dynamodb"]["SequenceNumber"]) > last:
                return records
            records.append(lambda_record(record, arn))
        iterator = page.get("NextShardIterator")
        if not iterator or (wanted and len(records) >= wanted):
            break
    return records


def lambda_record(record: dict, arn: str) -> dict:
    """A GetRecords record as Lambda hands it to a stream handler."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if hasattr(created, "timestamp"):  # boto3 parsed it; Lambda hands over epoch seconds
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {"eventID": record["eventID"], "eventName": record["eventName"], "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": arn.split(":")[3], "dynamodb": dynamodb,
            "eventSourceARN": arn}


def _gave_up(message: dict) -> str:
    context = message.get("requestContext") or {}
    return (f"Lambda gave up on the batch ({context.get('condition', 'no condition given')}, "
            f"{context.get('approximateInvokeCount', '?')} invocations)")


def _try_again(handler: Handler, record: dict) -> Optional[str]:
    """None when the record went through its handler now; else why not."""
    try:
        result = handler({"Records": [record]}, None)
    except Exception as exc:  # noqa: BLE001 - the record's failure is what the letter keeps
        return f"{type(exc).__name__}: {exc}"
    if isinstance(result, dict) and result.get("batchItemFailures"):
        return "reported as a batch item failure"
    return None


def _keep_pointers(info: Mapping[str, Any], source: str, reason: str, message: dict) -> str:
    key = f"{info['streamArn']}#{info['startSequenceNumber']}-{info['endSequenceNumber']}"
    try:
        arrived = datetime.fromisoformat(info["approximateArrivalOfFirstRecord"].replace("Z", "+00:00"))
    except (KeyError, AttributeError, ValueError):
        arrived = None
    return ingest.keep_once(_stable_id(key, arrived.timestamp() if arrived else None), source, reason,
                 {"message": message, "replayable": False})


def _stable_id(key: str, epoch: Any) -> str:
    """A ULID of the record's time (now, without one) whose random part is the key's hash: the
    same record kept twice (SQS hands a message over at least once) is one letter."""
    at = clock.from_epoch(epoch) if isinstance(epoch, (int, float)) else clock.now()
    return str(ULID.from_bytes(int(at.timestamp() * 1000).to_bytes(6, "big")
                               + hashlib.sha256(key.encode()).digest()[:10]))

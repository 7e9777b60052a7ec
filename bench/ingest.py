"""Section 1 (JetDesk side): CPU per inbound SMS through the whole pipeline, in-process on moto.

One message = the signed Twilio webhook through chalice.test.Client (stored), then the pump
drains the inbound stream in batches of 10 as Lambda's event source mapping would (threaded,
scored, queued, outbox written). Set-up and warm-up are excluded. The raw figure subtracts
nothing; the headline subtracts the CPU spent inside moto (DynamoDB, Streams, SQS, SNS
emulated in-process: AWS runs those, our Lambda does not pay for them).
"""
from __future__ import annotations

import json
import os
import sys
import time

from . import common
from .common import EmulatorClock, emit

N_FIRST = int(os.environ.get("BENCH_N", "200"))
N_FOLLOW = N_FIRST // 2
N_NOTIFY = 50
WARMUP = 20
BATCH = 10          # the inbound stream's batch_size in app.py


class HandlerClock:
    """CPU inside one Lambda handler, and the emulator's share of it."""

    def __init__(self, handler, emulator: EmulatorClock) -> None:
        self.handler, self.emulator = handler, emulator
        self.cpu = self.moto = 0.0
        self.invocations = 0
        self.records = 0

    def __call__(self, event, context):
        moto0, start = self.emulator.cpu, time.process_time()
        try:
            return self.handler(event, context)
        finally:
            self.cpu += time.process_time() - start
            self.moto += self.emulator.cpu - moto0
            self.invocations += 1
            self.records += len(event["Records"])


class SdkClock:
    """CPU inside the AWS SDK for the app's DynamoDB requests: PynamoDB's dispatch into botocore
    (serialise, endpoint rules, sign, parse the answer), the emulator's share left out. Model
    building and serialisation happen before dispatch and stay with the app. The floor of any
    design that makes this many requests through this SDK."""

    def __init__(self, emulator: EmulatorClock) -> None:
        self.emulator, self.cpu, self.requests = emulator, 0.0, 0

    def install(self) -> "SdkClock":
        from pynamodb.connection.base import Connection
        original, clock = Connection.dispatch, self

        def timed(connection, operation_name, operation_kwargs):
            moto0, start = clock.emulator.cpu, time.process_time()
            try:
                return original(connection, operation_name, operation_kwargs)
            finally:
                clock.cpu += (time.process_time() - start) - (clock.emulator.cpu - moto0)
                clock.requests += 1

        Connection.dispatch = timed
        return self


SDK: SdkClock | None = None


def _run(stack, deliveries, customers: range, n: int, clock: EmulatorClock, handler: HandlerClock) -> dict:
    """Deliver one message per customer, draining the inbound stream every BATCH messages.

    Signing the provider's request is the provider's work: it happens outside every timer.
    """
    timer = time.process_time
    webhook = drain = webhook_moto = drain_moto = 0.0
    h_cpu, h_moto, h_inv, h_rec = handler.cpu, handler.moto, handler.invocations, handler.records
    sdk_cpu, sdk_requests = (SDK.cpu, SDK.requests) if SDK else (0.0, 0)

    def pump():
        nonlocal drain, drain_moto
        m0, t0 = clock.cpu, timer()
        stack.inbound.drain()
        drain += timer() - t0
        drain_moto += clock.cpu - m0

    pending = 0
    for c in customers:
        request = deliveries.prepare("twilio_sms", c, n)
        m0, t0 = clock.cpu, timer()
        deliveries.post(request)
        webhook += timer() - t0
        webhook_moto += clock.cpu - m0
        pending += 1
        if pending == BATCH:
            pump()
            pending = 0
    if pending:
        pump()
    total, moto = webhook + drain, webhook_moto + drain_moto
    count = len(customers)
    handler_cpu, handler_moto = handler.cpu - h_cpu, handler.moto - h_moto
    ms = 1000 / count
    return {
        "messages": count,
        "raw_cpu_ms": round(total * ms, 3),
        "emulator_cpu_ms": round(moto * ms, 3),
        "cpu_excl_emulator_ms": round((total - moto) * ms, 3),
        "emulator_share": round(moto / total, 3) if total else None,
        "breakdown_ms": {
            "webhook_route_excl_emulator": round((webhook - webhook_moto) * ms, 3),
            "webhook_route_emulator": round(webhook_moto * ms, 3),
            "stream_handler_excl_emulator": round((handler_cpu - handler_moto) * ms, 3),
            "stream_handler_emulator": round(handler_moto * ms, 3),
            "pump_overhead_excl_emulator": round(((drain - drain_moto) - (handler_cpu - handler_moto)) * ms, 3),
            "pump_overhead_emulator": round((drain_moto - handler_moto) * ms, 3),
        },
        # what the two Lambdas themselves would run: the route and the stream handler, no emulator,
        # no API Gateway stand-in, no stream poller
        "lambda_cpu_ms": round(((webhook - webhook_moto) + (handler_cpu - handler_moto)) * ms, 3),
        # of which inside the AWS SDK (botocore) for the app's DynamoDB requests
        "sdk_cpu_ms": round((SDK.cpu - sdk_cpu) * ms, 3) if SDK else None,
        "dynamodb_requests_per_message": round((SDK.requests - sdk_requests) / count, 2) if SDK else None,
        "stream_invocations": handler.invocations - h_inv,
        "stream_records": handler.records - h_rec,
    }


def _skip_backlog(pump) -> None:
    """Move the pump's stream iterators to the end of each shard (records already there are skipped)."""
    for stream in pump.streams:
        if not stream.arn:
            stream.arn = pump.ddb.describe_table(TableName=stream.table)["Table"]["LatestStreamArn"]
        for shard in pump.streams_api.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"]:
            stream.iterators[shard["ShardId"]] = pump.streams_api.get_shard_iterator(
                StreamArn=stream.arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]


def _notify(stack, clock: EmulatorClock, outbox_handler: HandlerClock, messages: int) -> dict:
    """Drain the outbox stream (ack to the customer, agent alert, integrator webhook) for the
    messages just delivered. thread_time: the sinks answer the HTTP calls in other threads."""
    m0, t0, h0, hm0 = clock.cpu, time.thread_time(), outbox_handler.cpu, outbox_handler.moto
    inv0, rec0, sent0 = outbox_handler.invocations, outbox_handler.records, len(stack.sink.records)
    services0 = dict(clock.by_service)
    stack.outbox.drain()
    total, moto = time.thread_time() - t0, clock.cpu - m0
    services = {k: round((v - services0.get(k, 0)) / messages, 2) for k, v in clock.by_service.items()
                if v - services0.get(k, 0)}
    return {
        "aws_requests_per_message_by_service": services,
        "messages": messages,
        "sent_by_sinks_per_message": round((len(stack.sink.records) - sent0) / messages, 2),
        "handler_cpu_excl_emulator_ms": round(((outbox_handler.cpu - h0) - (outbox_handler.moto - hm0))
                                              * 1000 / messages, 3),
        "drain_cpu_excl_emulator_ms": round((total - moto) * 1000 / messages, 3),
        "emulator_cpu_ms": round(moto * 1000 / messages, 3),
        "invocations": outbox_handler.invocations - inv0,
        "records": outbox_handler.records - rec0,
    }


def main() -> None:
    common.environment()
    global SDK
    clock = EmulatorClock().install()
    SDK = SdkClock(clock).install()
    with common.stack() as stack:
        from chalicelib.services import jetconfig
        jetconfig.current()
        deliveries = common.Deliveries(stack)
        handler = HandlerClock(stack.inbound.streams[0].handler, clock)
        stack.inbound.streams[0].handler = handler
        outbox_handler = HandlerClock(stack.outbox.streams[0].handler, clock)
        stack.outbox.streams[0].handler = outbox_handler

        # warm-up: lazy imports (sentiment, language model, Twilio client), caches, first tables
        base = 100_000
        _run(stack, deliveries, range(base, base + WARMUP), 0, clock, handler)
        stack.outbox.drain()
        _run(stack, deliveries, range(base, base + WARMUP), 1, clock, handler)
        stack.outbox.drain()

        rounds = []
        if os.environ.get("BENCH_STDIN_ROUNDS") == "1":  # the runner interleaves rounds with the peer's
            print("READY", flush=True)
            for line in sys.stdin:
                if line.strip() != "round":
                    break
                start = len(rounds) * N_FIRST
                rounds.append(_run(stack, deliveries, range(start, start + N_FIRST), 0, clock, handler))
                print("ROUND " + json.dumps(rounds[-1]), flush=True)
        else:
            rounds.append(_run(stack, deliveries, range(N_FIRST), 0, clock, handler))
        first = sorted(rounds, key=lambda r: r["cpu_excl_emulator_ms"])[len(rounds) // 2]
        follow = _run(stack, deliveries, range(N_FOLLOW), 1, clock, handler)

        # the notifier, on fresh messages of each kind (the rounds' backlog is skipped, not sent)
        _skip_backlog(stack.outbox)
        _run(stack, deliveries, range(700_000, 700_000 + N_NOTIFY), 0, clock, handler)
        notifier_first = _notify(stack, clock, outbox_handler, N_NOTIFY)
        _run(stack, deliveries, range(700_000, 700_000 + N_NOTIFY), 1, clock, handler)
        notifier_follow = _notify(stack, clock, outbox_handler, N_NOTIFY)
        notifier = {"first_message": notifier_first, "follow_up": notifier_follow}

        profile = None
        if os.environ.get("BENCH_PROFILE", "1") == "1":
            from .profiling import profile as run_profile
            profile = run_profile(lambda: _run(stack, deliveries, range(500_000, 500_050), 0, clock, handler),
                                  skip_owners=("moto",), emulator=clock, top=25)
    emit({"first_message": first, "rounds": rounds, "follow_up": follow, "notifier": notifier,
          "profile_50_first_messages": profile, "batch": BATCH, "warmup_messages": 2 * WARMUP})


if __name__ == "__main__":
    main()

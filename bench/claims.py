"""Section 4: what one claim costs with 10, 1,000 and 100,000 tickets waiting in the queue.

The queue is filled straight into the emulator's table (set-up, not the pipeline, not
measured): copies of a real ticket threaded from an SMS, each with its own id, ref, JET score
and the queue_slot / rank / timer fields set exactly as services/scoring.py and
services/sweep.py set them, serialised by the model's own attributes. The depth is then
counted back in that table (the tickets holding the queue's slot). Then an agent claims through
POST /queues/{queue}/claim (authorizer, agent look-up, the claim transaction, the re-read),
counted on the app's botocore client. Target: the same at every depth.
"""
from __future__ import annotations

import os
import random
import time

from . import common
from .capacity import Meter
from .common import EmulatorClock, emit, median

DEPTHS = [int(d) for d in os.environ.get("BENCH_CLAIM_DEPTHS", "10,1000,100000").split(",")]
CLAIMS_PER_DEPTH = 3
QUEUE = "general"
AGENT = "bench-claimer"


def _emulated_table(name: str, region: str):
    """moto's own table object (default account), to fill without going through the API."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(name)


def main() -> None:
    common.environment()
    clock = EmulatorClock().install()
    with common.stack() as stack:
        from chalicelib import clock as jclock
        from chalicelib.auth import tokens
        from chalicelib.domain import tickets as rules
        from chalicelib.domain import timers
        from chalicelib.services import jetconfig, sweep
        from chalicelib.storage import models
        from chalicelib.storage.models import Agent, Ticket

        jetconfig.current()
        deliveries = common.Deliveries(stack)
        deliveries.send("twilio_sms", 1, 0, text="Hi, can I change my seat on tomorrow's flight?")
        stack.inbound.drain()
        [template] = list(Ticket.scan())
        template_attrs = {name: getattr(template, name) for name in Ticket.get_attributes()}
        Agent(AGENT, name="Bench Claimer", role="agent", queues=[QUEUE], languages=["en"],
              capacity={"default": 10_000}).save()
        headers = {"Authorization": "Bearer " + tokens.issue(stack.settings, AGENT, "agent")}
        rng = random.Random(8)
        now = jclock.now()

        table = _emulated_table(Ticket.Meta.table_name, stack.settings.region)
        base = Ticket(**{**template_attrs, "status": "open", "queue": QUEUE, "assignee": None,
                         "created_at": now, "updated_at": now, "version": 1})
        base.queue_slot = QUEUE
        sweep.arm(base, now)              # every copy is due at the same time, in its own shard
        raw, fields = base.serialize(), Ticket.get_attributes()

        def fill(count: int) -> float:
            """Set-up, never measured: copies of the template go straight into the emulator's table
            (no request, no botocore), each with the fields the services give a ticket of its own
            (id, ref, state key, customer, score, rank, timer shard), serialised by the model's
            attributes."""
            start = time.perf_counter()
            for _ in range(count):
                ticket_id = jclock.new_id()
                score = round(rng.uniform(1, 60), 1)
                own = {"id": ticket_id, "ref": rules.ref_for(ticket_id),
                       "state_key": rules.state_key("open", ticket_id), "customer_id": jclock.new_id(),
                       "rank": rules.rank_for(score, ticket_id),
                       "jet": {**template.jet, "score": score}}
                if base.timer_shard:
                    own["timer_shard"] = timers.shard(ticket_id)
                item = dict(raw)
                for name, value in own.items():
                    item[name] = {fields[name].attr_type: fields[name].serialize(value)}
                table.put_item(item)
            return time.perf_counter() - start

        def waiting() -> int:   # the tickets table has a hash key only: one item per key
            return sum(1 for item in table.items.values()
                       if "queue_slot" in item.attrs and item.attrs["queue_slot"].value == QUEUE)

        meter = Meter(models._shared["connection"].client).start()
        meter.reset()
        depth, results = waiting(), []
        for target in DEPTHS:
            filled = max(0, target - depth)
            meter.stop()
            seconds = fill(filled)
            depth = waiting()
            if depth != target:
                raise RuntimeError(f"the queue holds {depth:,} tickets, {target:,} were wanted")
            meter.start()
            runs = []
            for _ in range(CLAIMS_PER_DEPTH):
                meter.reset()
                m0, t0 = clock.cpu, time.process_time()
                response = stack.http.post(f"/queues/{QUEUE}/claim", headers=headers)
                cpu, moto = time.process_time() - t0, clock.cpu - m0
                if response.status_code != 200:
                    raise RuntimeError(f"claim answered {response.status_code}: {response.body[:300]!r}")
                tally = meter.reset()
                meter.stop()
                fill(1)   # keep the depth where it was
                meter.start()
                runs.append({**tally.as_dict(), "cpu_excl_emulator_ms": (cpu - moto) * 1000,
                             "emulator_ms": moto * 1000, "ticket": response.json_body["id"]})
            first = runs[0]
            results.append({
                "depth": target, "filled": filled, "fill_seconds": round(seconds, 2),
                "requests": first["requests"], "by_operation": first["by_operation"],
                "items_read": first["items_read"], "read_units": first["read_units"],
                "write_units": first["write_units"],
                "same_for_every_claim": all((r["requests"], r["items_read"]) == (first["requests"], first["items_read"])
                                            for r in runs),
                "cpu_excl_emulator_ms_median": round(median([r["cpu_excl_emulator_ms"] for r in runs]), 3),
                "emulator_ms_median": round(median([r["emulator_ms"] for r in runs]), 1),
                "claims": len(runs),
            })
        meter.stop()
    constant = len({(r["requests"], r["items_read"]) for r in results}) == 1
    emit({"queue": QUEUE, "depths": results, "constant_across_depths": constant})


if __name__ == "__main__":
    main()

"""Section 4: what one claim costs with 10, 1,000 and 100,000 tickets waiting in the queue.

The queue is filled directly with Ticket.batch_write (not through the pipeline): copies of a
real ticket threaded from an SMS, each with its own id, ref, JET score and the queue_slot /
rank / timer fields set exactly as services/scoring.py and services/sweep.py set them. Then
an agent claims through POST /queues/{queue}/claim (authorizer, agent look-up, the claim
transaction, the re-read), counted on the app's botocore client. Target: the same at every
depth. If filling 100,000 would not fit the time budget on this machine, the largest depth
is lowered (20,000) and the result says so.
"""
from __future__ import annotations

import os
import random
import time

from . import common
from .capacity import Meter
from .common import EmulatorClock, emit, median

DEPTHS = [int(d) for d in os.environ.get("BENCH_CLAIM_DEPTHS", "10,1000,100000").split(",")]
FALLBACK_DEPTH = 20_000
FILL_BUDGET_S = float(os.environ.get("BENCH_FILL_BUDGET_S", "150"))
CLAIMS_PER_DEPTH = 5
QUEUE = "general"
AGENT = "bench-claimer"


def main() -> None:
    common.environment()
    clock = EmulatorClock().install()
    with common.stack() as stack:
        from chalicelib import clock as jclock
        from chalicelib.auth import tokens
        from chalicelib.domain import tickets as rules
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

        def fill(count: int) -> float:
            start = time.perf_counter()
            with Ticket.batch_write() as batch:
                for _ in range(count):
                    ticket_id = jclock.new_id()
                    score = round(rng.uniform(1, 60), 1)
                    attrs = {**template_attrs, "id": ticket_id, "ref": rules.ref_for(ticket_id), "status": "open",
                             "queue": QUEUE, "assignee": None, "state_key": rules.state_key("open", ticket_id),
                             "customer_id": jclock.new_id(), "created_at": now, "updated_at": now, "version": 1,
                             "jet": {**template.jet, "score": score}}
                    ticket = Ticket(**attrs)
                    ticket.queue_slot = QUEUE
                    ticket.rank = rules.rank_for(score, ticket_id)
                    sweep.arm(ticket, now)
                    batch.save(ticket)
            return time.perf_counter() - start

        meter = Meter(models._shared["connection"].client).start()
        meter.reset()
        depth, results, note = 1 if template.queue_slot == QUEUE else 0, [], None
        depths = list(DEPTHS)
        for target in depths:
            if target == depths[-1] and target > FALLBACK_DEPTH and results:
                rate = results[-1]["fill_seconds"] / max(1, results[-1]["filled"])
                if rate * (target - depth) > FILL_BUDGET_S:
                    note = (f"filling {target:,} tickets into moto in-process was projected at "
                            f"{rate * (target - depth):.0f} s (> {FILL_BUDGET_S:.0f} s budget); measured "
                            f"{FALLBACK_DEPTH:,} instead")
                    target = FALLBACK_DEPTH
            filled = max(0, target - depth)
            meter.stop()
            seconds = fill(filled)
            meter.start()
            depth = target
            runs = []
            for _ in range(CLAIMS_PER_DEPTH if target <= FALLBACK_DEPTH else 3):
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
    emit({"queue": QUEUE, "depths": results, "constant_across_depths": constant, "note": note})


if __name__ == "__main__":
    main()

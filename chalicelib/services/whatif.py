"""What if: score the queued tickets under a proposed configuration and show how the order would change."""
from __future__ import annotations

from typing import Any

from .. import clock
from ..domain import jet
from ..storage.models import Customer, Ticket, tickets_by_id
from . import jetconfig, scoring

SAMPLE = 50


def compare(queues: list[str], proposed: dict[str, Any]) -> dict[str, Any]:
    jetconfig.check(proposed)
    current, now = jetconfig.current(), clock.now()
    report = []
    for queue in queues:
        tickets = tickets_by_id([key.id for key in Ticket.queue_rank.query(queue, limit=SAMPLE)])
        customers = {c.id: c for c in Customer.batch_get({t.customer_id for t in tickets})}
        rows = []
        for ticket in tickets:
            facts = scoring.facts(ticket, customers[ticket.customer_id], now)
            rows.append({"id": ticket.id, "ref": ticket.ref, "score_now": round(jet.score(facts, current).score, 1),
                         "score_proposed": round(jet.score(facts, proposed).score, 1)})
        for key in ("score_now", "score_proposed"):
            for position, row in enumerate(sorted(rows, key=lambda r: (-r[key], r["id"])), start=1):
                row[key.replace("score", "position")] = position
        moved = [r for r in rows if r["position_now"] != r["position_proposed"]]
        report.append({"queue": queue, "sampled": len(rows), "moved": len(moved),
                       "tickets": sorted(rows, key=lambda r: r["position_proposed"])})
    return {"current_version": current.get("version"), "queues": report}

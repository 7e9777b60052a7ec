"""Section 5: JET scores per second and CPU per score, with and without sentiment.

chalicelib.domain.jet.score with chalicelib.config.DEFAULT_JET, on facts like a real ticket's
(a booking profile, a journey with an upcoming delayed segment, three customer messages).
"With sentiment" = three English texts (VADER reads each; intent is recognised from them);
"without" = no texts (no sentiment, intent falls back to "other"). Each case runs for at
least MIN_CPU_S of CPU after a warm-up (the VADER lexicon load is excluded).
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

from . import common
from .common import emit

MIN_CPU_S = float(os.environ.get("BENCH_SCORING_CPU_S", "1.5"))
TEXTS = ("My flight AF123 was cancelled and nobody is helping! This is terrible.",
         "I have been waiting for two hours at the airport and I am really upset.",
         "Please call me back, I need to get home tonight for my daughter's birthday.")


def _facts(texts):
    from chalicelib.domain.jet import Facts
    now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    return Facts(
        now=now, created_at=now - timedelta(minutes=40), texts=texts, language="en",
        profile={"loyalty_tier": "gold", "fare_class": "economy", "special_services": ["WCHR"],
                 "ticket_value": 640, "booking_ref": "X7K2QD"},
        journey={"booking_ref": "X7K2QD", "segments": [
            {"flight": "AF123", "origin": "CDG", "destination": "JFK",
             "scheduled_departure": (now + timedelta(hours=5)).isoformat(), "status": "delayed",
             "delay_minutes": 90, "connection_at_risk": True},
            {"flight": "AF6", "origin": "JFK", "destination": "LAX",
             "scheduled_departure": (now + timedelta(hours=14)).isoformat(), "status": "scheduled"}]},
        inbound_count=2, channels_used=2)


def _measure(facts, config) -> dict:
    from chalicelib.domain import jet
    for _ in range(50):
        jet.score(facts, config)
    count, batch = 0, 200
    start = time.process_time()
    while True:
        for _ in range(batch):
            jet.score(facts, config)
        count += batch
        spent = time.process_time() - start
        if spent >= MIN_CPU_S:
            break
    result = jet.score(facts, config)
    return {"scores": count, "cpu_s": round(spent, 3), "scores_per_second": round(count / spent),
            "cpu_us_per_score": round(spent * 1e6 / count, 1), "example": {"score": round(result.score, 1),
                                                                          "tier": result.tier,
                                                                          "intent": result.intent}}


def main() -> None:
    common.environment()
    from chalicelib.config import DEFAULT_JET
    with_sentiment = _measure(_facts(TEXTS), DEFAULT_JET)
    without = _measure(_facts(()), DEFAULT_JET)
    emit({"with_sentiment": with_sentiment, "without_sentiment": without,
          "sentiment_share": round(1 - without["cpu_us_per_score"] / with_sentiment["cpu_us_per_score"], 3),
          "texts": len(TEXTS), "language": "en"})


if __name__ == "__main__":
    main()

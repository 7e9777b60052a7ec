"""Properties of the JET score, for any facts: bounded, deterministic, monotone in every urgency."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.config import DEFAULT_JET
from chalicelib.domain import jet

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
TEXTS = ["Where is my bag?", "My flight was cancelled!!! This is terrible", "Thanks a lot",
         "I missed my connection", "What time does check-in open?", "I need a wheelchair"]

facts = st.builds(
    jet.Facts,
    now=st.just(NOW),
    created_at=st.integers(0, 72 * 60).map(lambda m: NOW - timedelta(minutes=m)),
    texts=st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3).map(tuple),
    language=st.just("en"),
    profile=st.fixed_dictionaries({
        "loyalty_tier": st.sampled_from(["none", "silver", "gold", "platinum"]),
        "fare_class": st.sampled_from(["economy", "premium_economy", "business", "first"]),
        "special_services": st.lists(st.sampled_from(["WCHR", "UMNR", "MEDA", "PETC"]), max_size=2)}),
    journey=st.lists(st.fixed_dictionaries({
        "flight": st.just("AF1"),
        "scheduled_departure": st.integers(-24, 200).map(lambda h: (NOW + timedelta(hours=h)).isoformat()),
        "status": st.sampled_from(["scheduled", "delayed", "cancelled", "diverted"]),
        "delay_minutes": st.integers(0, 600), "connection_at_risk": st.booleans(),
        "baggage_status": st.sampled_from([None, "delayed", "damaged", "lost"])}), max_size=2)
    .map(lambda segments: {"segments": segments}),
    inbound_count=st.integers(1, 6), channels_used=st.integers(1, 3),
    agent_emotions=st.lists(st.sampled_from(list(jet.EMOTIONS)), max_size=2).map(tuple),
)


def score(f):
    return jet.score(f, DEFAULT_JET)


@settings(max_examples=150, deadline=None)
@given(facts)
def test_scores_stay_in_bounds_and_are_deterministic(f):
    first, again = score(f), score(f)
    assert 0 <= first.score <= 100 and first == again
    assert all(0 <= i.value <= 1 for i in first.indicators)


@settings(max_examples=100, deadline=None)
@given(facts, st.sampled_from(list(jet.EMOTIONS)))
def test_a_more_upset_agent_reading_never_lowers_the_score(f, emotion):
    calmer = replace(f, agent_emotions=("calm",))
    upset = replace(f, agent_emotions=(emotion,))
    assert score(upset).score >= score(calmer).score


@settings(max_examples=100, deadline=None)
@given(facts, st.integers(1, 5))
def test_more_effort_never_lowers_the_score(f, more):
    assert score(replace(f, inbound_count=f.inbound_count + more)).score >= score(f).score
    assert score(replace(f, created_at=f.created_at - timedelta(hours=more))).score >= score(f).score


@settings(max_examples=100, deadline=None)
@given(facts, st.sampled_from(["WCHR", "UMNR", "MEDA"]))
def test_care_needs_never_lower_the_score(f, code):
    needier = replace(f, profile={**f.profile, "special_services": list(f.profile["special_services"]) + [code]})
    assert score(needier).score >= score(f).score


@settings(max_examples=100, deadline=None)
@given(facts)
def test_a_cancellation_never_lowers_the_score(f):
    cancelled = replace(f, journey={"segments": [dict(s, status="cancelled") for s in f.journey["segments"]]})
    assert score(cancelled).score >= score(f).score


@settings(max_examples=100, deadline=None)
@given(facts, st.integers(1, 48))
def test_an_earlier_departure_never_lowers_the_score(f, hours):
    earlier = replace(f, journey={"segments": [
        dict(s, scheduled_departure=(datetime.fromisoformat(s["scheduled_departure"]) - timedelta(hours=hours))
             .isoformat()) for s in f.journey["segments"]
        if datetime.fromisoformat(s["scheduled_departure"]) - timedelta(hours=hours) > NOW]})
    kept = replace(f, journey={"segments": [
        s for s in f.journey["segments"]
        if datetime.fromisoformat(s["scheduled_departure"]) - timedelta(hours=hours) > NOW]})
    assert score(earlier).score >= score(kept).score

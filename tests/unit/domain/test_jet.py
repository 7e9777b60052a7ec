from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.config import DEFAULT_JET
from chalicelib.domain import jet

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def score_of(f):
    return jet.score(f, DEFAULT_JET)


def facts(**kw):
    return jet.Facts(now=NOW, created_at=kw.pop("created_at", NOW), **kw)


def segment(status="scheduled", hours=5, **kw):
    return {"flight": "AF123", "scheduled_departure": (NOW + timedelta(hours=hours)).isoformat(),
            "status": status, **kw}


def indicators(score):
    return {i.key: i for i in score.indicators}


def test_every_indicator_is_present_bounded_and_explained():
    score = score_of(facts(texts=["hello"]))
    assert [i.key for i in score.indicators] == list(jet.INDICATORS)
    for i in score.indicators:
        assert 0.0 <= i.value <= 1.0 and i.reason and i.level in ("low", "medium", "high")
    assert 0 <= score.score <= 100 and score.tier in ("P1", "P2", "P3", "P4")


def test_a_confirmed_cancellation_outranks_the_same_words_alone():
    words = ["My flight was cancelled"]
    reported = score_of(facts(texts=words))
    confirmed = score_of(facts(texts=words, journey={"segments": [segment("cancelled")]}))
    assert confirmed.score > reported.score
    assert indicators(confirmed)["disruption"].value == 1.0
    assert "cancelled" in indicators(confirmed)["disruption"].reason


def test_lost_baggage_confirmed_on_the_journey_is_a_disruption_but_bag_words_alone_are_not():
    words = ["Where is my bag? It did not arrive"]
    assert indicators(score_of(facts(texts=words)))["disruption"].value == 0.0
    lost = indicators(score_of(facts(texts=words, journey={"segments": [segment("arrived", -2,
                                                                                 baggage_status="lost")]})))
    assert (lost["disruption"].value, lost["disruption"].reason) == (0.7, "baggage from AF123 is lost")


def test_a_cancellation_outranks_a_question():
    assert score_of(facts(texts=["my flight is cancelled"])).score > \
        score_of(facts(texts=["what time does check-in open?"])).score


@pytest.mark.parametrize("text, intent", [
    ("My flight was cancelled", "cancellation"),
    ("mon vol est annulé", "cancellation"),
    ("I missed my connection in Paris", "missed_connection"),
    ("Where is my luggage?", "baggage"),
    ("Je voudrais un remboursement", "refund"),
    ("I need a wheelchair at the gate", "special_assistance"),
    ("hello there", "other"),
])
def test_intent_is_recognised_in_english_and_french(text, intent):
    assert jet.recognise_intent([text], DEFAULT_JET) == intent


def test_time_pressure_counts_a_cancelled_segment_that_has_not_left():
    soon = score_of(facts(journey={"segments": [segment("cancelled", hours=2)]}))
    later = score_of(facts(journey={"segments": [segment("cancelled", hours=48)]}))
    assert indicators(soon)["time_pressure"].value == 1.0
    assert 0 < indicators(later)["time_pressure"].value < 1.0


def test_a_departure_time_written_in_lower_case_rfc_3339_counts_too():
    departing = segment("cancelled", hours=2)
    departing["scheduled_departure"] = departing["scheduled_departure"].replace("+00:00", "z").lower()
    assert indicators(score_of(facts(journey={"segments": [departing]})))["time_pressure"].value == 1.0


def test_a_flight_reported_delayed_is_a_disruption_before_its_minutes_are_known():
    disruption = indicators(score_of(facts(journey={"segments": [segment("delayed")]})))["disruption"]
    assert disruption.value == 0.2 and disruption.reason == "AF123 is delayed"


def test_a_delayed_flight_past_its_scheduled_time_still_puts_time_pressure():
    late = segment("delayed", hours=-0.5, delay_minutes=90)      # leaves in an hour, not 30 min ago
    pressure = indicators(score_of(facts(journey={"segments": [late]})))["time_pressure"]
    assert pressure.value == 1.0 and pressure.reason == "AF123 departs in 1.0 h (delayed 90 min)"


def test_departed_and_past_segments_put_no_time_pressure():
    score = score_of(facts(journey={"segments": [segment("departed", hours=1), segment(hours=-3)]}))
    assert indicators(score)["time_pressure"].value == 0.0


def test_an_angry_message_raises_mood_and_a_calm_one_does_not():
    angry = indicators(score_of(facts(texts=["This is terrible, I am furious and nobody helps!!!"])))["mood"]
    calm = indicators(score_of(facts(texts=["Thanks, have a nice day"])))["mood"]
    assert angry.value > 0.5 > calm.value


def test_french_messages_have_a_sentiment_of_their_own():
    upset = indicators(score_of(facts(texts=["Mon vol est annulé et personne ne m'aide, c'est inadmissible !"],
                                      language="fr")))["mood"]
    calm = indicators(score_of(facts(texts=["Merci beaucoup, très bon service"], language="fr")))["mood"]
    assert upset.value > 0.5 > calm.value


def test_mood_stays_neutral_with_a_reason_where_there_is_no_sentiment_model():
    mood = indicators(score_of(facts(texts=["Das ist eine Katastrophe!"], language="de")))["mood"]
    assert mood.value == 0.0 and "no sentiment model" in mood.reason


def test_repeat_contacts_channel_switches_and_waiting_raise_effort():
    first = indicators(score_of(facts()))["effort"].value
    weary = indicators(score_of(facts(inbound_count=4, channels_used=2,
                                       created_at=NOW - timedelta(hours=5))))["effort"].value
    assert first == 0.0 and weary > 0.5


def test_value_and_care_needs_come_from_the_profile():
    score = score_of(facts(profile={"loyalty_tier": "gold", "fare_class": "economy",
                                     "special_services": ["WCHR", "XXXX"]}))
    assert indicators(score)["value"].value == 0.7
    assert indicators(score)["care_needs"].value == 0.7
    assert "Confirm wheelchair assistance at the new gate" in score.recommendations


def test_the_score_follows_the_formula():
    score = score_of(facts(texts=["my flight is cancelled"], profile={"loyalty_tier": "platinum"}))
    w = score.weights
    expected = 100 * score.priority * (w["journey"] * score.journey + w["experience"] * score.experience
                                       + w["ticket"] * score.ticket)
    assert score.score == pytest.approx(expected)


@pytest.mark.parametrize("higher, lower", [
    (dict(texts=["My flight was cancelled, what now?"], journey={"segments": [segment("cancelled", hours=2)]}),
     dict(texts=["What are the baggage rules?"], journey={"segments": [segment(hours=24 * 30)]})),
    (dict(texts=["Where is my bag?"], profile={"loyalty_tier": "platinum", "special_services": ["WCHR"]}),
     dict(texts=["Where is my bag?"])),
    (dict(texts=["Where is my bag?! I am furious, this is a disgrace"]),
     dict(texts=["Where is my bag? Thank you so much for your help"])),
], ids=["cancelled-in-2h-vs-question-next-month", "platinum-wheelchair-vs-no-profile", "furious-vs-polite"])
def test_scenarios_rank_as_a_supervisor_would(higher, lower):
    assert score_of(facts(**higher)).score > score_of(facts(**lower)).score

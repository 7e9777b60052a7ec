"""The bot's rules: matching, the variables of a booking, filling, escaping, and when people take over."""
import copy
import json
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.config import DEFAULT_JET
from chalicelib.domain import bot, jet
from chalicelib.domain.conditions import Context
from chalicelib.services.bot import PACKAGED, check

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
KB = check(json.loads(PACKAGED.read_text()))
CALM = jet.score(jet.Facts(now=NOW, created_at=NOW, texts=["How many bags can I bring?"]), DEFAULT_JET)


def ctx(tier="P4", **indicators):
    ind = {i.key: i for i in CALM.indicators}
    ind.update({k: jet.Indicator(k, v, f"{k} is {v}") for k, v in indicators.items()})
    return Context(intent="information", tier=tier, channel="sms", language="en", indicators=ind)


@pytest.mark.parametrize("text, intent", [
    ("How many bags can I bring?", "baggage_allowance"),
    ("what's the baggage allowance on my ticket", "baggage_allowance"),
    ("Quelle est la franchise bagages ?", "baggage_allowance"),
    ("I'd like to add a bag to my booking", "add_bag"),
    ("Je voudrais ajouter une valise", "add_bag"),
    ("What time does check-in open?", "check_in_times"),
    ("Where is my refund?", "refund_status"),
    ("Où en est mon remboursement ?", "refund_status"),
    ("Where is my bag?", None),                      # lost baggage: for people
    ("Please refund me.", None),                     # a request, not a status question
    ("Can I bring my guitar on board as hand luggage?", None),
])
def test_a_question_is_matched_to_the_bots_intent_in_english_or_french(text, intent):
    assert bot.intent_of(text, KB) == intent


@pytest.mark.parametrize("text", ["agent", "I want to talk to a human", "Operator please", "un conseiller svp",
                                  "je veux parler à une personne", "HUMAIN"])
def test_asking_for_a_person_is_heard_in_either_language(text):
    assert bot.wants_person(text, KB)


def test_thanks_alone_closes_but_thanks_with_a_question_does_not():
    assert bot.is_thanks("Thanks!", KB) and bot.is_thanks("merci, c'est tout", KB)
    assert not bot.is_thanks("Thanks, and how many bags can I bring?", KB)
    assert not bot.is_thanks("hello", KB)


def test_a_typed_booking_reference_has_letters_and_digits():
    assert bot.booking_ref_in("it is x7k2qd thanks") == "X7K2QD"
    assert bot.booking_ref_in("my refund please") is None


def test_the_answer_uses_the_customers_fare_and_booking_when_known():
    values = bot.values_for("JD-ABCDEFGH", {"fare_class": "business", "booking_ref": "X7K2QD"}, {}, None, "en",
                            NOW, KB)
    said = bot.answer("baggage_allowance", "en", values, KB)
    assert "Business fare on booking X7K2QD includes 2 cabin bags" in said.text


def test_without_a_booking_the_general_answer_is_given_and_french_stays_french():
    assert bot.answer("baggage_allowance", "en", {"ref": "JD-1"}, KB).text.startswith("Economy fares include")
    assert bot.answer("baggage_allowance", "fr", {"ref": "JD-1"}, KB).text.startswith("Les tarifs Économie")
    assert bot.answer("baggage_allowance", "de", {"ref": "JD-1"}, KB).text.startswith("Economy fares include")


def test_refund_status_asks_for_the_booking_reference_when_none_is_known():
    asked = bot.answer("refund_status", "en", {"ref": "JD-1"}, KB)
    assert asked.asks == "booking_ref" and "booking reference" in asked.text
    told = bot.answer("refund_status", "en", bot.values_for("JD-1", {}, {}, "X7K2QD", "en", NOW, KB), KB)
    assert told.asks is None and "booking X7K2QD" in told.text


def test_check_in_times_count_from_the_next_flight():
    journey = {"segments": [
        {"flight": "AF1", "scheduled_departure": (NOW - timedelta(hours=2)).isoformat(), "status": "departed"},
        {"flight": "AF2", "scheduled_departure": "2026-11-25T08:30:00Z", "status": "scheduled"}]}
    said = bot.answer("check_in_times", "en", bot.values_for("JD-1", {}, journey, None, "en", NOW, KB), KB)
    assert "for AF2 (departs 2026-11-25 08:30 UTC) opens at 2026-11-24 08:30 UTC" in said.text


def test_placeholders_are_filled_once_and_their_values_escaped():
    hostile = {"fare_class": "economy", "booking_ref": "<script>{ref}</script>\n{allowance}"}
    values = bot.values_for("JD-ABCDEFGH", hostile, {}, None, "en", NOW, KB)
    said = bot.answer("baggage_allowance", "en", values, KB).text
    assert "<" not in said and ">" not in said and "{" not in said and "}" not in said and "\n" not in said
    assert "ref allowance" in said               # tags dropped, the rest as text, never read as a placeholder
    assert bot.fill("{ref} and {booking_ref}", {"ref": "{booking_ref}", "booking_ref": "X"}) == "booking_ref and X"
    assert len(bot.plain("A" * 500)) == bot.VALUE_LIMIT


def test_p1_and_p2_never_get_a_bot_answer_nor_do_disruption_care_or_anger():
    question = "How many bags can I bring?"
    assert bot.first_turn(question, ctx("P4"), KB) == "baggage_allowance"
    assert bot.first_turn(question, ctx("P3"), KB) == "baggage_allowance"
    for risky in (ctx("P1"), ctx("P2"), ctx(disruption=1.0), ctx(care_needs=0.9), ctx(mood=0.9)):
        assert bot.first_turn(question, risky, KB) is None
    assert bot.first_turn("How many bags can I bring? I want an agent", ctx(), KB) is None


def test_a_typed_booking_reference_answers_the_question_that_asked_for_it_not_the_first_one():
    state = {"intent": "baggage_allowance", "last_intent": "refund_status", "answers": 2, "awaiting": "booking_ref"}
    typed = bot.next_turn("It is x7k2qd", ctx(), state, KB)
    assert (typed.intent, typed.booking_ref) == ("refund_status", "X7K2QD")


def test_a_follow_up_is_answered_closed_or_handed_over():
    state = {"intent": "refund_status", "answers": 1, "awaiting": "booking_ref"}
    typed = bot.next_turn("it's X7K2QD", ctx(), state, KB)
    assert (typed.action, typed.intent, typed.booking_ref) == ("answer", "refund_status", "X7K2QD")
    assert bot.next_turn("and check-in, when does it open?", ctx(), state, KB).intent == "check_in_times"
    assert bot.next_turn("thank you", ctx(), state, KB).action == "close"
    assert bot.next_turn("agent", ctx(), state, KB).reason == "asked for a person"
    assert bot.next_turn("my dog ate my passport", ctx(), state, KB).reason == "the bot could not match the message"
    assert bot.next_turn("how many bags can I bring?", ctx("P2"), state, KB).reason.startswith("rose to JET P2")
    worn = {**state, "answers": KB["max_answers"]}
    assert bot.next_turn("how many bags can I bring?", ctx(), worn, KB).action == "handover"


def test_the_packaged_knowledge_base_is_valid_and_a_broken_one_says_where():
    broken = copy.deepcopy(KB)
    broken["intents"]["add_bag"]["answers"]["en"][0]["text"] = "Booking {booking_ref} for {seat}"
    broken["intents"]["add_bag"]["answers"]["en"][-1]["needs"] = ["flight"]
    broken["intents"]["check_in_times"]["answers"]["en"][1]["text"] = "opens {flight}"
    broken["handover_words"]["en"].append("(unclosed")
    with pytest.raises(bot.InvalidKnowledge) as caught:
        check(broken)
    messages = {(p["path"], p["message"]) for p in caught.value.problems}
    assert ("/intents/add_bag/answers/en/0/text", "unknown placeholder {seat}") in messages
    assert ("/intents/add_bag/answers/en", "the last answer must need nothing (it is the fallback)") in messages
    assert ("/intents/check_in_times/answers/en/1/text", "{flight} is used but not in needs") in messages
    assert any(p.startswith("/handover_words/en/") for p, _ in messages)
    with pytest.raises(bot.InvalidKnowledge, match="quiet_minutes"):
        check({**KB, "quiet_minutes": 0})


def test_bot_answers_before_a_person_raise_effort_with_a_reason():
    base = jet.Facts(now=NOW, created_at=NOW, texts=["agent"], inbound_count=3)
    after_bot = jet.Facts(now=NOW, created_at=NOW, texts=["agent"], inbound_count=3, bot_answers=2)
    before, after = jet.effort(base), jet.effort(after_bot)
    assert after.value == pytest.approx(before.value + 0.2)
    assert after.reason.endswith("2 bot answer(s) before a person") and "bot" not in before.reason

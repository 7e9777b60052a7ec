"""Canned response templates: their placeholders, and filling them so that values inject nothing."""
import pytest

from chalicelib.domain import canned

JOURNEY = {"booking_ref": "Q4TR8K", "segments": [
    {"flight": "JD100", "status": "arrived", "scheduled_departure": "2026-12-01T08:00:00Z"},
    {"flight": "JD456", "status": "delayed", "delay_minutes": 95, "scheduled_departure": "2026-12-02T15:35:00Z"},
    {"flight": "JD457", "status": "scheduled", "scheduled_departure": "2026-12-09T10:00:00Z"}]}


def test_a_template_names_its_placeholders_in_order_once_each():
    text = "Dear {customer_name}, about {ref}: {flight} now leaves at {new_departure}. {ref} again, {{literal}}."
    assert canned.placeholders(text) == ["customer_name", "ref", "flight", "new_departure"]


@pytest.mark.parametrize("text, bad", [("Hi {name}", "{name}"), ("{ref:>20}", "{ref:>20}"), ("{ref!r}", "{ref!r}"),
                                       ("{0}", "{0}"), ("{}", "{}"), ("{ref.__class__}", "{ref.__class__}")])
def test_unknown_or_formatted_placeholders_are_refused_with_what_to_use(text, bad):
    with pytest.raises(canned.TemplateError) as refused:
        canned.placeholders(text)
    assert refused.value.details == [{"path": "/text", "message": f"unknown placeholder {bad}; use {{customer_name}}, "
                                                                  "{ref}, {flight}, {new_departure}"}]


@pytest.mark.parametrize("text", ["a lone { brace", "a lone } brace"])
def test_a_lone_brace_is_refused_with_how_to_write_one(text):
    with pytest.raises(canned.TemplateError) as refused:
        canned.placeholders(text)
    assert "write {{ or }} for a literal brace" in refused.value.details[0]["message"]


def test_filling_puts_each_value_in_its_place():
    text, missing = canned.fill("Dear {customer_name}, your case {ref} ({{ref}} stays)", {
        "customer_name": "Ana Lima", "ref": "JD-7K2M9Q4R"})
    assert (text, missing) == ("Dear Ana Lima, your case JD-7K2M9Q4R ({ref} stays)", [])


def test_a_value_that_looks_like_a_placeholder_is_not_filled_again():
    text, _ = canned.fill("Dear {customer_name}, your case {ref}", {"customer_name": "{ref} {flight}", "ref": "JD-1",
                                                                    "flight": "JD456"})
    assert text == "Dear ref flight, your case JD-1"


def test_markup_in_a_value_is_removed_not_passed_on():
    text, _ = canned.fill("Dear {customer_name}.", {"customer_name": "<script>alert(1)</script>Ana <i>Lima</i> <b"})
    assert text == "Dear alert(1)Ana Lima b." and "<" not in text and ">" not in text


def test_control_characters_and_runs_of_space_in_a_value_become_one_space_and_long_values_are_cut():
    text, _ = canned.fill("{customer_name}|", {"customer_name": "Ana\r\n\tLima\u200b  Jr\x00" + "x" * 300})
    assert text.startswith("Ana Lima Jr x") and len(text) == canned.VALUE_MAX + 1


def test_a_placeholder_without_a_value_stays_for_the_agent_and_is_reported():
    text, missing = canned.fill("{customer_name}: {flight} at {new_departure}", {"customer_name": "  <b></b> "})
    assert text == "{customer_name}: {flight} at {new_departure}"
    assert missing == ["customer_name", "flight", "new_departure"]


def test_the_journey_gives_the_next_flight_and_its_new_departure_with_the_delay():
    values = canned.values_for("Ana", "JD-1", JOURNEY)
    assert values == {"customer_name": "Ana", "ref": "JD-1", "flight": "JD456", "new_departure": "2026-12-02 17:10 UTC"}


def test_a_cancelled_flight_has_no_new_departure_and_no_journey_gives_nothing():
    cancelled = {"segments": [{"flight": "JD456", "status": "cancelled", "scheduled_departure": "2026-12-02T15:35Z"}]}
    assert canned.values_for(None, "JD-1", cancelled)["new_departure"] is None
    assert canned.values_for(None, "JD-1", {}) == {"customer_name": None, "ref": "JD-1", "flight": None,
                                                   "new_departure": None}


def test_the_demo_canned_responses_are_valid_templates_in_english_and_french():
    from infra.local import demo
    assert {language for _, _, _, language, _ in demo.CANNED} == {"en", "fr"}
    for _, _, _, _, text in demo.CANNED:
        assert canned.placeholders(text) and len(text) <= 1200


def test_the_next_flight_is_the_one_that_leaves_first_whatever_the_offsets_it_is_written_in():
    journey = {"segments": [{"flight": "AA100", "scheduled_departure": "2026-12-02T20:00:00-08:00"},   # 04:00Z
                            {"flight": "BA200", "scheduled_departure": "2026-12-03T01:00:00Z"},
                            {"flight": "XX999"}]}
    assert canned.next_segment(journey)["flight"] == "BA200"
    assert canned.new_departure(journey["segments"][1]) == "2026-12-03 01:00 UTC"

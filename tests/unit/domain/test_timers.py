"""When a ticket next needs the sweep: the earliest of its clocks, the end of an offer included."""
from datetime import datetime, timedelta, timezone

from chalicelib.domain import tickets as rules
from chalicelib.domain import timers

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def test_an_offer_to_the_customers_own_agent_is_due_when_it_ends():
    ends = NOW + timedelta(seconds=120)
    assert timers.next_due(NOW, timers.Clocks(status="open", offer_expires_at=ends)) == ends


def test_an_earlier_deadline_wins_over_the_offer():
    breach = NOW + timedelta(seconds=30)
    clocks = timers.Clocks(status="open", first_response_due=breach, offer_expires_at=NOW + timedelta(seconds=120))
    assert timers.next_due(NOW, clocks) == breach


def test_without_clocks_a_ticket_is_due_for_rescoring_and_a_resolved_one_never():
    assert timers.next_due(NOW, timers.Clocks(status="open")) == NOW + timers.RESCORE_EVERY
    assert timers.next_due(NOW, timers.Clocks(status="resolved", offer_expires_at=NOW)) is None


def test_a_personal_slot_is_named_after_its_agent_and_apart_from_queue_names():
    assert rules.personal_slot("alice") == "agent:alice" and rules.personal_slot("alice").startswith(rules.PERSONAL)
    assert rules.MINE == "mine"


def test_an_rfc_3339_time_written_in_lower_case_reads_as_the_same_time():
    assert timers.parse("2026-11-23t12:00:00z") == timers.parse("2026-11-23T12:00:00Z")

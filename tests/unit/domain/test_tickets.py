from datetime import datetime, timezone
from types import SimpleNamespace

from chalicelib.config import DEFAULT_JET
from chalicelib.domain import tickets
from chalicelib.domain.conditions import Context


def test_a_higher_score_ranks_first():
    assert tickets.rank_for(80.0, "01B") < tickets.rank_for(20.0, "01A")


def test_equal_scores_rank_the_older_ticket_first():
    assert tickets.rank_for(50.0, "01A") < tickets.rank_for(50.0, "01B")


def test_scores_at_the_edges_keep_fixed_width_ranks():
    assert len(tickets.rank_for(0.0, "x")) == len(tickets.rank_for(100.0, "x"))


def test_disruption_intents_route_to_the_disruption_queue():
    routes = DEFAULT_JET["routes"]
    disrupted = {"disruption": SimpleNamespace(value=0.9, reason="AF1 is cancelled")}
    calm = {"disruption": SimpleNamespace(value=0.0, reason="no disruption known")}
    assert tickets.route(Context("cancellation"), routes) == "disruption"
    assert tickets.route(Context("baggage", indicators=disrupted), routes) == "disruption"
    assert tickets.route(Context("baggage", indicators=calm), routes) == "general"


def test_the_ref_is_short_and_comes_from_the_id():
    assert tickets.ref_for("01JDZZZZZZZZZZZZZZABCDEFGH") == "JD-ABCDEFGH"


def test_open_states_sort_apart_from_closed_ones():
    assert tickets.state_key("assigned", "01A").startswith("open#")
    assert tickets.state_key("resolved", "01A").startswith("closed#")


def test_sla_is_tighter_for_higher_tiers():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert tickets.sla_due(t0, "P1", DEFAULT_JET) < tickets.sla_due(t0, "P4", DEFAULT_JET)


def test_supervisors_and_queue_members_may_work_a_queue_others_may_not():
    assert tickets.can_work("supervisor", [], "disruption")
    assert tickets.can_work("agent", ["disruption"], "disruption")
    assert not tickets.can_work("agent", ["general"], "disruption")
    assert tickets.can_work("agent", ["general"], "disruption", assignee="bob", agent_id="bob")


def test_a_breached_sla_ranks_before_any_score():
    assert tickets.rank_for(0.0, "01B", breached=True) < tickets.rank_for(100.0, "01A")

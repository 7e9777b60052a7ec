"""An agent's own tickets: those they hold (answered or not) newest first, and those they resolved."""
import json

from chalicelib.storage.models import Agent

from .conftest import bearer, sms

JSON = {"content-type": "application/json"}


def claimed(stack, http, agent, n, text="Can I choose my seat on this flight?"):
    sms(stack, http, f"SM{n:032d}", text, sender=f"+1415555{n:04d}")
    stack.pump.drain()
    return http.post("/queues/general/claim", headers=bearer(stack.settings, agent)).json_body


def mine(stack, http, agent="bob", who=None, query=""):
    return http.get(f"/agents/{who or 'me'}/tickets{query}", headers=bearer(stack.settings, agent))


def test_an_agent_lists_the_tickets_they_hold_newest_first_whether_waiting_on_the_customer_or_not(stack, http):
    first, second = claimed(stack, http, "bob", 1), claimed(stack, http, "bob", 2)
    claimed(stack, http, "alice", 3)
    http.post(f"/tickets/{first['id']}/replies", headers={**bearer(stack.settings, "bob"), **JSON},
              body=json.dumps({"text": "Yes: pick one in the app"}))
    answer = mine(stack, http)
    assert answer.status_code == 200
    assert [(t["id"], t["status"]) for t in answer.json_body["items"]] == \
        [(second["id"], "assigned"), (first["id"], "pending")]
    assert answer.json_body["next"] is None


def test_a_resolved_or_released_ticket_leaves_the_list_and_resolved_ones_are_listed_apart(stack, http):
    first, second = claimed(stack, http, "bob", 1), claimed(stack, http, "bob", 2)
    assert http.post(f"/tickets/{first['id']}/resolve", headers=bearer(stack.settings, "bob")).status_code == 200
    assert http.post(f"/tickets/{second['id']}/release", headers=bearer(stack.settings, "bob")).status_code == 200
    assert mine(stack, http).json_body["items"] == []
    assert [t["id"] for t in mine(stack, http, query="?state=resolved").json_body["items"]] == [first["id"]]


def test_the_list_comes_in_pages_with_a_cursor_of_its_own(stack, http):
    import dataclasses

    from chalicelib.settings import get_settings, override_settings
    override_settings(dataclasses.replace(get_settings(), queue_page_size=1))
    tickets = [claimed(stack, http, "bob", n) for n in (1, 2)]
    page = mine(stack, http).json_body
    assert [t["id"] for t in page["items"]] == [tickets[1]["id"]] and page["next"]
    rest = mine(stack, http, query=f"?cursor={page['next']}").json_body
    assert [t["id"] for t in rest["items"]] == [tickets[0]["id"]]
    assert mine(stack, http, "alice", "alice", f"?cursor={page['next']}").status_code == 400   # bob's cursor


def test_only_a_supervisor_sees_another_agents_list_even_of_an_agent_deleted_since(stack, http):
    held = claimed(stack, http, "bob", 1)
    assert mine(stack, http, "alice", "bob").status_code == 403
    Agent("bob").delete()
    answer = mine(stack, http, "sam", "bob")
    assert answer.status_code == 200 and [t["id"] for t in answer.json_body["items"]] == [held["id"]]


def test_an_unknown_state_is_a_clear_400(stack, http):
    answer = mine(stack, http, query="?state=everything")
    assert answer.status_code == 400 and answer.json_body["error"]["code"] == "bad_request"

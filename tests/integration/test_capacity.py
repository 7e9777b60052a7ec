"""Capacity: an agent never holds more tickets per channel than allowed, even under a claim storm."""
import json
import threading
from datetime import timedelta

import pytest

from chalicelib.auth.tokens import Principal
from chalicelib.services import agents, queues, sweep
from chalicelib.storage.models import Agent, Ticket

from .conftest import bearer, sms
from .test_agent_api import atomic_moto  # noqa: F401 - fixture


def tickets(stack, http, count):
    for i in range(count):
        sms(stack, http, f"SM{i:032d}", "Where is my bag?", sender=f"+1415555020{i}")
    stack.pump.drain()


def limit_bob(to: int):
    bob = Agent.get("bob")
    bob.capacity = {"sms": to}
    bob.save()


def load(agent_id="bob", channel="sms"):
    return int(Agent.get(agent_id, consistent_read=True).load.as_dict().get(channel, 0))


def test_claims_stop_at_capacity_and_release_frees_a_place(stack, http):
    tickets(stack, http, 3)
    limit_bob(2)
    headers = bearer(stack.settings, "bob")
    codes = [http.post("/queues/general/claim", headers=headers).status_code for _ in range(3)]
    assert codes == [200, 200, 204] and load() == 2
    held = next(t for t in Ticket.scan() if t.assignee == "bob")
    http.post(f"/tickets/{held.id}/release", headers=headers)
    assert load() == 1
    assert http.post("/queues/general/claim", headers=headers).status_code == 200 and load() == 2


def test_resolving_and_an_expired_lease_give_the_place_back(stack, http):
    tickets(stack, http, 2)
    headers = bearer(stack.settings, "bob")
    first = http.post("/queues/general/claim", headers=headers).json_body
    second = http.post("/queues/general/claim", headers=headers).json_body
    assert load() == 2
    http.post(f"/tickets/{first['id']}/resolve", headers=headers)
    assert load() == 1
    sweep.run(Ticket.get(second["id"]).lease_expires_at + timedelta(seconds=1))
    assert load() == 0 and Ticket.get(second["id"]).assignee is None


@pytest.mark.usefixtures("atomic_moto")
def test_a_claim_storm_never_pushes_an_agent_over_capacity(stack, http):
    tickets(stack, http, 6)
    limit_bob(2)
    results, lock = [], threading.Lock()

    def claim():
        got = queues.claim(agents.actor(Principal("bob", "agent")), "general")
        with lock:
            results.append(got[0].id if got else None)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [r for r in results if r]
    assert len(taken) == 2 == len(set(taken)) and load() == 2
    assert sum(1 for t in Ticket.scan() if t.assignee == "bob") == 2


def test_a_transfer_moves_the_load_between_agents(stack, http):
    tickets(stack, http, 1)
    claimed = http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).json_body
    http.post(f"/tickets/{claimed['id']}/transfer", headers={**bearer(stack.settings, "sam"),
              "Content-Type": "application/json"}, body='{"agent": "alice"}')
    assert load("bob") == 0 and load("alice") == 1


def _reply(stack, http, agent, ticket_id, **body):
    return http.post(f"/tickets/{ticket_id}/replies", headers={**bearer(stack.settings, agent),
                     "Content-Type": "application/json"}, body=json.dumps({"text": "On it.", **body}))


def test_an_agent_at_capacity_cannot_take_a_ticket_by_answering_it_either(stack, http):
    tickets(stack, http, 2)
    limit_bob(1)
    assert http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).status_code == 200
    other = next(iter(Ticket.queue_rank.query("general"))).id
    assert _reply(stack, http, "bob", other).status_code == 409   # a pending reply would take it all the same
    assert Ticket.get(other).assignee is None and load() == 1


def test_a_supervisor_keeping_a_ticket_in_its_agents_hand_stays_within_their_capacity(stack, http):
    tickets(stack, http, 2)
    limit_bob(1)
    first = http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).json_body
    assert _reply(stack, http, "bob", first["id"]).status_code == 201            # waits on the customer: 0/1
    assert http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).status_code == 200  # 1/1
    assert _reply(stack, http, "sam", first["id"], status="assigned").status_code == 409
    assert load() == 1 and Ticket.get(first["id"]).status == "pending"

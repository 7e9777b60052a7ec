"""A claim storm over HTTP on the local stack as `make run` starts it: two agents, each claiming
from four tabs at once, race for the same queue. No ticket is claimed twice, nobody goes over
their capacity, and whatever they could not take is still waiting."""
from __future__ import annotations

import threading
from collections import Counter

import requests

from infra.local.demo import AGENTS

from .conftest import eventually, start_stack
from .test_sms_path import send_sms

TICKETS, TABS = 16, 4
RACERS = ("alice", "bob")


def test_agents_claiming_from_many_tabs_at_once_take_each_ticket_once_and_stay_within_capacity(tmp_path, token):
    stack = start_stack(tmp_path)   # its own stack: nothing another test left in the queue
    try:
        base = stack.base_url
        for n in range(TICKETS):
            assert send_sms(base, f"+1415555{n:04d}", "Where is my bag?").status_code == 200
        auth = {agent: {"Authorization": "Bearer " + token(agent)} for agent in RACERS}

        def all_waiting():
            queues = requests.get(base + "/queues", headers=auth["bob"], timeout=10).json()["items"]
            return next(q["depth"] for q in queues if q["name"] == "general") == TICKETS
        eventually(all_waiting, timeout=60)

        claimed, statuses, lock = [], Counter(), threading.Lock()
        start = threading.Barrier(len(RACERS) * TABS)

        def tab(agent: str) -> None:
            start.wait()
            while True:
                answer = requests.post(base + "/queues/general/claim", headers=auth[agent], timeout=30)
                with lock:
                    statuses[answer.status_code] += 1
                    if answer.status_code == 200:
                        claimed.append((agent, answer.json()["id"]))
                if answer.status_code != 200:
                    return

        tabs = [threading.Thread(target=tab, args=(agent,)) for agent in RACERS for _ in range(TABS)]
        for t in tabs:
            t.start()
        for t in tabs:
            t.join(timeout=120)

        capacity = {agent: AGENTS[agent]["capacity"]["default"] for agent in RACERS}
        ids = [ticket_id for _, ticket_id in claimed]
        assert len(ids) == len(set(ids)) == sum(capacity.values())      # each once, every free slot filled
        assert Counter(agent for agent, _ in claimed) == Counter(capacity)
        assert set(statuses) == {200, 204}                                # at capacity: "none for you", no error
        queues = requests.get(base + "/queues", headers=auth["bob"], timeout=10).json()["items"]
        assert next(q["depth"] for q in queues if q["name"] == "general") == TICKETS - len(ids)
    finally:
        stack.stop()

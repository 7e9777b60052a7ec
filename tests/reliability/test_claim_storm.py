"""A claim storm: 20 agents claiming from the same two queues at once until 500 tickets are taken.
No ticket is taken twice, no agent goes over capacity, none is left behind, and the audit shows
one claim per ticket. The capacities add up to exactly 500, so an agent sent away (204) while
it still had room and tickets were waiting would leave tickets nobody may take."""
from __future__ import annotations

import threading
from collections import Counter

from chalicelib import clock
from chalicelib.auth.tokens import Principal
from chalicelib.domain import tickets as rules
from chalicelib.services import agents, queues, sweep
from chalicelib.storage.models import Agent, Outbox, Ticket, TicketEvent, tickets_by_id

from .conftest import sms

AGENTS, CAPACITY, TICKETS = 20, 25, 500
QUEUES = ("general", "disruption")


def fill_queues(stack, http) -> list[str]:
    """500 waiting tickets, copies of one threaded from an SMS, all of the same score (the
    hardest case: every agent's best candidate is the same ticket)."""
    sms(stack, http, "SM" + "9" * 32, "Where is my bag?")
    stack.pump.drain()
    [template] = list(Ticket.scan())
    attrs = {name: getattr(template, name) for name in Ticket.get_attributes()}
    ids, now = [], clock.now()
    with Ticket.batch_write() as batch:
        for n in range(TICKETS):
            ticket_id = clock.new_id()
            ticket = Ticket(**{**attrs, "id": ticket_id, "ref": rules.ref_for(ticket_id), "queue": QUEUES[n % 2],
                               "state_key": rules.state_key("open", ticket_id), "customer_id": clock.new_id(),
                               "version": 1})
            ticket.queue_slot = ticket.queue
            ticket.rank = rules.rank_for(template.jet["score"], ticket_id)
            sweep.arm(ticket, now)
            batch.save(ticket)
            ids.append(ticket_id)
    template.delete()
    return ids


def storm_agents() -> list[str]:
    names = [f"storm-{n:02d}" for n in range(AGENTS)]
    for name in names:
        Agent(name, name=name, role="agent", queues=list(QUEUES), languages=["en"],
              capacity={"default": CAPACITY}).save()
    return names


def test_twenty_agents_claiming_at_once_take_every_ticket_exactly_once(stack, http):
    ids = fill_queues(stack, http)
    names = storm_agents()
    taken, answers, over, lock = Counter(), Counter(), [], threading.Lock()
    start = threading.Barrier(AGENTS)

    def work(name: str) -> None:
        start.wait()
        while True:
            got = None
            for queue in QUEUES:
                got = queues.claim(agents.actor(Principal(name, "agent")), queue)
                if got:
                    break
            with lock:
                answers["200" if got else "204"] += 1
            if not got:
                return
            load = int(Agent.get(name, consistent_read=True).load.as_dict().get("sms", 0))
            with lock:
                taken[got[0].id] += 1
                if load > CAPACITY:
                    over.append((name, load))

    threads = [threading.Thread(target=work, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert over == []                                                      # never over capacity
    assert set(taken) == set(ids) and set(taken.values()) == {1}          # every ticket, once each
    assert answers == {"200": TICKETS, "204": AGENTS}                     # a 204 only once full
    assert [Ticket.queue_rank.count(q) for q in QUEUES] == [0, 0]         # none left behind
    held = Counter(t.assignee for t in tickets_by_id(ids))
    assert held == {name: CAPACITY for name in names}
    assert all(int(Agent.get(n, consistent_read=True).load.as_dict()["sms"]) == CAPACITY for n in names)
    claims = Counter(e.ticket_id for e in TicketEvent.scan() if e.action == "claimed")
    assert claims == {i: 1 for i in ids}                                   # the audit: one claim per ticket
    assigned = Counter(o.payload["data"]["ticket_id"] for o in Outbox.scan()
                       if o.kind == "integrator_event" and o.payload["type"] == "ticket.assigned")
    assert assigned == {i: 1 for i in ids}                                 # one ticket.assigned event each
    print(f"\nclaims answered {dict(answers)}")

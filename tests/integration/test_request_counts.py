"""DynamoDB requests per inbound message: deterministic counts, not times."""
from collections import Counter

import pytest

from chalicelib.services import conversations, jetconfig, notifier
from chalicelib.storage import models

from .conftest import bearer, sms


@pytest.fixture
def calls(stack):
    jetconfig.current()  # read once per container every 30 s, not per message
    seen = Counter()

    def count(model, **kwargs):
        seen[model.name] += 1

    client = models._shared["connection"].client
    client.meta.events.register("before-call.dynamodb", count)
    yield seen
    client.meta.events.unregister("before-call.dynamodb", count)


def test_the_webhook_costs_one_conditional_put(stack, http, calls):
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    assert calls == {"PutItem": 1}


def test_a_redelivery_costs_the_same_single_put(stack, http, calls):
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    sms(stack, http, "SM" + "1" * 32, "Where is my bag?")
    assert calls == {"PutItem": 2}


def test_threading_a_first_message_costs_two_requests(stack, http, calls):
    sms(stack, http, "SM" + "2" * 32, "Where is my bag?")
    calls.clear()
    conversations.process(models.InboundMessage.get("sms#SM" + "2" * 32))
    calls["GetItem"] -= 1  # the test's own read of the inbound item
    assert +calls == {"BatchGetItem": 1, "TransactWriteItems": 1}


def test_threading_a_follow_up_reads_the_customer_and_ticket_in_one_request(stack, http, calls):
    sms(stack, http, "SM" + "3" * 32, "Where is my bag?")
    stack.pump.drain()
    sms(stack, http, "SM" + "4" * 32, "Any news?")
    calls.clear()
    conversations.process(models.InboundMessage.get("sms#SM" + "4" * 32))
    calls["GetItem"] -= 1
    # identities, then customer + the ticket the contact's hint names, then the transaction
    assert +calls == {"BatchGetItem": 2, "TransactWriteItems": 1}


def test_a_stale_hint_costs_one_more_read_and_is_moved_to_the_new_ticket(stack, http, calls):
    sms(stack, http, "SM" + "a" * 32, "Where is my bag?")
    stack.pump.drain()
    first = models.InboundMessage.get("sms#SM" + "a" * 32).ticket_id
    ticket = models.Ticket.get(first)
    ticket.update(actions=[models.Ticket.status.set("resolved"),
                           models.Ticket.resolved_at.set(ticket.created_at.replace(year=2020))])
    customer = models.Customer.get(ticket.customer_id)
    customer.update(actions=[models.Customer.open_ticket_id.remove(), models.Customer.last_ticket_id.set(first)])
    sms(stack, http, "SM" + "b" * 32, "Another problem: my seat")
    calls.clear()
    second = conversations.process(models.InboundMessage.get("sms#SM" + "b" * 32))
    calls["GetItem"] -= 1
    assert second != first                                   # out of the reopen window: a new ticket
    assert +calls == {"BatchGetItem": 2, "TransactWriteItems": 1}  # the stale ticket came with the customer
    assert models.Identity.get(f"phone:{ticket.reply_to['address']}").ticket_id == second


# Write units, sized as DynamoDB bills them (bench/capacity.py: 1 per KB, doubled in a transaction,
# one per index the item is in). The floor of a one-transaction design is in bench/README.md.

@pytest.fixture
def units(stack):
    from bench.capacity import Meter
    jetconfig.current()
    meter = Meter(models._shared["connection"].client).start()
    yield meter
    meter.stop()


def _threaded(stack, units, sid: str, text: str):
    units.reset()
    conversations.process(models.InboundMessage.get(sid))
    return units.reset()


def test_a_first_message_writes_one_outbox_item_in_a_transaction_of_seven(stack, http, units):
    sms(stack, http, "SM" + "6" * 32, "Where is my bag?")
    tally = _threaded(stack, units, "sms#SM" + "6" * 32, "Where is my bag?")
    written = {(line["table"].split("-", 2)[-1], line["what"]): line["units"] for line in tally.breakdown()}
    assert written[("outbox", "outbox insert")] == 2            # one item for acknowledgement, alert and event
    assert ("ticket-events", "ticket-events insert") not in written  # the opening is read from the ticket
    assert ("messages", "messages insert (GSIs)") not in written     # nothing will refer to an inbound SMS by its id
    assert tally.wu == 21, tally.breakdown()


def test_a_follow_up_writes_four_items_and_the_ticket_stays_under_2_kb(stack, http, units):
    sms(stack, http, "SM" + "7" * 32, "Where is my bag?")
    stack.pump.drain()
    sms(stack, http, "SM" + "8" * 32, "Any news?")
    tally = _threaded(stack, units, "sms#SM" + "8" * 32, "Any news?")
    written = {line["what"]: line["units"] for line in tally.breakdown()}
    assert written["tickets update"] == 4                       # 1–2 KB, twice in the transaction
    assert tally.wu == 15, tally.breakdown()


def test_the_notifier_writes_four_units_for_a_first_message(stack, http, units):
    sms(stack, http, "SM" + "9" * 32, "Where is my bag?")
    conversations.process(models.InboundMessage.get("sms#SM" + "9" * 32))
    [change] = models.Outbox.scan()  # test-only inspection; the stream hands the notifier this item
    units.reset()
    notifier.deliver(change)
    tally = units.reset()
    assert change.kind == "change" and models.Outbox.get(change.id).status == "done"
    # the lease on the intent, the acknowledgement's handover (+ its index entry), the intent done
    assert tally.wu == 4, tally.breakdown()


def test_a_first_message_the_bot_answers_costs_the_same_two_requests(stack, http, calls):
    sms(stack, http, "SM" + "5" * 32, "How many bags can I bring?")
    calls.clear()
    conversations.process(models.InboundMessage.get("sms#SM" + "5" * 32))
    calls["GetItem"] -= 1
    assert +calls == {"BatchGetItem": 1, "TransactWriteItems": 1}
    assert models.Ticket.get(models.InboundMessage.get("sms#SM" + "5" * 32).ticket_id).status == "bot"


def _queue_general(stack, http, start: int, count: int) -> None:
    for n in range(start, start + count):
        sms(stack, http, f"SM{n:032d}", "Can I choose my seat on this flight?", sender=f"+1415555{n:04d}")
    stack.pump.drain()


def _claim_cost(stack, http) -> tuple[dict, int]:
    """The requests of one claim by bob on general, and the items they read (Query scanned + got)."""
    seen, items = Counter(), []

    def count(model, **_):
        seen[model.name] += 1

    def read(parsed, model, **_):
        items.append(parsed.get("ScannedCount", 0) if model.name == "Query" else int("Item" in parsed))

    events = models._shared["connection"].client.meta.events
    events.register("before-call.dynamodb", count)
    events.register("after-call.dynamodb", read)
    try:
        assert http.post("/queues/general/claim", headers=bearer(stack.settings, "bob")).status_code == 200
    finally:
        events.unregister("before-call.dynamodb", count)
        events.unregister("after-call.dynamodb", read)
    return dict(seen), sum(items)


def test_a_claim_costs_the_same_with_11_or_41_tickets_waiting(stack, http):
    jetconfig.current()
    _queue_general(stack, http, 100, 11)
    shallow = _claim_cost(stack, http)
    _queue_general(stack, http, 200, 31)
    assert _claim_cost(stack, http) == shallow
    assert shallow == ({"GetItem": 3, "Query": 1, "TransactWriteItems": 1}, 13)   # one page of 10 candidates


def test_the_queue_figures_are_three_one_page_queries_the_count_bounded_however_deep_the_queue(stack, http):
    from chalicelib.services import queues
    sms(stack, http, "SM" + "e" * 32, "Where is my bag?")
    stack.pump.drain()
    sent = []

    def keep(model, params, **kwargs):
        import json
        body = json.loads(params["body"])
        sent.append((model.name, body.get("Select"), body.get("Limit")))

    client = models._shared["connection"].client
    client.meta.events.register("before-call.dynamodb", keep)
    try:
        assert http.get("/queues", headers=bearer(stack.settings, "bob")).status_code == 200
    finally:
        client.meta.events.unregister("before-call.dynamodb", keep)
    # general: its count, its top score, its oldest wait; then the (empty) personal slot's count
    count = ("Query", "COUNT", queues.DEPTH_SHOWN + 1)
    assert [s for s in sent if s[0] == "Query"] == [count, ("Query", None, 1), ("Query", None, 1), count]

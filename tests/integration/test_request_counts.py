"""DynamoDB requests per inbound message: deterministic counts, not times."""
from collections import Counter

import pytest

from chalicelib.services import conversations, jetconfig
from chalicelib.storage import models

from .conftest import sms


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


def test_threading_a_follow_up_costs_four_requests(stack, http, calls):
    sms(stack, http, "SM" + "3" * 32, "Where is my bag?")
    stack.pump.drain()
    sms(stack, http, "SM" + "4" * 32, "Any news?")
    calls.clear()
    conversations.process(models.InboundMessage.get("sms#SM" + "4" * 32))
    calls["GetItem"] -= 1
    assert +calls == {"BatchGetItem": 1, "GetItem": 2, "TransactWriteItems": 1}


def test_a_first_message_the_bot_answers_costs_the_same_two_requests(stack, http, calls):
    sms(stack, http, "SM" + "5" * 32, "How many bags can I bring?")
    calls.clear()
    conversations.process(models.InboundMessage.get("sms#SM" + "5" * 32))
    calls["GetItem"] -= 1
    assert +calls == {"BatchGetItem": 1, "TransactWriteItems": 1}
    assert models.Ticket.get(models.InboundMessage.get("sms#SM" + "5" * 32).ticket_id).status == "bot"

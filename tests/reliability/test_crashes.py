"""A crash at each step of the async path (the function raises between its writes, as a Lambda that
times out or runs out of memory would stop): the stream or the queue delivers again, and the work
is finished exactly once: one ticket message, one acknowledgement, one webhook per event."""
from __future__ import annotations

from collections import Counter

import pytest

from chalicelib.services import conversations, notifier, webhooks
from chalicelib.storage.models import DeadLetter, InboundMessage, Message, Outbox

from .conftest import sms


class Crash(Exception):
    pass


def crash_once(monkeypatch, owner, name: str, after: bool) -> Counter:
    """Make owner.name raise once: before doing its work, or after it (its writes done, not its caller's)."""
    original, calls = getattr(owner, name), Counter()

    def crashing(*args, **kwargs):
        calls["calls"] += 1
        if calls["calls"] == 1 and not after:
            calls["crashes"] += 1
            raise Crash(f"crashed before {name}")
        result = original(*args, **kwargs)
        if calls["calls"] == 1 and after:
            calls["crashes"] += 1
            raise Crash(f"crashed after {name}")
        return result
    monkeypatch.setattr(owner, name, crashing)
    return calls


STEPS = {
    "threading, before its transaction": (conversations, "_commit", False),
    "threading, after its transaction": (conversations, "_commit", True),
    "notifier, after every part of the change was tried": (notifier, "_deliver_change", True),
    "webhooks, before the subscribers were read": (webhooks, "deliveries", False),
    "acknowledgement, after the handover was recorded": (notifier, "_record_handover", True),
    "notifier, after the intent was settled": (notifier, "_settle", True),
}


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_each_async_step_is_finished_exactly_once_on_redelivery(stack, http, monkeypatch, step):
    monkeypatch.setattr(notifier, "backoff", lambda attempt: 0)
    calls = crash_once(monkeypatch, *STEPS[step])
    assert sms(stack, http, "SM" + "5" * 32, "Where is my bag?").status_code == 200
    for _ in range(3):
        stack.pump.drain()
    assert calls["crashes"] == 1
    item = InboundMessage.get("sms#SM" + "5" * 32, consistent_read=True)
    assert item.status == "processed"
    messages = list(Message.query(item.ticket_id))
    assert sum(1 for m in messages if m.direction == "inbound") == 1
    assert [m.delivery_status for m in messages if m.author == "system"] == ["queued"]
    assert len(stack.sent("twilio")) == 1                             # one acknowledgement SMS
    created = [r for r in stack.sent("webhook") if r["body"]["type"] == "ticket.created"]
    assert len({r["headers"]["webhook-id"] for r in created}) == 1    # one event (a resend keeps its id)
    assert {o.status for o in Outbox.scan()} == {"done"}
    assert list(DeadLetter.scan()) == []

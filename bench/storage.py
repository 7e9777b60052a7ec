"""Section 2: DynamoDB requests and capacity units per inbound message, per channel route.

For every route, a first message (opens a ticket) and a follow-up (same customer, same
problem), each counted in three phases on the app's one botocore client:
  webhook  — the signed provider delivery through its route (the durable, idempotent put);
  thread   — the inbound stream handler (customer, ticket, score, queue, outbox; one transaction);
  notify   — the outbox stream handler (ack to the customer, agent alert, integrator webhook).
"Per message" (the targets) = webhook + thread; notify is reported beside it. The JET
configuration is read once per container every 30 s and is kept warm here (as in
tests/integration/test_request_counts.py); its amortised cost is noted, not counted.
"""
from __future__ import annotations

from . import common
from .capacity import Meter
from .common import emit


def _phase(meter: Meter, fn) -> dict:
    meter.reset()
    fn()
    tally = meter.reset()
    return {**tally.as_dict(), "breakdown": tally.breakdown()}


def _sum(*phases: dict) -> dict:
    out = {"requests": 0, "write_units": 0.0, "write_units_exact_gsi": 0.0, "read_units": 0.0, "items_read": 0,
           "by_operation": {}}
    for p in phases:
        for k in ("requests", "write_units", "write_units_exact_gsi", "read_units", "items_read"):
            out[k] = round(out[k] + p[k], 2)
        for op, n in p["by_operation"].items():
            out["by_operation"][op] = out["by_operation"].get(op, 0) + n
    return out


def main() -> None:
    common.environment()
    with common.stack() as stack:
        from chalicelib.services import jetconfig
        from chalicelib.storage import models
        deliveries = common.Deliveries(stack)
        jetconfig.current()
        # one message through every route first, so that nothing below pays a first-use cost
        for i, channel in enumerate(deliveries.CHANNELS):
            deliveries.send(channel, 900 + i, 0)
        stack.inbound.drain()
        stack.outbox.drain()

        meter = Meter(models._shared["connection"].client).start()
        results: dict[str, dict] = {}
        for i, channel in enumerate(deliveries.CHANNELS):
            per = {}
            for n, name in ((0, "first"), (1, "follow_up")):
                jetconfig.current()  # warm, as in a container that took a message in the last 30 s
                request = deliveries.prepare(channel, i, n)
                webhook = _phase(meter, lambda request=request: deliveries.post(request))
                thread = _phase(meter, stack.inbound.drain)
                notify = _phase(meter, stack.outbox.drain)
                per[name] = {"webhook": webhook, "thread": thread, "notify": notify,
                             "per_message": _sum(webhook, thread), "with_notifier": _sum(webhook, thread, notify)}
            results[channel] = per

        # a provider's redelivery of the same SMS: acknowledged, nothing changes
        jetconfig.current()
        sid_customer = 777
        deliveries.send("twilio_sms", sid_customer, 0)
        stack.inbound.drain()
        stack.outbox.drain()
        # (a redelivery repeats the MessageSid: rebuild the exact same request)
        duplicate = _phase(meter, lambda: _redeliver_sms(deliveries))
        chat_session = _phase(meter, lambda: deliveries.chat_session(4242))
        meter.stop()
    emit({"channels": results, "duplicate_sms_delivery": duplicate, "chat_session_start": chat_session,
          "phases": ["webhook", "thread", "notify"], "per_message": "webhook + thread",
          "not_counted": "JET configuration read: 1 eventually consistent GetItem per warm container per 30 s"})


def _redeliver_sms(deliveries):
    """The same Twilio request again (same MessageSid), as Twilio retries it."""
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator
    last = deliveries.last_sms
    settings = deliveries.settings
    path = "/channels/twilio/sms"
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(settings.public_base_url + path, last)
    response = deliveries.http.post(path, headers={"Content-Type": common.FORM, "X-Twilio-Signature": signature},
                                    body=urlencode(last))
    assert response.status_code == 200, response.body
    return response


if __name__ == "__main__":
    main()

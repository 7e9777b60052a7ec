"""Step three of the data path: deliver outbox intents to customers, agents and integrators.

At least once: an intent is marked done only after the provider accepted it. A
transient failure is retried through the notify-retry SQS queue with backoff, so
one slow provider never blocks the stream; after MAX_ATTEMPTS it is failed and
dead-lettered.

An intent with several targets (a ``change`` item's parts, a page to each on-duty agent, an
integrator event to each subscriber) is delivered target by target in the same run; only a
target that fails is written as an intent of its own (id ``<parent>.<target>``, stable across
redeliveries), which then has its own attempts, retries, dead letter and replay.

One run at a time: a run first leases the intent (a conditional write naming the attempt it was
handed, so a stale stream image or an old retry message finds it taken), and settles it only
under its own lease. A run that finds the lease held by another comes back after it expires, so
a run that died holding it delays the intent and loses nothing.
"""
from __future__ import annotations

import json
import logging
import random
import time
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Iterator

from pynamodb.exceptions import PynamoDBException

import channels
from channels.base import ProviderRefused, ProviderUnavailable, StatusUpdate, aws_answer

from .. import clock
from ..auth.signatures import standard_webhook_headers
from ..domain import tickets as rules
from ..errors import Unprocessable
from ..settings import get_settings
from ..storage.models import DeadLetter, Identity, Message, Outbox
from ..storage.writes import written
from . import agents, deliveries, ingest, outbox, providers, webhooks

log = logging.getLogger(__name__)
_running: ContextVar[Outbox] = ContextVar("the intent this run leased")
MAX_ATTEMPTS = 8
MAX_DELAY_SECONDS = 900
LEASE = timedelta(seconds=60)  # longer than a run may last (lambda_timeout: 30 s)
RETRY_RECEIVES = 5   # the retry queue's maxReceiveCount: then SQS moves a message to its DLQ
EARLY_RETRY_SECONDS = 5     # a retry that came before its attempt was counted comes back after this
HANDOVER_NOTE_TRIES = 3      # on top of botocore's own retries of a throttled request
HANDOVER_NOTE_PAUSE = 0.2    # seconds, × 4 each time


class TransientFailure(Exception):
    """The provider may accept this later."""


class PermanentFailure(Exception):
    """The provider will never accept this as it is."""


def deliver(intent: Outbox) -> None:
    """Deliver one intent, scheduling a retry or failing it as the provider's answer says."""
    if intent.status != "pending" or not _lease(intent):
        return
    lease = intent.sending_until
    running = _running.set(intent)
    try:
        try:
            (_deliver_change if intent.kind == "change" else _HANDLERS[intent.kind])(intent)
        except TransientFailure as exc:
            _retry_later(intent, str(exc))
        except PermanentFailure as exc:
            _fail(intent, str(exc))
        else:
            _settle(intent, [Outbox.status.set("done"), Outbox.attempts.add(1)])
    except Exception:
        _release(intent, lease)  # the stream's retry takes it again now, not once the lease runs out
        raise
    finally:
        _running.reset(running)


def _lease(intent: Outbox) -> bool:
    """Take the intent for this run; False when it has moved on or another run holds it (then
    this run's turn is rescheduled for when that lease runs out)."""
    now = clock.now()
    free = Outbox.sending_until.does_not_exist() | (Outbox.sending_until < now)
    if _conditional(intent, [Outbox.sending_until.set(now + LEASE)],
                    (Outbox.status == "pending") & (Outbox.attempts == intent.attempts) & free):
        return True
    stored = Outbox.get(intent.id, consistent_read=True)
    if stored.status == "pending" and stored.attempts == intent.attempts and stored.sending_until:
        _schedule(intent.id, intent.attempts, min(MAX_DELAY_SECONDS, max(1, _lease_left(stored, now))))
    return False


def _lease_left(intent: Outbox, now) -> int:
    """Seconds until the lease another run holds runs out (rounded up)."""
    return int((intent.sending_until - now).total_seconds()) + 1


def _settle(intent: Outbox, actions: list) -> bool:
    """Update the intent this run leased, and release it; False if it no longer holds the lease."""
    return _conditional(intent, [*actions, Outbox.sending_until.remove()],
                        (Outbox.status == "pending") & (Outbox.sending_until == intent.sending_until))


def _release(intent: Outbox, lease) -> None:
    try:
        _conditional(intent, [Outbox.sending_until.remove()],
                     (Outbox.status == "pending") & (Outbox.sending_until == lease))
    except Exception:  # noqa: BLE001 - the run's own failure is what is raised; this lease just runs out
        log.warning("lease not released; it runs out", extra={"outbox": intent.id})


def _conditional(intent: Outbox, actions: list, condition) -> bool:
    return written(lambda: intent.update(actions=actions, condition=condition))


def redeliver(outbox_id: str, attempts: int | None = None) -> None:
    """From the retry queue (or a replay): read the intent fresh and try again; a message for an
    attempt the intent has moved past is another run's, already done.

    A message for the attempt after the stored one came before the run that scheduled it counted
    it (SQS handed it over within the second or two of the first backoffs): while that run holds
    the lease it comes back a few seconds later (by then counted, as a rule); with the lease free
    (that run died before counting) it is this attempt, taken under a lease like any other."""
    try:
        intent = Outbox.get(outbox_id, consistent_read=True)
    except Outbox.DoesNotExist:
        log.warning("retry for an unknown outbox item", extra={"outbox": outbox_id})
        return
    if attempts is None or intent.attempts == attempts:
        deliver(intent)
    elif attempts == intent.attempts + 1 and intent.status == "pending":
        now = clock.now()
        if intent.sending_until and intent.sending_until > now:
            _schedule(intent.id, attempts, min(EARLY_RETRY_SECONDS, _lease_left(intent, now)))
        else:
            deliver(intent)


def retry(body: dict, receives: int) -> None:
    """A retry-queue message, on its ``receives``-th delivery: an intent's next attempt, or a
    delivery status that came before our record of the send. One that still fails on its last
    receive is given up into the dead letters (the intent failed, the status kept), listed and
    replayable, instead of leaving SQS to move it where ``/admin/dead-letters`` cannot see it; only
    if that fails too does the message reach the queue's DLQ."""
    status = StatusUpdate(**body["status_update"]) if "status_update" in body else None
    try:
        if status is not None:
            deliveries.apply(status, int(body.get("tries") or 0))
        else:
            redeliver(body["outbox_id"], body.get("attempts"))
    except Exception as exc:
        if receives < RETRY_RECEIVES:
            raise
        reason = f"its retry failed {receives} times ({type(exc).__name__}: {str(exc)[:200]})"
        log.warning("retry kept failing: given up",
                    extra={"outbox": body.get("outbox_id"), "error": type(exc).__name__})
        if status is not None:
            deliveries.keep(status, reason)
        else:
            _give_up(body["outbox_id"], body.get("attempts"), reason)


def _give_up(outbox_id: str, attempts: int | None, reason: str) -> None:
    intent = Outbox.get(outbox_id, consistent_read=True)
    if intent.status == "pending" and (attempts is None or intent.attempts == attempts) and _lease(intent):
        _fail(intent, reason)


def _schedule(outbox_id: str, attempts: int, delay: int) -> None:
    providers.retry_later({"outbox_id": outbox_id, "attempts": attempts}, delay)


def _retry_later(intent: Outbox, reason: str) -> None:
    """The next attempt is scheduled before this one is counted: a run that stops in between
    leaves a message for an attempt never counted (skipped when it comes), never none at all."""
    attempt = intent.attempts + 1
    if attempt >= MAX_ATTEMPTS:
        _fail(intent, f"gave up after {attempt} attempts: {reason}")
        return
    delay = backoff(attempt)
    _schedule(intent.id, attempt, delay)
    if _settle(intent, [Outbox.attempts.add(1)]):
        log.info("delivery retry scheduled", extra={"outbox": intent.id, "attempt": attempt,
                                                    "delay": delay, "reason": reason[:200]})


def backoff(attempt: int) -> int:
    """Seconds before the next try: "full jitter" over 2, 4, 8, … capped at SQS's 15-minute delay,
    so retries of one provider outage do not arrive together."""
    return random.randint(1, min(MAX_DELAY_SECONDS, 2 ** attempt))


def _fail(intent: Outbox, reason: str) -> None:
    """Failed, and kept as a dead letter for replay. The letter is written first and named on the
    intent in the same conditional update, so a lost answer to that update (retried, it finds the
    intent no longer pending) is told from another run having settled it: only then is the
    letter withdrawn."""
    letter = _dead_letter(intent, reason)
    if _settle(intent, [Outbox.status.set("failed"), Outbox.attempts.add(1), Outbox.dead_letter.set(letter)]) \
            or _named(intent, letter):
        _record_failure(intent, reason)


def _dead_letter(intent: Outbox, reason: str) -> str:
    return ingest.dead_letter("notifier", reason, {"outbox_id": intent.id, "kind": intent.kind})


def _named(intent: Outbox, letter: str) -> bool:
    """Whether the stored intent names this letter; a letter it does not name is withdrawn."""
    if Outbox.get(intent.id, consistent_read=True).dead_letter == letter:
        return True
    DeadLetter(letter).delete()
    return False


def _record_failure(intent: Outbox, reason: str) -> None:
    """The message failed, unless it was handed over (an intent given up after that is no failed send)."""
    if intent.kind == "customer_message" and intent.message_id:
        written(lambda: Message(intent.ticket_id, intent.message_id).update(
            actions=[Message.delivery_status.set("failed"), Message.failure_reason.set(reason[:500])],
            condition=Message.id.exists() & (Message.delivery_status == "pending")))


def _deliver_each(targets: list[Outbox], note_delivered: bool = False) -> None:
    """Deliver each target now; one that fails goes on as an intent of its own: retried (the
    stream delivers it again, then the retry queue with backoff) or failed and dead-lettered.

    The intent this run leased notes the targets it left to go on by themselves (``kept``), and a
    later run of it (after a failure part-way) skips them: their own intents deliver them, and
    sending one here too could send it twice, the two runs side by side. With ``note_delivered``
    (pages: nothing on the receiving end tells a second one from the first) a target delivered
    is noted too, a write each, so a run that dies after it does not send it again."""
    run = _running.get(None)
    for target in targets:
        if _noted(run, target.id):
            continue
        try:
            _HANDLERS[target.kind](target)
            if note_delivered:
                _note_kept(run, target.id)
        except TransientFailure as exc:
            target.attempts = 1
            if outbox.keep(target):
                log.info("delivery goes on by itself", extra={"outbox": target.id, "reason": str(exc)[:200]})
            _note_kept(run, target.id)
        except PermanentFailure as exc:
            target.status, target.attempts = "failed", 1
            target.dead_letter = _dead_letter(target, str(exc))
            if outbox.keep(target) or _named(target, target.dead_letter):
                _record_failure(target, str(exc))
            _note_kept(run, target.id)


def _noted(run: Outbox | None, target_id: str) -> bool:
    return run is not None and target_id in (run.kept or ())


def _note_kept(run: Outbox | None, target_id: str) -> None:
    if run is not None:
        _after_handover(lambda: _conditional(run, [Outbox.kept.add({target_id})], Outbox.id.exists()),
                        "target noted", run.id)


def _after_handover(write, what: str, intent_id: str) -> None:
    """A note written after a provider took something (its handover, a page or a part noted as
    done): tried again here, then, if DynamoDB still refuses it, logged and left; failing the run
    for it would send what the provider already took a second time when the run is retried."""
    for attempt in range(HANDOVER_NOTE_TRIES):
        try:
            write()
            return
        except PynamoDBException as exc:
            if attempt + 1 == HANDOVER_NOTE_TRIES:
                log.warning("not noted after the handover; left", extra={
                    "outbox": intent_id, "what": what, "error": type(exc.cause or exc).__name__})
                return
            time.sleep(HANDOVER_NOTE_PAUSE * 4 ** attempt)


def _deliver_change(intent: Outbox) -> None:
    """One outbox item per change: its parts (acknowledgement, alert, integrator event, …)."""
    _deliver_each(outbox.parts(intent))


def _send_to_customer(intent: Outbox) -> None:
    reply_to, text = intent.payload["reply_to"], intent.payload["text"]
    if _handed_over(intent):
        return  # a run that crashed after the provider took it: settle, do not send it twice
    if reply_to.get("channel") == "api":
        _reply_through_integrations(intent, text)
        return
    if reply_to.get("channel") in ("sms", "whatsapp") and _opted_out(reply_to["address"]):
        raise PermanentFailure("recipient opted out (STOP); not sent")
    sent = _send(reply_to, text)
    _after_handover(lambda: _record_handover(intent, sent.status, sent.provider_message_id or None),
                    "handover", intent.id)
    if reply_to.get("channel") == "chat":
        from . import chat
        chat.push(reply_to["address"], {"id": intent.message_id, "direction": "outbound", "text": text})


def _reply_through_integrations(intent: Outbox, text: str) -> None:
    """A ticket opened through the API is answered by the ``ticket.reply`` event, to every
    integration that takes it (each its own delivery, retried on its own); with none, the
    reply cannot reach the customer: it fails, instead of showing as sent."""
    event = outbox.child(intent, "reply", "integrator_event", {
        "type": "ticket.reply", "at": clock.iso(intent.created_at),
        "data": {"ticket_id": intent.ticket_id, "message_id": intent.message_id, "text": text}})
    targets = webhooks.deliveries(event)
    if not targets:
        raise PermanentFailure("no integration takes ticket.reply: the reply cannot reach the customer")
    _deliver_each(targets)
    _after_handover(lambda: _record_handover(intent, "sent", None), "handover", intent.id)


def _handed_over(intent: Outbox) -> bool:
    """Whether the message already left "pending" (a stream or queue redelivery carries the old intent)."""
    if not intent.message_id:
        return False
    try:
        return Message.get(intent.ticket_id, intent.message_id, consistent_read=True).delivery_status != "pending"
    except Message.DoesNotExist:
        return False


def _opted_out(phone: str) -> bool:
    try:
        return bool(Identity.get(f"phone:{phone}", consistent_read=True).opted_out)
    except Identity.DoesNotExist:
        return False


def _record_handover(intent: Outbox, status: str, provider_id: str | None) -> None:
    """Note the provider's id, and the status unless a status callback already moved it on."""
    message = Message(intent.ticket_id, intent.message_id)
    noted = [Message.provider_message_id.set(provider_id), Message.lookup_id.set(provider_id)] if provider_id else []
    # one write in the usual case: no status callback has arrived yet
    if not written(lambda: message.update(actions=[*noted, Message.delivery_status.set(status)],
                                          condition=Message.id.exists() & (Message.delivery_status == "pending"))) \
            and noted:
        message.update(actions=noted, condition=Message.id.exists())


def _alert_agents(intent: Outbox) -> None:
    """To the alert topic (operations), and a page to each on-duty agent of the queue it names.
    With pages to follow, the publish and each page are noted as done (a write each, P1s only), so
    a run that dies part-way sends none of them twice when it is run again."""
    p = intent.payload
    subject = f"{p.get('tier') or ''} {p['what']}: {p['ref']}".strip()[:100]
    topic, published = get_settings().agent_alert_topic_arn, f"{intent.id}.topic"
    run = _running.get(None)
    if topic and not _noted(run, published):
        _publish(topic, json.dumps({**p, "ticket_id": intent.ticket_id}), subject, p.get("queue") or "none")
        if p.get("page"):
            _note_kept(run, published)
    if p.get("page"):
        text = f"JetDesk {subject} (queue {p.get('queue')}, score {p.get('score')})"
        _deliver_each([outbox.child(intent, agent_id, "agent_page",
                                    {"agent_id": agent_id, "subject": subject, "text": text})
                       for agent_id in _paged(p["page"])], note_delivered=True)


def _paged(page: str) -> list[str]:
    """A queue's on-duty agents, or the one agent whose personal slot it is (``_page_agent`` skips
    them when off duty)."""
    agent = rules.slot_agent(page)
    return [agent] if agent else sorted(agents.on_duty(page))


def _publish(topic: str, message: str, subject: str, queue: str) -> None:
    """To the alert topic; SNS throttling, a 5xx or no connection is a failure to retry with backoff
    (as a provider's is), not an error that stops the outbox stream behind it."""
    with _provider_failures(), aws_answer("sns"):
        providers.sns().publish(TopicArn=topic, Message=message, Subject=subject,
                                MessageAttributes={"queue": {"DataType": "String", "StringValue": queue}})


def _page_agent(intent: Outbox) -> None:
    """SMS or email to one agent; nobody is paged once off duty. Pages carry refs, never customer data."""
    agent = agents.find(intent.payload["agent_id"])
    if agent is None or not agent.on_duty:
        return
    if agent.alert_via == "sms" and agent.phone:
        if not get_settings().alert_sms_from:
            raise PermanentFailure("no JETDESK_ALERT_SMS_FROM number to page from")
        to = {"channel": "sms", "provider": "twilio", "address": agent.phone, "from": get_settings().alert_sms_from}
    elif agent.email:
        to = {"channel": "email", "provider": "email", "address": agent.email, "subject": intent.payload["subject"]}
    else:
        raise PermanentFailure(f"agent {agent.id} has no phone or email to page")
    _send(to, intent.payload["text"])


def _post_webhook(delivery_id: str, event_type: str, data: dict, subscription_id: str = webhooks.DEMO,
                  occurred_at: str | None = None) -> None:
    """Standard Webhooks: the body's ``timestamp`` is when the event occurred, the same on every
    retry (only the ``webhook-timestamp`` header is the time of sending)."""
    target = webhooks.target(subscription_id)
    if target is None:
        return  # unsubscribed since, or no demo integration on this stage
    body = json.dumps({"type": event_type, "timestamp": occurred_at or clock.iso(clock.now()), "data": data},
                      separators=(",", ":")).encode()
    headers = {"content-type": "application/json",
               **standard_webhook_headers(target["secret"], delivery_id, body)}
    import requests  # on first use (cold starts)
    import urllib3
    try:
        status = webhooks.post(target["url"], body, headers)
    except webhooks.CannotResolve as exc:
        raise TransientFailure(f"webhook host: {exc.message}") from None
    except Unprocessable as exc:  # checked again at send time: its name may resolve elsewhere by now
        raise PermanentFailure(f"webhook refused: {exc.message}") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise TransientFailure(f"webhook unreachable: {type(exc).__name__}") from None
    if not 200 <= status < 300:
        raise TransientFailure(f"webhook answered {status}")


def _integrator_event(intent: Outbox) -> None:
    """To every subscriber; a delivery that fails is retried on its own, under the same webhook-id."""
    _deliver_each(webhooks.deliveries(intent))


def _webhook_delivery(intent: Outbox) -> None:
    p = intent.payload
    _post_webhook(intent.id, p["type"], p["data"], p["subscription_id"], p.get("at") or clock.iso(intent.created_at))


_HANDLERS = {
    "customer_message": _send_to_customer,
    "agent_alert": _alert_agents,
    "agent_page": _page_agent,
    "integrator_event": _integrator_event,
    "webhook_delivery": _webhook_delivery,
}


def _send(reply_to: dict, text: str):
    """Send on the channel ``reply_to`` names."""
    with _provider_failures():
        return channels.for_reply(reply_to).send(providers.send_context(), reply_to, text)


@contextmanager
def _provider_failures() -> Iterator[None]:
    """A provider's outage is a transient failure of the delivery, its refusal a permanent one."""
    try:
        yield
    except ProviderUnavailable as exc:
        raise TransientFailure(str(exc)) from None
    except ProviderRefused as exc:
        raise PermanentFailure(str(exc)) from None

"""Step two of the data path: thread a stored message into a ticket, score, route, notify.

Runs from the inbound table's stream. Exactly once: the transaction that writes the
ticket also flips the inbound item from ``stored`` to ``processed`` on condition.
"""
from __future__ import annotations

import itertools
import logging
import random
import time
from datetime import datetime, timedelta
from typing import Iterator, Mapping, Optional

from pynamodb.exceptions import TransactWriteError

from .. import clock, config, logs
from ..auth import status_links
from ..domain import contacts, language, timers, voice
from ..domain import tickets as rules
from ..domain.inbound import InboundMessage, IntegrationEvent
from ..settings import get_settings
from ..storage.models import Agent, Customer, Identity, Message, Ticket, transaction
from ..storage.models import InboundMessage as InboundItem
from ..storage.writes import New, Update, cancelled_for_good
from . import affinity, agents, audit, bot, customers, outbox, routing, scoring, sweep

log = logging.getLogger(__name__)
ATTEMPTS = 4
CONFLICT_BACKOFF_SECONDS = 0.02   # full jitter, doubling: two messages of one customer stop colliding
RECENT_TEXTS = 3
RECENT_TEXT_CHARS = 400   # of each, for mood and intent: the ticket item is rewritten on every change
REFERENCES_KEPT = 10
ACK_CHANNELS = ("sms", "whatsapp", "email", "messenger", "instagram", "x", "telegram")
KEYWORD_CHANNELS = ("sms", "whatsapp")   # STOP / START; HELP only on SMS, where Twilio answers it
REFERABLE_CHANNELS = ("email", "voice")   # whose inbound ids later deliveries name (References, a voicemail's parts)


class Conflict(Exception):
    """Someone else changed the same items; the caller retries from fresh reads."""


def process(item: InboundItem) -> Optional[str]:
    """Handle one stored delivery; returns the ticket id it landed in (None when none). After a
    conflict it backs off a little and reads again, the contact's identities consistently this
    time: an identity another message just wrote may not be in an eventually consistent read yet."""
    for attempt in range(ATTEMPTS):
        if item.status != "stored":
            return item.ticket_id
        try:
            if item.kind == "event":
                return _apply_event(item, IntegrationEvent.from_dict(item.body), fresh=attempt > 0)
            return _thread(item, InboundMessage.from_dict(item.body), fresh=attempt > 0)
        except Conflict:
            time.sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS * 2 ** attempt))
            item = InboundItem.get(item.key, consistent_read=True)
    raise RuntimeError(f"gave up on {logs.inbound_ref(item.key)} after {ATTEMPTS} conflicting attempts")


def _contacts(msg: InboundMessage) -> list[contacts.Contact]:
    return [contacts.Contact(msg.sender_kind, msg.sender)] + \
        [contacts.Contact(k, v) for k, v in msg.extra_contacts]


def _load_open(ticket_id: Optional[str], customer: Customer, now: datetime,
               read: Mapping[str, Ticket]) -> Optional[Ticket]:
    """The ticket (``read`` already, or read now), if it belongs to this customer and is open, or
    was resolved within the reopen window (``_thread`` decides whether the message reopens it)."""
    if not ticket_id:
        return None
    ticket = read.get(ticket_id)
    if ticket is None:
        try:
            ticket = Ticket.get(ticket_id, consistent_read=True)
        except Ticket.DoesNotExist:
            return None
    if ticket.customer_id != customer.id:
        log.warning("thread key points at another customer's ticket: not threaded", extra={"ticket": ticket_id})
        return None
    if ticket.status in rules.OPEN_STATES:
        return ticket
    if ticket.resolved_at and now - ticket.resolved_at <= timedelta(days=get_settings().reopen_days):
        return ticket
    return None


def _reopen(ticket: Ticket, now: datetime) -> None:
    """A customer's follow-up within the reopen window is the same problem: the ticket is open again."""
    ticket.status, ticket.assignee = "open", None   # queued again, offered to its agent first (affinity)
    ticket.queue_pinned = None   # routed afresh: where a person or an escalation put it then was for then
    ticket.reopened = True
    ticket.state_key, ticket.resolved_at = rules.state_key(ticket.status, ticket.id), None
    # a new SLA period: answered and resolved in time before says nothing of this time
    ticket.reopened_at, ticket.first_response_at = now, None
    ticket.sla_breached_at = ticket.resolution_breached_at = None


def _thread_keys(msg: InboundMessage, read: Mapping[str, Ticket]) -> Iterator[str]:
    """Ticket ids named by the message itself. A quoted ref of the ticket already read with the
    customer (the contact's last) comes first: it costs no read, and a reply names it in its
    subject. Then replies to our messages, newest reference first, then any other quoted ref,
    looked up one at a time, so the first that threads ends the search."""
    quoted = rules.find_ref(msg.subject) or (rules.find_ref(msg.text) if msg.channel == "email" else None)
    known = next((t for t in read if rules.ref_for(t) == quoted), None) if quoted else None  # the ref is the id's tail
    if known:
        yield known
    for ref in msg.thread_refs[-REFERENCES_KEPT:][::-1]:
        hit = next(iter(Message.by_provider_id.query(ref, limit=1)), None)
        if hit is not None:
            yield hit.ticket_id
    if quoted and not known:
        yield from (t.id for t in Ticket.by_ref.query(quoted, limit=1))


def _find_ticket(msg: InboundMessage, customer: Customer, now: datetime,
                 read: Mapping[str, Ticket]) -> Optional[Ticket]:
    tried = set()
    for ticket_id in itertools.chain(_thread_keys(msg, read), [customer.open_ticket_id, customer.last_ticket_id]):
        if ticket_id in tried:
            continue
        tried.add(ticket_id)
        ticket = _load_open(ticket_id, customer, now, read)
        if ticket is not None:
            return ticket
    return None


def _new_ticket(msg: InboundMessage, customer: Customer, now: datetime) -> Ticket:
    ticket_id = msg.new_ticket_id or clock.new_id()
    return Ticket(ticket_id, ref=rules.ref_for(ticket_id), status="open", channel=msg.channel,
                  queue="general", customer_id=customer.id, state_key=rules.state_key("open", ticket_id),
                  subject=msg.subject, external_ref=msg.external_ref, language=customer.language,
                  created_at=now, updated_at=now,
                  inbound_count=0, recent_texts=[], jet={}, reply_to={})


def _reply_to(msg: InboundMessage, ticket: Ticket) -> dict:
    """Where answers go: the customer's latest channel, with what its provider needs to thread."""
    if msg.channel == "api":
        return dict(ticket.reply_to) if ticket.reply_to else {"channel": "api", "provider": "api"}
    if msg.channel == "voice":  # the agent calls back; a typed reply goes by SMS from the number called
        return {"channel": "sms", "provider": "twilio", "address": msg.sender, "from": msg.recipient,
                "action": "call_back"}
    if msg.channel == "web":    # the form's (typed, unverified) email gets the answers, under the ticket's ref
        address = dict(msg.unverified_contacts).get("email")
        return {"channel": "email", "provider": "email", "address": address, "from": "",
                "subject": msg.subject or ticket.subject or "", "ref": ticket.ref} if address else \
            dict(ticket.reply_to or {})
    # email answers from our support address (the customer may have written to an alias or Cc)
    reply = {"channel": msg.channel, "provider": msg.provider, "address": msg.sender,
             "from": "" if msg.channel == "email" else msg.recipient}
    if msg.reply_via:
        reply["via"] = msg.reply_via
    if msg.channel == "email":
        # RFC 5322 3.6.4: its References (oldest first), then its id; a long thread loses the
        # ids after the first (the thread's root), not the root
        refs = list(dict.fromkeys([*msg.thread_refs, msg.provider_message_id]))
        refs = refs if len(refs) <= REFERENCES_KEPT else refs[:1] + refs[1 - REFERENCES_KEPT:]
        reply.update(subject=msg.subject or ticket.subject or "", ref=ticket.ref,
                     in_reply_to=msg.provider_message_id, references=refs)
    return reply


def _keyword_of(msg: InboundMessage) -> Optional[str]:
    word = rules.keyword(msg.text) if msg.channel in KEYWORD_CHANNELS else None
    return None if word == "help" and msg.channel != "sms" else word


def _thread(item: InboundItem, msg: InboundMessage, fresh: bool = False) -> Optional[str]:
    now = clock.now()
    who = customers.resolve(_contacts(msg), msg.sender_name,
                            [contacts.Contact(k, v) for k, v in msg.unverified_contacts], consistent=fresh)
    ticket = _find_ticket(msg, who.customer, now, who.tickets)   # open, or resolved within the reopen window
    recording = (msg.voice or {}).get("recording_sid")
    if ticket is not None and recording and recording in (ticket.voicemails or {}):
        # a later part of a voicemail completes its message: a ticket resolved since stays resolved
        return _add_to_voicemail(item, msg, ticket, who, now)
    closed = ticket is not None and ticket.status == "resolved"
    word = _keyword_of(msg)
    if word and (ticket is None or closed):
        return _keyword(item, msg, word, who)   # a keyword alone opens (or reopens) no ticket
    if word in ("opt_out", "opt_in"):   # "Yes", "Cancel" to an open ticket: an answer too, and a consent
        who.record_consent(word == "opt_out")
    if msg.automated and (ticket is None or closed):   # an auto-reply opens or reopens nothing
        _commit(item, None, None, [], outcome="automated: no ticket opened")  # nothing about the sender is kept
        return None
    if closed:
        _reopen(ticket, now)
    is_new_ticket = ticket is None
    if is_new_ticket:
        ticket = _new_ticket(msg, who.customer, now)
    if who.customer.open_ticket_id != ticket.id:  # new, or reopened
        who.customer.open_ticket_id = ticket.id
        who.changed = True
    before = routing.placement(ticket)
    answered = ticket.status == "pending" and not msg.automated   # an out-of-office answers nothing: still waiting
    resumed = answered or getattr(ticket, "reopened", False)
    if resumed and ticket.assignee and fresh and agents.find(ticket.assignee) is None:
        routing.requeue(ticket, now)   # the agent it waited with was deleted (their load update failed)
    if answered:  # the customer answered: back in hand, or back in the queue
        ticket.status = "assigned" if ticket.assignee else "open"
    message = _inbound_message(ticket, msg, _language(msg, ticket, who), now)
    if recording:
        ticket.voicemails = {**(ticket.voicemails or {}), recording: message.id}
    _take_in(ticket, msg, now)
    result = scoring.rescore(ticket, who.customer, "new ticket" if is_new_ticket else "customer wrote again", now)
    turn = bot.Turn(held=ticket.status == "bot") if msg.automated else \
        bot.on_message(ticket, who.customer, msg.text, msg.channel, is_new_ticket, result, now)
    who.changed |= turn.customer_changed
    own_agent = affinity.offer(ticket, who.customer, now) if is_new_ticket or getattr(ticket, "reopened", False) \
        else None  # none while the bot holds it: only a queued ticket is offered

    writes: list = [message] + affinity.announced(ticket, own_agent)
    if getattr(ticket, "reopened", False):  # the audit entry carries the score's history entry
        writes.append(audit.entry(ticket.id, "customer", "reopened", msg.channel, jet=ticket.score_change))
    else:  # the message carries it (a ticket's opening is on the ticket itself: audit.trail shows it)
        message.rescored = ticket.score_change
    if not msg.automated:
        writes += _announced(ticket, msg, message, is_new_ticket, turn, before)
    writes += turn.writes
    if is_new_ticket:
        writes += _first_answers(ticket, msg, turn, own_agent, now)

    # a reopened or answered ticket weighs on its agent again (no capacity check: it is already theirs)
    load = [agents.load_of(ticket.assignee, ticket.channel, +1)] if resumed and ticket.assignee else []
    _commit(item, ticket, who, writes, updates=load + turn.updates, outcome=f"keyword: {word}" if word else None)
    log.info("threaded", extra={"inbound": logs.inbound_ref(item.key), "ticket": ticket.id, "new_ticket": is_new_ticket,
                                "score": result.score, "queue": ticket.queue, "language": ticket.language})
    return ticket.id


def _inbound_message(ticket: Ticket, msg: InboundMessage, spoken: Optional[str], now: datetime) -> Message:
    """The customer's message in the timeline. Its id is minted now, as it is written, not when the
    webhook stored it: ids then follow the order messages reach the timeline, which the chat
    poll's cursor relies on."""
    recording = (msg.voice or {}).get("recording_sid")
    provider_id = recording or msg.provider_message_id
    return Message(ticket.id, clock.new_id(), direction="inbound", channel=msg.channel, text=msg.text,
                   created_at=now, author="customer", delivery_status="delivered",
                   provider_message_id=provider_id, language=spoken,
                   lookup_id=provider_id if msg.channel in REFERABLE_CHANNELS else None,
                   media=[m.__dict__ for m in msg.media] or None,
                   attachments=[{k: v for k, v in a.__dict__.items() if k != "content"}
                                for a in msg.attachments] or None,
                   voice=voice.merge({"transcription_status": "pending"} if recording else {}, msg.voice)
                   if msg.voice else None)


def _take_in(ticket: Ticket, msg: InboundMessage, now: datetime) -> None:
    """What the message adds to the ticket: counts, channels, the recent texts JET reads, where answers go."""
    ticket.inbound_count = int(ticket.inbound_count or 0) + (0 if msg.automated else 1)
    ticket.channels_used = set(ticket.channels_used or ()) | {msg.channel}
    if msg.text:
        ticket.recent_texts = (list(ticket.recent_texts or []) + [msg.text[:RECENT_TEXT_CHARS]])[-RECENT_TEXTS:]
    ticket.updated_at = now
    if not msg.automated or not ticket.reply_to:   # answers go to the customer, not to their auto-reply
        ticket.reply_to = _reply_to(msg, ticket)


def _announced(ticket: Ticket, msg: InboundMessage, message: Message, is_new_ticket: bool, turn: bot.Turn,
               before: routing.Placement) -> list:
    """The integrators' event, and the agents' alert unless the bot holds the ticket (a P1 that
    newly waits in a queue, new, risen or moved, pages it)."""
    writes = [outbox.integrator_event(ticket, "ticket.created" if is_new_ticket else "ticket.message",
                                      {"message_id": message.id, "channel": msg.channel})]
    if not (turn.held or turn.handed_over or ticket.resolved_by == "bot"):
        page = routing.page_for(ticket, before)
        writes.append(outbox.agent_alert(ticket, "new ticket" if is_new_ticket else "customer replied", page=page))
    return writes


def _first_answers(ticket: Ticket, msg: InboundMessage, turn: bot.Turn, own_agent: Optional[Agent],
                   now: datetime) -> list:
    """A new ticket's confirmation (the help form) or acknowledgement, unless the bot answers."""
    writes = []
    if msg.channel == "web" and ticket.reply_to.get("address"):
        writes += _web_confirmation(ticket, msg, now)
    if msg.channel in ACK_CHANNELS and not msg.automated and not turn.held:
        ack = Message(ticket.id, clock.new_id(), direction="outbound", channel=msg.channel,
                      text=affinity.acknowledgement(ticket, own_agent),
                      created_at=now, author="system", delivery_status="pending")
        writes += [ack, outbox.customer_message(ticket, ack)]
    return writes


def _web_confirmation(ticket: Ticket, msg: InboundMessage, now: datetime) -> list:
    """The help form's confirmation email with the ticket's status link (kept in the timeline without it)."""
    link = status_links.url(get_settings(), ticket.id, msg.sender)
    kept = Message(ticket.id, clock.new_id(), direction="outbound", channel="email", created_at=now, author="system",
                   text=config.message("web_confirmation", ticket.language, ref=ticket.ref, link="<status link>"),
                   delivery_status="pending")
    sent = config.message("web_confirmation", ticket.language, ref=ticket.ref, link=link)
    return [kept, outbox.customer_message(ticket, kept, text=sent)]


def _language(msg: InboundMessage, ticket: Ticket, who: customers.Resolution) -> Optional[str]:
    """The message's language; it also becomes the ticket's and the customer's when still unknown."""
    spoken = language.detect(msg.text)
    if spoken and not who.customer.language:
        who.customer.language, who.changed = spoken, True
    ticket.language = ticket.language or spoken or who.customer.language
    return spoken


def _add_to_voicemail(item: InboundItem, msg: InboundMessage, ticket: Ticket, who: customers.Resolution,
                      now: datetime) -> str:
    """A later part of a voicemail (its transcription, or the recording after the transcription):
    one message, completed in place; a new text re-scores the ticket like any message."""
    message = Message.get(ticket.id, ticket.voicemails[msg.voice["recording_sid"]], consistent_read=True)
    actions = [Message.voice.set(voice.merge(message.voice or {}, msg.voice))]
    text_added = bool(msg.text) and not message.text
    writes: list = []
    if text_added:
        spoken = _language(msg, ticket, who)
        actions += [Message.text.set(msg.text)] + ([Message.language.set(spoken)] if spoken else [])
        ticket.recent_texts = (list(ticket.recent_texts or []) + [msg.text[:RECENT_TEXT_CHARS]])[-RECENT_TEXTS:]
        writes.append(outbox.integrator_event(ticket, "ticket.message", {"message_id": message.id,
                                                                         "channel": msg.channel}))
    if msg.media and not message.media:
        actions.append(Message.media.set([m.__dict__ for m in msg.media]))
    ticket.updated_at = now
    before = routing.placement(ticket)
    result = scoring.rescore(ticket, who.customer, "voicemail transcribed" if text_added else "voicemail updated", now)
    actions.append(Message.rescored.set(ticket.score_change))
    if text_added and ticket.status not in ("resolved", "bot"):   # what was said can make it a P1
        page = routing.page_for(ticket, before)
        writes.append(outbox.agent_alert(ticket, "customer replied", page=page))
    _commit(item, ticket, who, writes, updates=[Update(message, actions, Message.id.exists())])
    log.info("voicemail completed", extra={"inbound": logs.inbound_ref(item.key), "ticket": ticket.id,
                                           "text_added": text_added, "score": result.score})
    return ticket.id


def _keyword(item: InboundItem, msg: InboundMessage, word: str, who: customers.Resolution) -> None:
    """STOP/START/HELP with no open ticket: record the consent, open no ticket (Twilio answers the
    keyword itself). To an open ticket, a keyword is threaded like any message (``_thread``)."""
    updates = []
    if word in ("opt_out", "opt_in"):
        who.record_consent(word == "opt_out")
        if not who.new_identities:
            updates.append(Update(Identity(contacts.Contact(msg.sender_kind, msg.sender).identity),
                                  [Identity.opted_out.set(word == "opt_out")]))
    _commit(item, None, who if word != "help" else None, [], outcome=f"keyword: {word}", updates=updates)
    log.info("keyword", extra={"inbound": logs.inbound_ref(item.key), "keyword": word})
    return None


REPLACING_EVENTS = ("journey.updated", "booking.updated")   # each carries the whole state it sets
BOOKING_FIELDS = ("fare_class", "loyalty_tier", "special_services", "ticket_value")   # DESIGN.md's booking.updated


def _older(event: IntegrationEvent, customer: Customer) -> bool:
    """Whether the customer already holds what a later event of this type said (events reach us
    out of order: a redelivery, another shard of the stream)."""
    held = (customer.as_of or {}).get(event.type)
    try:
        return held is not None and timers.parse(event.occurred_at) < timers.parse(held)
    except ValueError:
        return False


def _customer_of(ticket_id: Optional[str]) -> Optional[customers.Resolution]:
    """The customer of a rated ticket, with the ticket (a ``customer.feedback`` naming only it)."""
    try:
        ticket = Ticket.get(ticket_id, consistent_read=True) if ticket_id else None
        return customers.Resolution(Customer.get(ticket.customer_id, consistent_read=True), is_new=False,
                                    tickets={ticket.id: ticket}) if ticket else None
    except (Ticket.DoesNotExist, Customer.DoesNotExist):
        return None


def _apply_event(item: InboundItem, event: IntegrationEvent, fresh: bool = False) -> None:
    """Journey, booking and feedback events update the customer and re-score their open ticket;
    a journey or booking event older than the one applied last changes nothing."""
    rated = event.data.get("ticket_id") if event.type == "customer.feedback" else None
    who = customers.resolve([contacts.Contact(k, v) for k, v in event.contacts], event.customer.get("name"),
                            consistent=fresh) if event.contacts else _customer_of(rated)
    if who is None:
        _commit(item, None, None, [], outcome=f"no ticket {rated}: nothing rated")
        return None
    if event.type in REPLACING_EVENTS:
        if _older(event, who.customer):
            _commit(item, None, None, [], outcome=f"stale: older than the {event.type} applied last")
            return None
        who.customer.as_of = {**(who.customer.as_of or {}), event.type: event.occurred_at}
    profile, journey = dict(who.customer.profile or {}), dict(who.customer.journey or {})
    if event.type == "journey.updated":
        journey = {"booking_ref": event.data["booking_ref"], "segments": event.data["segments"]}
    elif event.type == "booking.updated":
        # only the contract's fields: another of the integrator's own names ("ratings") must not
        # overwrite what JetDesk keeps in the profile beside them
        profile.update({k: v for k, v in event.data.items() if k in BOOKING_FIELDS})
        profile["booking_ref"] = event.data["booking_ref"]
    elif event.type == "customer.feedback":
        profile["ratings"] = (profile.get("ratings", []) + [
            {"stage": event.data["stage"], "rating": event.data["rating"], "at": event.occurred_at}])[-10:]
    who.customer.profile, who.customer.journey = profile, journey
    who.changed = True
    now = clock.now()   # the ticket rated, when it is the customer's and open; else their open one
    ticket = (_load_open(rated, who.customer, now, who.tickets) if rated else None) or \
        _load_open(who.customer.open_ticket_id, who.customer, now, who.tickets)
    if ticket is not None and ticket.status == "resolved":
        ticket = None   # only the customer's own message reopens a ticket
    writes = []
    updates: list = []
    if ticket is not None:
        ticket.updated_at, before = clock.now(), routing.placement(ticket)
        result = scoring.rescore(ticket, who.customer, event.type)
        writes = [outbox.integrator_event(ticket, "jet.changed"),
                  audit.entry(ticket.id, "customer" if event.source == "chat" else "integration", "rescored",
                              event.type, event_id=event.id, jet=ticket.score_change)]
        turn = bot.on_rescore(ticket, who.customer, result, ticket.updated_at)  # a P1 the bot held goes to people
        writes, updates = writes + turn.writes, turn.updates
        page = routing.page_for(ticket, before)
        if page and not turn.handed_over:
            writes.append(outbox.agent_alert(ticket, f"P1 after {event.type}", page=page))
    _commit(item, ticket, who, writes, updates=updates)
    return None


def _commit(item: InboundItem, ticket: Optional[Ticket], who: Optional[customers.Resolution], others: list,
            outcome: Optional[str] = None, updates: list = ()) -> None:
    """One transaction: the inbound item leaves ``stored`` with everything it caused
    (``who`` is None when the customer and their identities stay as they are)."""
    try:
        with transaction() as tx:
            done = [InboundItem.status.set("processed")]
            if ticket is not None:
                done.append(InboundItem.ticket_id.set(ticket.id))
            if outcome:
                done.append(InboundItem.reason.set(outcome))
            tx.update(item, actions=done, condition=InboundItem.status == "stored")
            for update in updates:
                update.into(tx)
            if who is not None and who.changed:
                tx.save(who.customer, condition=Customer.id.does_not_exist() if who.is_new else None)
            hint = who.note_ticket(ticket.id) if who is not None and ticket is not None else None
            if hint is not None:
                consent = [Identity.opted_out.set(who.opted_out)] if who.opted_out is not None else []
                tx.update(hint, actions=[Identity.ticket_id.set(ticket.id), *consent],
                          condition=Identity.identity.exists())
            for identity in who.new_identities if who is not None else ():  # new, or taking over an unverified claim
                tx.save(identity, condition=Identity.identity.does_not_exist() | (Identity.verified == False))  # noqa: E712
            if ticket is not None:
                sweep.arm(ticket, clock.now())
                tx.save(ticket)
            for other in outbox.bundle(others):
                New(other).into(tx)
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException" and not cancelled_for_good(exc):
            raise Conflict(str(exc)) from None
        raise

"""Every table and index JetDesk uses, declared once.

Table names and the endpoint are set by ``configure()`` at start-up from the
settings object, never read from the environment at import time.
"""
from __future__ import annotations

import json
import time
from typing import Optional

import botocore
from botocore.config import Config
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite


class CompactJSONAttribute(JSONAttribute):
    """JSON without the spaces ``json.dumps`` puts after every ``,`` and ``:`` (DynamoDB bills
    items by the byte; what was stored with them reads the same)."""

    def serialize(self, value) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))


class _Base(Model):
    class Meta:
        abstract = True
        region = "us-east-1"
        billing_mode = "PAY_PER_REQUEST"
        max_retry_attempts = 3


class InboundMessage(_Base):
    """One provider delivery, normalized; keyed on channel + provider message id.

    The conditional put of this item is the idempotency guard of ingestion, and
    its stream drives the async path.
    """
    class Meta(_Base.Meta):
        table_name = "inbound"
        stream_view_type = "NEW_IMAGE"

    key = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # message | event
    channel = UnicodeAttribute()
    message_id = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    body = CompactJSONAttribute()  # the normalized InboundMessage / IntegrationEvent
    status = UnicodeAttribute(default="stored")  # stored | processed | rejected
    ticket_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class Customer(_Base):
    class Meta(_Base.Meta):
        table_name = "customers"

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    contacts = UnicodeSetAttribute(null=True)
    profile = CompactJSONAttribute(default=dict)   # loyalty_tier, fare_class, special_services, ticket_value
    journey = CompactJSONAttribute(default=dict)   # booking_ref, segments
    as_of = CompactJSONAttribute(null=True)   # event type → occurred_at of the journey/booking event applied last
    open_ticket_id = UnicodeAttribute(null=True)  # the ticket a new message threads into
    last_ticket_id = UnicodeAttribute(null=True)  # the last resolved one (reopen window)
    last_agent = UnicodeAttribute(null=True)          # who last handled their case (resolved it, or replied holding it)
    last_agent_at = UTCDateTimeAttribute(null=True)   # when: a follow-up within the window is offered to them first
    created_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class Identity(_Base):
    """A contact identity (``phone:+33…``, ``email:…``, ``external:…``) → customer."""
    class Meta(_Base.Meta):
        table_name = "identities"

    identity = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    verified = BooleanAttribute(default=False)
    opted_out = BooleanAttribute(default=False)  # SMS STOP: never send to this number
    # the ticket this contact's last message went to: read in one request with the customer
    # (a hint: the customer's own open/last ticket decides, a stale hint costs one more read)
    ticket_id = UnicodeAttribute(null=True)


class QueueRankIndex(GlobalSecondaryIndex):
    """Open, unassigned tickets of a queue, best JET score first, then oldest. It projects only
    what a claim filters on: an index copy of the whole ticket would be rewritten, at the
    ticket's size, on every change (the score is in the rank; lists read the tickets by key)."""
    class Meta:
        index_name = "queue-rank"
        projection = IncludeProjection(["language", "channel", "due_at"])

    queue_slot = UnicodeAttribute(hash_key=True)
    rank = UnicodeAttribute(range_key=True)


class QueueAgeIndex(GlobalSecondaryIndex):
    """The same tickets by age, for the oldest wait of a queue."""
    class Meta:
        index_name = "queue-age"
        projection = KeysOnlyProjection()

    queue_slot = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class CustomerTicketsIndex(GlobalSecondaryIndex):
    """A customer's tickets; ``state_key`` = ``open#<id>`` or ``closed#<id>`` (keys only: lists read
    the tickets by key)."""
    class Meta:
        index_name = "customer-tickets"
        projection = KeysOnlyProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    state_key = UnicodeAttribute(range_key=True)


class AssigneeTicketsIndex(GlobalSecondaryIndex):
    """An agent's tickets, ``state_key`` as in customer-tickets: those they hold (``open#``) and those
    they resolved (``closed#``). Sparse: a ticket nobody holds is not in it, so a first message writes
    nothing here (keys only: lists read the tickets by key)."""
    class Meta:
        index_name = "assignee-tickets"
        projection = KeysOnlyProjection()

    assignee = UnicodeAttribute(hash_key=True)
    state_key = UnicodeAttribute(range_key=True)


class TimerIndex(GlobalSecondaryIndex):
    """Open tickets by when they next need the clock (sharded to spread the writes)."""
    class Meta:
        index_name = "timers"
        projection = KeysOnlyProjection()

    timer_shard = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)   # ISO-8601 UTC, sorts as time


class TicketRefIndex(GlobalSecondaryIndex):
    """A ticket by its short human reference (email subjects, phone calls)."""
    class Meta:
        index_name = "ref"
        projection = KeysOnlyProjection()

    ref = UnicodeAttribute(hash_key=True)


class Ticket(_Base):
    class Meta(_Base.Meta):
        table_name = "tickets"

    id = UnicodeAttribute(hash_key=True)
    ref = UnicodeAttribute()
    status = UnicodeAttribute()  # open | assigned | pending | resolved
    channel = UnicodeAttribute()
    queue = UnicodeAttribute()
    assignee = UnicodeAttribute(null=True)
    lease_expires_at = UTCDateTimeAttribute(null=True)
    customer_id = UnicodeAttribute()
    state_key = UnicodeAttribute()
    subject = UnicodeAttribute(null=True)
    external_ref = UnicodeAttribute(null=True)   # the integrator's own reference of a ticket.create
    language = UnicodeAttribute(null=True)
    intent = UnicodeAttribute(null=True)
    reply_to = CompactJSONAttribute(default=dict)  # {channel, address, from}
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    sla_due_at = UTCDateTimeAttribute(null=True)
    first_response_at = UTCDateTimeAttribute(null=True)
    resolved_at = UTCDateTimeAttribute(null=True)
    reopened_at = UTCDateTimeAttribute(null=True)   # the SLA targets of a reopened ticket run from here
    sla_breached_at = UTCDateTimeAttribute(null=True)
    resolution_due_at = UTCDateTimeAttribute(null=True)
    resolution_breached_at = UTCDateTimeAttribute(null=True)
    queued_at = UTCDateTimeAttribute(null=True)       # entered its current queue
    escalations = CompactJSONAttribute(null=True)            # steps left: [{"after_minutes", "queue"}]
    queue_pinned = BooleanAttribute(null=True)        # moved by a person or an escalation: routing leaves it
    timer_shard = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    agent_feedback = CompactJSONAttribute(default=list)  # Live JET: [{at, agent, emotion, note}]
    inbound_count = NumberAttribute(default=0)
    recent_texts = CompactJSONAttribute(default=list)  # the customer's last few messages, for mood
    channels_used = UnicodeSetAttribute(null=True)
    jet = CompactJSONAttribute(default=dict)             # the current score and its explanation (scoring.stored)
    history = CompactJSONAttribute(null=True)  # before 2026-12 only: now in ticket-events and messages
    queue_slot = UnicodeAttribute(null=True)
    rank = UnicodeAttribute(null=True)
    voicemails = CompactJSONAttribute(null=True)  # RecordingSid → message id: a voicemail's later parts join it
    bot = CompactJSONAttribute(null=True)  # the bot's part: {intent, day, answers, awaiting, quiet_until, outcome}
    resolved_by = UnicodeAttribute(null=True)  # agent id, or "bot"
    offered_to = UnicodeAttribute(null=True)          # the customer's own agent, whose personal slot holds it now
    offer_expires_at = UTCDateTimeAttribute(null=True)  # then the sweep moves it to its queue
    version = VersionAttribute()

    queue_rank = QueueRankIndex()
    queue_age = QueueAgeIndex()
    customer_tickets = CustomerTicketsIndex()
    assignee_tickets = AssigneeTicketsIndex()
    by_ref = TicketRefIndex()
    timers = TimerIndex()


def tickets_by_id(ids: list[str]) -> list[Ticket]:
    """Whole tickets for index hits (BatchGetItem, up to 100 a call), in the order of ``ids``."""
    found = {t.id: t for t in Ticket.batch_get(list(dict.fromkeys(ids)))} if ids else {}
    return [found[i] for i in ids if i in found]


class ProviderMessageIndex(GlobalSecondaryIndex):
    """A message by the provider's id for it, where something can name it later: status
    callbacks and email In-Reply-To (our sends), References and a voicemail's later parts."""
    class Meta:
        index_name = "provider-message"
        projection = KeysOnlyProjection()

    lookup_id = UnicodeAttribute(hash_key=True)


class Message(_Base):
    class Meta(_Base.Meta):
        table_name = "messages"

    ticket_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    direction = UnicodeAttribute()  # inbound | outbound
    channel = UnicodeAttribute()
    text = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute()
    author = UnicodeAttribute(null=True)  # agent id, "customer" or "system"
    media = CompactJSONAttribute(null=True)
    delivery_status = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    lookup_id = UnicodeAttribute(null=True)   # = provider_message_id where something may name it: the index key
    failure_reason = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    attachments = CompactJSONAttribute(null=True)  # [{name, content_type, size, key}]
    voice = CompactJSONAttribute(null=True)  # voicemail / call-back: recording, duration, transcription status
    rescored = CompactJSONAttribute(null=True)  # the score history entry this (inbound) message caused

    by_provider_id = ProviderMessageIndex()


class TicketEvent(_Base):
    """The append-only audit trail of a ticket: who did what, when, through what."""
    class Meta(_Base.Meta):
        table_name = "ticket-events"

    ticket_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()      # agent:<id> | customer | integration | system
    action = UnicodeAttribute()
    via = UnicodeAttribute(null=True)  # channel or integration event type
    detail = CompactJSONAttribute(null=True)  # with ``jet``: the score history entry of the change


class Outbox(_Base):
    """An intent to notify someone; its stream drives the notifier."""
    class Meta(_Base.Meta):
        table_name = "outbox"
        stream_view_type = "NEW_IMAGE"

    id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # customer_message | agent_alert | integrator_event
    ticket_id = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    payload = CompactJSONAttribute(default=dict)
    status = UnicodeAttribute(default="pending")  # pending | done | failed
    attempts = NumberAttribute(default=0)
    dead_letter = UnicodeAttribute(null=True)  # the dead letter a failed intent is kept as
    sending_until = UTCDateTimeAttribute(null=True)  # the lease of the run delivering it now
    kept = UnicodeSetAttribute(null=True)  # ids of targets a rerun skips: gone on by themselves, or pages sent
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)


class Agent(_Base):
    class Meta(_Base.Meta):
        table_name = "agents"

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    role = UnicodeAttribute(default="agent")  # agent | supervisor
    queues = ListAttribute(of=UnicodeAttribute, default=list)
    languages = ListAttribute(of=UnicodeAttribute, default=list)
    capacity = MapAttribute(default=dict)   # channel (or "default") → most tickets held at once
    load = MapAttribute(default=dict)       # channel → tickets held now (kept in the same transactions)
    on_duty = BooleanAttribute(default=False)
    alert_via = UnicodeAttribute(null=True)  # sms | email: how P1 and breach alerts reach this agent
    phone = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)


class Queue(_Base):
    class Meta(_Base.Meta):
        table_name = "queues"

    name = UnicodeAttribute(hash_key=True)
    description = UnicodeAttribute(default="")
    on_duty = UnicodeSetAttribute(null=True)  # the agents of this queue on duty now (alerts go to them)


class ConversationIndex(GlobalSecondaryIndex):
    """The open WebSocket connections of one chat conversation."""
    class Meta:
        index_name = "conversation"
        projection = KeysOnlyProjection()

    conversation_id = UnicodeAttribute(hash_key=True)


class ChatConnection(_Base):
    """A customer's page connected over API Gateway WebSockets (deployed stages only)."""
    class Meta(_Base.Meta):
        table_name = "chat-connections"

    connection_id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute()
    expires_at = TTLAttribute()

    by_conversation = ConversationIndex()


class DeadLetterDayIndex(GlobalSecondaryIndex):
    """Dead letters of one UTC day, newest first, for listing without a scan."""
    class Meta:
        index_name = "day"
        projection = AllProjection()

    day = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class RateCounter(_Base):
    """Requests of one caller in one time window (public customer endpoints)."""
    class Meta(_Base.Meta):
        table_name = "rate-counters"

    key = UnicodeAttribute(hash_key=True)   # "<scope>#<window start>"
    count = NumberAttribute(default=0)
    expires_at = TTLAttribute()


class Setting(_Base):
    """Versioned configuration: ``jet`` is the one in force, ``jet#v<n>`` every version saved;
    ``webhooks`` the integrators' subscriptions, whose ``revision`` each write bumps on condition
    that it is still the one read (an optimistic write: two supervisors at once lose nothing)."""
    class Meta(_Base.Meta):
        table_name = "settings"

    key = UnicodeAttribute(hash_key=True)
    value = CompactJSONAttribute()
    updated_by = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    revision = NumberAttribute(null=True)


class BotStat(_Base):
    """The bot's counts for one intent on one UTC day (the day it first answered each ticket), kept with
    ADD in the same transactions as the tickets they count: answered, handed over, closed, reopened."""
    class Meta(_Base.Meta):
        table_name = "bot-stats"

    intent = UnicodeAttribute(hash_key=True)
    day = UnicodeAttribute(range_key=True)   # YYYY-MM-DD
    answered = NumberAttribute(default=0)    # tickets the bot took (first answer)
    handed_over = NumberAttribute(default=0)
    closed = NumberAttribute(default=0)      # resolved by the bot, no handover
    reopened = NumberAttribute(default=0)    # of those, reopened by the customer later
    turns = NumberAttribute(default=0)       # bot answers sent, first ones included


class DeadLetter(_Base):
    """A payload we could not take or finish, with the reason; replayable."""
    class Meta(_Base.Meta):
        table_name = "dead-letters"

    id = UnicodeAttribute(hash_key=True)
    source = UnicodeAttribute()  # the route or handler that gave up
    reason = UnicodeAttribute()
    payload = CompactJSONAttribute()
    created_at = UTCDateTimeAttribute()
    day = UnicodeAttribute()
    replayed_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    by_day = DeadLetterDayIndex()


class CannedIntentIndex(GlobalSecondaryIndex):
    """Canned responses of one intent, by language (``lang_id`` = ``<language>#<id>``): suggestions."""
    class Meta:
        index_name = "by-intent"
        projection = AllProjection()   # a few hundred short texts, rarely written: the suggestion reads them whole

    intent = UnicodeAttribute(hash_key=True)
    lang_id = UnicodeAttribute(range_key=True)


class CannedListingIndex(GlobalSecondaryIndex):
    """Every canned response in one fixed partition (``listing`` = ``all``), oldest first: the admin list.
    One partition is fine for a supervisors' set of a few hundred items."""
    class Meta:
        index_name = "listing"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class CannedResponse(_Base):
    """A supervisor's reply template for an intent (or ``general``) in one language, with placeholders."""
    class Meta(_Base.Meta):
        table_name = "canned-responses"

    id = UnicodeAttribute(hash_key=True)
    title = UnicodeAttribute()
    intent = UnicodeAttribute()
    language = UnicodeAttribute()
    lang_id = UnicodeAttribute()
    listing = UnicodeAttribute(default="all")
    text = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_intent = CannedIntentIndex()
    all_items = CannedListingIndex()


ALL_MODELS = (InboundMessage, Customer, Identity, Ticket, Message, TicketEvent, Outbox,
              Agent, Queue, DeadLetter, RateCounter, ChatConnection, Setting, BotStat, CannedResponse)


_shared: dict[str, Connection] = {}
BATCH_ROUNDS = 5
USER_AGENT = f"jetdesk Botocore/{botocore.__version__}"


def transaction() -> TransactWrite:
    """A TransactWrite on the one shared connection."""
    return TransactWrite(connection=_shared["connection"])


def get_together(*wanted: tuple[type[Model], str]) -> dict[tuple[type[Model], str], Optional[Model]]:
    """Items of different tables by hash key, read consistently in one BatchGetItem;
    what does not exist maps to None."""
    client = _shared["connection"].client
    keys = {(m, k) for m, k in wanted}
    request: dict[str, dict] = {}
    for model, key in keys:
        attr = model._hash_key_attribute()
        request.setdefault(model.Meta.table_name, {"Keys": [], "ConsistentRead": True})["Keys"].append(
            {attr.attr_name: {attr.attr_type: attr.serialize(key)}})
    by_table = {model.Meta.table_name: model for model, _ in keys}
    found: dict[tuple[type[Model], str], Optional[Model]] = dict.fromkeys(keys)
    for attempt in range(BATCH_ROUNDS):
        answer = client.batch_get_item(RequestItems=request)
        for table, items in answer.get("Responses", {}).items():
            model = by_table[table]
            for raw in items:
                item = model.from_raw_data(raw)
                found[(model, getattr(item, model._hash_keyname))] = item
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return found
        time.sleep(0.05 * 2 ** attempt)   # throttled: DynamoDB's own advice is to back off
    raise RuntimeError(f"BatchGetItem left keys unprocessed after {BATCH_ROUNDS} rounds")


def base_name(model) -> str:
    """The table's name without the stage prefix."""
    return model.__dict__.get("_base_table_name") or model.Meta.table_name


def configure(settings) -> None:
    """Point every model at this stage's tables and endpoint (call once at start-up).

    All models share one Connection, hence one botocore client: PynamoDB would
    otherwise build a session and client per model, which dominates cold start.
    """
    connection = Connection(region=settings.region, host=settings.aws_endpoint_url,
                            max_retry_attempts=_Base.Meta.max_retry_attempts,
                            connect_timeout_seconds=2, read_timeout_seconds=5)
    # A fixed User-Agent: botocore otherwise rebuilds and sanitises its ~20 components on every
    # request (≈ 7 % of the client-side CPU of a threaded message in the profile)
    connection.session.set_default_client_config(Config(user_agent=USER_AGENT))
    _shared["connection"] = connection
    for model in ALL_MODELS:
        base = base_name(model)
        model._base_table_name = base
        model.Meta.table_name = settings.table_name(base)
        model.Meta.region = settings.region
        model.Meta.host = settings.aws_endpoint_url
        model._connection = None
        table = model._get_connection()
        connection.add_meta_table(table.connection.get_meta_table(table.table_name))
        table.connection = connection


def create_tables(wait: bool = True) -> None:
    """Create every table, index, stream and TTL from the declarations above."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=wait)

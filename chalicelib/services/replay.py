"""Dead letters: list what we kept, and replay what can be (authentic webhooks, async records)."""
from __future__ import annotations

from typing import Any, Optional

from channels.base import RawRequest, StatusUpdate

from .. import clock
from ..errors import Conflict, NotFound, Unprocessable
from ..storage.models import DeadLetter, InboundMessage, Message, Outbox
from . import conversations, deliveries, ingest, intake, notifier, presenters


def listing(day: Optional[str], cursor: Optional[str]) -> dict[str, Any]:
    day = day or clock.now().date().isoformat()
    result = DeadLetter.by_day.query(day, scan_index_forward=False, limit=50,
                                     last_evaluated_key=presenters.decode_cursor(cursor, ("day", "id"), day=day))
    items = [{"id": d.id, "source": d.source, "reason": d.reason, "created_at": clock.iso(d.created_at),
              "replayable": bool(d.payload.get("replayable")), "replayed_at": clock.iso(d.replayed_at)}
             for d in result]
    return presenters.page(items, result.last_evaluated_key)


def replay(letter_id: str) -> dict[str, Any]:
    try:
        letter = DeadLetter.get(letter_id, consistent_read=True)
    except DeadLetter.DoesNotExist:
        raise NotFound(f"no dead letter {letter_id}") from None
    if not letter.payload.get("replayable"):
        raise Conflict(_not_replayable(letter))
    if letter.replayed_at:
        raise Conflict(f"already replayed at {clock.iso(letter.replayed_at)}")
    outcome = _replay_record(letter) if "record" in letter.payload else _replay_webhook(letter)
    letter.update(actions=[DeadLetter.replayed_at.set(clock.now())])
    return {"id": letter.id, "source": letter.source, **outcome}


def _not_replayable(letter: DeadLetter) -> str:
    """Why a supervisor cannot replay it. A forged letter kept before `failed_verification` was
    recorded gets the second answer, whose reason names the check it failed."""
    if letter.payload.get("failed_verification"):
        return "this payload failed verification; it is kept for inspection only"
    return f"this payload is kept for inspection only, it cannot be replayed: {letter.reason}"


def _replay_webhook(letter: DeadLetter) -> dict[str, Any]:
    """What reads now is stored (idempotently, so a second try counts it as duplicates); a part still
    refused answers 422, as on intake, and leaves the letter replayable for after the fix."""
    source = intake.SOURCES[letter.source]
    payload = letter.payload
    request = RawRequest("POST", "", payload["headers"], ingest.kept_body(payload), payload.get("query", {}))
    items = source.normalize(source.parse(request))
    receipt = intake.store_all(items)
    if receipt.refused:
        raise Unprocessable(f"{len(receipt.refused)} of {len(items)} parts still refused: "
                            + "; ".join(receipt.refused)[:500], [{"refused": reason} for reason in receipt.refused])
    return {"stored": receipt.stored, "duplicates": receipt.duplicates, "statuses": receipt.statuses}


def _replay_record(letter: DeadLetter) -> dict[str, Any]:
    record = letter.payload["record"]
    if "status_update" in record:
        return {"applied": deliveries.apply(StatusUpdate(**record["status_update"]))}
    if "outbox_id" in record:
        intent = Outbox.get(record["outbox_id"], consistent_read=True)
        resumed = intent.status == "pending" and intent.dead_letter == letter.id  # a replay stopped half-way
        if not resumed and (intent.status != "failed" or intent.dead_letter not in (None, letter.id)):
            raise Conflict(f"intent {intent.id} is {intent.status} since; nothing to replay")
        if not resumed:  # still naming this letter until it fails again, so a replay cut off here resumes
            intent.update(actions=[Outbox.status.set("pending"), Outbox.attempts.set(0),
                                   Outbox.dead_letter.set(letter.id)], condition=Outbox.status == "failed")
        if intent.kind == "customer_message" and intent.message_id:  # failed is final, except by replay
            Message(intent.ticket_id, intent.message_id).update(
                actions=[Message.delivery_status.set("pending"), Message.failure_reason.remove()],
                condition=Message.id.exists())
        notifier.redeliver(record["outbox_id"])
        return {"redelivered": record["outbox_id"]}
    image = record.get("dynamodb", {}).get("NewImage", {})
    if letter.source.endswith(InboundMessage.Meta.table_name):
        item = InboundMessage.get(InboundMessage.from_raw_data(image).key, consistent_read=True)
        return {"ticket_id": conversations.process(item)}
    if letter.source.endswith(Outbox.Meta.table_name):
        notifier.redeliver(Outbox.from_raw_data(image).id)
        return {"redelivered": Outbox.from_raw_data(image).id}
    raise Conflict(f"no replay for source {letter.source}")

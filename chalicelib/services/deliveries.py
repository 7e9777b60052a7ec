"""Provider news about messages we sent: delivery_status only ever moves forward."""
from __future__ import annotations

import dataclasses
import logging

from channels.base import StatusUpdate

from ..storage.models import Message
from ..storage.writes import written
from . import ingest, providers

log = logging.getLogger(__name__)
ORDER = ("pending", "queued", "sent", "delivered", "read")
RETRY_DELAYS = (15, 60, 300)   # seconds; our record of a send is normally there within a second


def _earlier(status: str) -> list[str]:
    """Statuses a message may leave for this one (failed is final; read beats delivered)."""
    if status == "failed":
        return ["pending", "queued", "sent"]
    return list(ORDER[:ORDER.index(status)])


def apply(update: StatusUpdate, tries: int = 0) -> bool:
    """Move the message forward; False when we never sent it or it is already further on.

    A provider may call back before the notifier has recorded the id it was handed (or before the
    provider-message index shows it): the update is tried again later, RETRY_DELAYS apart, and
    kept as a dead letter (replayable) only if the message is still unknown after the last try."""
    found = next(iter(Message.by_provider_id.query(update.provider_message_id, limit=1)), None)
    if found is None:
        log.info("status for an unknown message", extra={"provider": update.provider, "status": update.status,
                                                          "tries": tries})
        if tries < len(RETRY_DELAYS):
            providers.retry_later({"status_update": dataclasses.asdict(update), "tries": tries + 1},
                                  RETRY_DELAYS[tries])
        else:   # not sent by us, or our record of it never came: kept for replay, never dropped
            keep(update, f"status for a message we do not know, after {tries} tries")
        return False
    actions = [Message.delivery_status.set(update.status)]
    reason = update.reason or (f"{update.provider} reported it {update.status}" if update.status == "failed" else None)
    if reason:   # the contract: a failed message always says why
        actions.append(Message.failure_reason.set(reason[:500]))
    return written(lambda: Message(found.ticket_id, found.id).update(
        actions=actions, condition=Message.id.exists() & Message.delivery_status.is_in(*_earlier(update.status))))


def keep(update: StatusUpdate, reason: str) -> None:
    ingest.dead_letter(f"status/{update.provider}", reason, {"status_update": dataclasses.asdict(update)})

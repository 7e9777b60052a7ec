"""Provider news about messages we sent: delivery_status only ever moves forward."""
from __future__ import annotations

import dataclasses
import logging

from channels.base import StatusUpdate

from ..storage.models import Message
from ..storage.writes import written
from . import ingest

log = logging.getLogger(__name__)
ORDER = ("pending", "queued", "sent", "delivered", "read")


def _earlier(status: str) -> list[str]:
    """Statuses a message may leave for this one (failed is final; read beats delivered)."""
    if status == "failed":
        return ["pending", "queued", "sent"]
    return list(ORDER[:ORDER.index(status)])


def apply(update: StatusUpdate) -> bool:
    """Move the message forward; False when we never sent it or it is already further on."""
    found = next(iter(Message.by_provider_id.query(update.provider_message_id, limit=1)), None)
    if found is None:  # not sent by us, or ahead of our own write: kept for replay, never dropped
        log.info("status for an unknown message", extra={"provider": update.provider, "status": update.status})
        ingest.dead_letter(f"status/{update.provider}", "status for a message we do not know (yet)",
                           {"status_update": dataclasses.asdict(update)})
        return False
    actions = [Message.delivery_status.set(update.status)]
    if update.reason:
        actions.append(Message.failure_reason.set(update.reason[:500]))
    return written(lambda: Message(found.ticket_id, found.id).update(
        actions=actions, condition=Message.id.exists() & Message.delivery_status.is_in(*_earlier(update.status))))

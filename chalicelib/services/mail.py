"""Inbound mail from SES receipt rules: the SNS action carries the message, the S3 action points at it."""
from __future__ import annotations

import logging
from typing import Any

import channels

from ..errors import ApiError
from ..settings import get_settings
from . import ingest, intake, providers

log = logging.getLogger(__name__)
SOURCE = "email/ses"
AUTHENTICATED_HEADER = "x-ses-dmarc-pass"


def receive_ses(notification: dict[str, Any]) -> intake.Receipt:
    """Store the mail of one SES notification; unparseable mail is dead-lettered, not retried."""
    email = channels.for_provider("email")
    raw = email.from_ses_notification(notification)
    if raw is None:
        bucket, key = email.s3_location(notification)
        raw = providers.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    authenticated = email.sender_authenticated(notification)
    try:
        return intake.store_all(email.normalize(raw, authenticated, get_settings().support_email))
    except ApiError as exc:
        kept = {"x-ses-message-id": str(notification.get("mail", {}).get("messageId")),
                AUTHENTICATED_HEADER: str(authenticated).lower()}  # a replay keeps the verdict
        letter = ingest.reject(SOURCE, exc.message, kept, raw, replayable=True)
        # the reason may quote the sender's address: it stays in the dead letter, out of the logs
        log.warning("inbound mail refused", extra={"code": exc.code, "dead_letter": letter})
        return intake.Receipt()


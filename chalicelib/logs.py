"""Structured JSON logs: one object per line, ids only (no message text, no contacts)."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timezone

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_QUIET = ("twilio.http_client", "botocore", "urllib3", "responses")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def inbound_ref(key: str) -> str:
    """What the logs name an inbound delivery by: ``<channel>#<16 hex>``, a keyed hash of its dedup key.

    The key itself is contact data on some channels (``telegram#<chat id>:<message id>``: a private
    chat's id is the user's; a WhatsApp ``wamid.`` is base64 of the sender's number). The same key
    always gives the same reference, so the log lines of one delivery go together; it is keyed by
    ``JETDESK_SESSION_SECRET``, as an unkeyed hash of a phone number is undone by trying them all.
    To find a stored item's lines, compute its reference with this function."""
    from .settings import get_settings
    channel, _, _ = key.partition("#")
    mac = hmac.new(get_settings().session_secret.encode(), b"jetdesk-log-ref-v1\n" + key.encode(), hashlib.sha256)
    return f"{channel}#{mac.hexdigest()[:16]}"


def configure(level: int = logging.INFO) -> None:
    """JSON on every root handler (adding one if none); provider clients kept quiet."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)

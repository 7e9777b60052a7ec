"""The public help form and the customer's status page: form posts in (answers go out by email).

Only translation: the posted form (urlencoded, or multipart/form-data with one optional
file, parsed by the maintained ``multipart`` package) into fields, and fields into
InboundMessages. Validation is the JSON Schema of the form; storage is the service's.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from chalicelib.domain import contacts
from chalicelib.domain.inbound import Attachment, InboundMessage
from chalicelib.errors import Unprocessable, UnsupportedMediaType

from .base import RawRequest

FORM, MULTIPART = "application/x-www-form-urlencoded", "multipart/form-data"
HONEYPOT = "website"            # hidden from people; bots fill it in
FILE_FIELD = "attachment"


@dataclass
class Posted:
    fields: dict[str, str]
    files: list[Attachment] = field(default_factory=list)


def parse(request: RawRequest) -> Posted:
    """The form's fields (text, stripped) and its non-empty files."""
    import multipart  # on first use (cold starts)

    kind, options = multipart.parse_options_header(request.header("content-type") or "")
    if kind == FORM:
        return Posted({k: v.strip() for k, v in parse_qsl(request.body.decode("utf-8", "replace"),
                                                           keep_blank_values=True)})
    if kind != MULTIPART or not options.get("boundary"):
        raise UnsupportedMediaType(f"post the form as {FORM} or {MULTIPART}")
    posted = Posted({})
    try:
        for part in multipart.MultipartParser(io.BytesIO(request.body), options["boundary"], len(request.body),
                                              charset="utf8"):
            if part.filename is None:
                posted.fields[part.name] = part.value.strip()
            elif part.filename and part.size:
                posted.files.append(Attachment(part.filename[-200:], part.content_type or "application/octet-stream",
                                               part.size, content=part.raw))
    except multipart.MultipartError as exc:
        raise Unprocessable(f"the form is not valid {MULTIPART}: {exc}") from None
    return posted


def is_bot(posted: Posted) -> bool:
    return bool(posted.fields.get(HONEYPOT))


def handle(nonce: str) -> str:
    """The web identity of a form's sender: one per submission (nothing proves who typed it)."""
    return nonce


def normalize(posted: Posted, ticket_id: str) -> InboundMessage:
    """A validated help form: a new ticket under ``ticket_id``, the typed email and booking as unverified."""
    f = posted.fields
    try:
        email = contacts.email(f["email"]).value
    except contacts.InvalidContact as exc:
        raise Unprocessable(f"email: {exc}", [{"path": "/email", "message": str(exc)}]) from None
    typed = [("email", email)] + ([("booking", f["booking_ref"].upper())] if f.get("booking_ref") else [])
    return InboundMessage(
        channel="web", provider="web", provider_message_id=f["nonce"], sender_kind="web", sender=handle(f["nonce"]),
        sender_name=f["name"], subject=f["subject"], text=f["message"], attachments=tuple(posted.files),
        unverified_contacts=tuple(typed), new_ticket_id=ticket_id)


def follow_up(sender: str, ref: str, text: str, nonce: str, attachments: tuple[Attachment, ...] = ()) -> InboundMessage:
    """A message added on the status page: the same web identity, the ticket's ref as its subject."""
    return InboundMessage(channel="web", provider="web", provider_message_id=f"{sender}:{nonce}", sender_kind="web",
                          sender=sender, subject=f"[{ref}]", text=text, attachments=attachments)

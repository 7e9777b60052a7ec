"""The public help form and the customer's status page (channel ``web``).

A form post is stored once per submission id through the same ingestion step as every
channel (``web#<nonce>``); threading, scoring and the confirmation email happen on the
async path like any message. The status page is reached only through a signed link
scoped to one ticket (auth/status_links.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any
from urllib.parse import urlencode

import channels
from channels.base import RawRequest

from .. import clock, validation
from ..auth import status_links
from ..domain import contacts
from ..domain import tickets as rules
from ..errors import Forbidden, NotFound, Unprocessable
from ..settings import get_settings
from ..storage.models import InboundMessage as InboundItem
from ..storage.models import Message, Ticket
from . import customers, ingest, pages, presenters, ratelimit

SOURCE = "web/help"
FORMS_PER_MINUTE = 5            # per client address
FORMS_PER_HOUR_PER_EMAIL = 5    # per typed email address
MESSAGES_PER_MINUTE = 10        # per ticket, on the status page
FORM_PATH = "/help"


def _url(path: str) -> str:
    return get_settings().public_base_url + path


def form() -> pages.Page:
    return pages.form(_url(FORM_PATH), clock.new_id())


def submit(request: RawRequest, client: str) -> pages.Page:
    """Open a ticket from the form; a double submit (same nonce) answers the same ref."""
    ratelimit.hit(f"help-form:{client}", FORMS_PER_MINUTE, 60)
    web = channels.for_provider("web")
    posted = web.parse(request)
    if web.is_bot(posted):
        ingest.reject(SOURCE, "honeypot field filled in", request.headers, request.body, replayable=False)
        return pages.thanks()   # a bot learns nothing from the answer
    try:
        validation.check("help_form", posted.fields)
        email = contacts.email(posted.fields["email"]).value
        if contacts.mailbox(email) == contacts.mailbox(get_settings().support_email):
            raise Unprocessable("this is our own support address: please give yours, so that we can answer you")
    except (Unprocessable, contacts.InvalidContact) as exc:
        reason = getattr(exc, "message", str(exc))
        ingest.reject(SOURCE, reason, request.headers, request.body, replayable=False)
        details = getattr(exc, "details", None) or [{"path": "/email", "message": reason}]
        nonce = posted.fields.get("nonce") or clock.new_id()
        return pages.form(_url(FORM_PATH), nonce, posted.fields, details, "Please check the form.", status=422)
    ratelimit.hit(f"help-email:{hashlib.sha256(email.encode()).hexdigest()[:32]}", FORMS_PER_HOUR_PER_EMAIL, 3600)
    message = web.normalize(posted, clock.new_id())
    ticket_id = message.new_ticket_id
    if not ingest.store(message):
        first = InboundItem.get(message.dedup_key, consistent_read=True).body
        ticket_id = first["new_ticket_id"]
        if (first["subject"], first["text"]) != (message.subject, message.text):
            _resent_changed(message, ticket_id, first["subject"])
    return pages.confirmation(rules.ref_for(ticket_id), email)


def _resent_changed(message, ticket_id: str, first_subject: str) -> None:
    """The same form page sent again with other words (back button, edit, send): not lost, added
    to the ticket it opened, once per content. It is the whole form again under the first one's
    ticket id, so that whichever of the two is threaded first opens the ticket the customer was
    promised (they may reach the stream in either order) and the other joins it."""
    text = message.text if message.subject == first_subject else f"{message.subject}\n\n{message.text}"
    digest = hashlib.sha256(f"{message.subject}\n{message.text}".encode()).hexdigest()[:32]
    ingest.store(dataclasses.replace(message, provider_message_id=f"{message.sender}:{digest}", text=text,
                                     subject=first_subject, new_ticket_id=ticket_id))


def _linked(token: Any) -> tuple[status_links.StatusLink, Ticket]:
    """The ticket a link opens, if the link is genuine, unexpired, and its sender still owns the ticket."""
    link = status_links.verify(get_settings(), token if isinstance(token, str) else None)
    try:
        ticket = Ticket.get(link.ticket_id, consistent_read=True)
    except Ticket.DoesNotExist:
        raise NotFound("we cannot find this ticket yet; try again in a minute") from None
    if customers.find(contacts.Contact("web", link.sender)) != ticket.customer_id:
        raise Forbidden("this link does not open this ticket")
    return link, ticket


def status(token: Any) -> pages.Page:
    link, ticket = _linked(token)
    view = presenters.customer_ticket(ticket, Message.query(ticket.id))
    return pages.status(view, _url(status_links.PATH), token, clock.new_id())


def add_message(request: RawRequest) -> pages.Page:
    """The customer writes on their ticket; stored once per nonce, threaded by the ticket's ref."""
    fields = channels.for_provider("web").parse(request).fields
    link, ticket = _linked(fields.get("token"))
    validation.check("help_message", fields)
    ratelimit.hit(f"help-status:{ticket.id}", MESSAGES_PER_MINUTE, 60)
    ingest.store(channels.for_provider("web").follow_up(link.sender, ticket.ref, fields["message"], fields["nonce"]))
    return pages.message_added(_url(status_links.PATH) + "?" + urlencode({"token": fields["token"]}))

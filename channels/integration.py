"""Integrator events in (signed with X-JetDesk-Signature); ticket events out are the notifier's."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib import clock
from chalicelib.auth.signatures import verify_jetdesk_signature
from chalicelib.domain import contacts, timers
from chalicelib.domain.inbound import InboundMessage, IntegrationEvent
from chalicelib.errors import Unprocessable

from .base import RawRequest, refuses_malformed

CLOCK_SKEW = timedelta(minutes=5)   # as much as a signature's time may be off (JETDESK_SIGNATURE_TOLERANCE: 300 s)


def _not_ahead(occurred_at: str) -> None:
    """An event dated ahead of now (a clock set wrong) would make every later journey or booking
    event of the customer look older than it, so none would apply again: refused at the door."""
    if timers.parse(occurred_at) > clock.now() + CLOCK_SKEW:
        minutes = int(CLOCK_SKEW.total_seconds() // 60)
        raise Unprocessable(f"occurred_at {occurred_at} is in the future "
                            f"(more than {minutes} minutes ahead of our clock)")


def verify(request: RawRequest, settings) -> None:
    verify_jetdesk_signature(settings.jetdesk_signing_secret, request.header("X-JetDesk-Signature"),
                             request.body, settings.signature_tolerance_seconds)


def customer_contacts(customer: dict[str, Any], booking_ref: str | None = None) -> list[contacts.Contact]:
    """Every contact identity an envelope names, best first (external id, email, phone, booking)."""
    found = []
    try:
        if customer.get("external_id"):
            found.append(contacts.handle("external", str(customer["external_id"])))
        if customer.get("email"):
            found.append(contacts.email(customer["email"]))
        if customer.get("phone"):
            found.append(contacts.phone(customer["phone"]))
        if booking_ref:
            found.append(contacts.handle("booking", booking_ref.upper()))
    except contacts.InvalidContact as exc:
        raise Unprocessable(f"customer: {exc}") from None
    if not found:
        raise Unprocessable("customer needs an email, phone, external_id or a booking_ref in data")
    return found


@refuses_malformed("integrator event")
def normalize(envelope: dict[str, Any]) -> list[InboundMessage | IntegrationEvent]:
    """A ticket.create becomes a message on channel 'api'; other types stay events."""
    _not_ahead(envelope["occurred_at"])
    if envelope["type"] == "customer.feedback" and envelope["data"].get("ticket_id") \
            and not any(envelope["customer"].get(k) for k in ("email", "phone", "external_id")):
        # the rated ticket names its customer: all our ticket.* events give an integrator is its id
        return [IntegrationEvent(envelope["id"], envelope["type"], envelope["occurred_at"],
                                 envelope["customer"], envelope["data"], contacts=())]
    found = customer_contacts(envelope["customer"], envelope["data"].get("booking_ref"))
    if envelope["type"] != "ticket.create":
        return [IntegrationEvent(envelope["id"], envelope["type"], envelope["occurred_at"],
                                 envelope["customer"], envelope["data"],
                                 contacts=tuple((c.kind, c.value) for c in found))]
    data = envelope["data"]
    return [InboundMessage(
        channel="api", provider="api", provider_message_id=envelope["id"], sender_kind=found[0].kind,
        sender=found[0].value, text=data["text"], subject=data.get("subject"),
        sender_name=envelope["customer"].get("name"), external_ref=data.get("external_ref"),
        extra_contacts=tuple((c.kind, c.value) for c in found[1:]),
    )]

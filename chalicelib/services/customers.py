"""Finding the customer behind a contact identity, or preparing a new one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

from .. import clock
from ..domain.contacts import Contact
from ..storage.models import Customer, Identity, Ticket, get_together


@dataclass
class Resolution:
    """The customer for a set of contacts, and the identity items still to write."""
    customer: Customer
    is_new: bool
    new_identities: list[Identity] = field(default_factory=list)
    changed: bool = False
    via: Optional[Identity] = None                  # the proven identity that found the customer
    tickets: dict[str, Ticket] = field(default_factory=dict)   # read with the customer (the hint)
    opted_out: Optional[bool] = None   # the contact's SMS consent to record (STOP / START), if it wrote one

    def record_consent(self, opted_out: bool) -> None:
        self.opted_out = opted_out
        for identity in self.new_identities:
            identity.opted_out = opted_out

    def note_ticket(self, ticket_id: str) -> Optional[Identity]:
        """Point the contact's hint at the ticket; the identity to update (the hint, and the consent
        it wrote), if it changed."""
        for identity in self.new_identities:
            identity.ticket_id = ticket_id
        if self.via is None or (self.via.ticket_id == ticket_id and self.opted_out is None):
            return None
        self.via.ticket_id = ticket_id
        return self.via


SHARED_KINDS = ("booking",)   # contacts several customers may give: a booking reference names every passenger

def resolve(contacts: Iterable[Contact], name: Optional[str] = None,
            unverified: Iterable[Contact] = (), with_ticket: bool = True, consistent: bool = False) -> Resolution:
    """One BatchGet over every identity, then one read of the customer when known (with the
    ticket the contact's last message went to, ``with_ticket``, in the same BatchGet).

    Unverified contacts (typed by the customer) are recorded when nobody holds them
    yet, but never used to find a customer: no one joins another's tickets by claiming
    an email address. A contact proven by its channel takes an unverified identity
    over. Verified identities of two customers are never merged. A shared contact (a
    booking holds several passengers) finds its customer only when nothing personal is
    named, and stays with whoever held it first.
    """
    wanted, typed = list(dict.fromkeys(contacts)), [c for c in dict.fromkeys(unverified) if c not in contacts]
    found = {i.identity: i for i in Identity.batch_get([c.identity for c in wanted + typed],
                                                       consistent_read=consistent or None)}
    proven = {k: i for k, i in found.items() if i.verified}
    finders = [c for c in wanted if c.kind not in SHARED_KINDS] or wanted
    known = next((proven[c.identity] for c in finders if c.identity in proven), None)
    prefetched: dict[str, Ticket] = {}
    if known is not None and with_ticket and known.ticket_id:
        got = get_together((Customer, known.customer_id), (Ticket, known.ticket_id))
        customer, ticket = got[(Customer, known.customer_id)], got[(Ticket, known.ticket_id)]
        if customer is None:
            raise Customer.DoesNotExist(f"customer {known.customer_id} of a verified identity")
        prefetched = {ticket.id: ticket} if ticket is not None else {}
        is_new = False
    elif known is not None:
        customer = Customer.get(known.customer_id, consistent_read=True)
        is_new = False
    else:
        customer = Customer(clock.new_id(), created_at=clock.now(), profile={}, journey={})
        is_new = True
    wanted = [c for c in wanted if c.kind not in SHARED_KINDS or c.identity not in proven
              or proven[c.identity].customer_id == customer.id]   # another passenger's booking stays theirs
    before = (customer.name, set(customer.contacts or ()))
    customer.name = customer.name or name
    customer.contacts = set(customer.contacts or ()) | {c.identity for c in wanted}
    missing = [Identity(c.identity, customer_id=customer.id, verified=True) for c in wanted if c.identity not in proven]
    missing += [Identity(c.identity, customer_id=customer.id, verified=False) for c in typed if c.identity not in found]
    return Resolution(customer, is_new, missing,
                      changed=is_new or before != (customer.name, customer.contacts), via=known,
                      tickets=prefetched)


def find(contact: Contact) -> Optional[str]:
    """The customer id behind one contact identity, if any."""
    try:
        return Identity.get(contact.identity).customer_id
    except Identity.DoesNotExist:
        return None

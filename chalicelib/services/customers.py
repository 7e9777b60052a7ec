"""Finding the customer behind a contact identity, or preparing a new one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

from .. import clock
from ..domain.contacts import Contact
from ..storage.models import Customer, Identity


@dataclass
class Resolution:
    """The customer for a set of contacts, and the identity items still to write."""
    customer: Customer
    is_new: bool
    new_identities: list[Identity] = field(default_factory=list)
    changed: bool = False


def resolve(contacts: Iterable[Contact], name: Optional[str] = None) -> Resolution:
    """One BatchGet over every identity, one GetItem for the customer when known."""
    wanted = list(dict.fromkeys(contacts))
    found = {i.identity: i for i in Identity.batch_get([c.identity for c in wanted])}
    known = next((found[c.identity] for c in wanted if c.identity in found), None)
    if known is not None:
        customer = Customer.get(known.customer_id, consistent_read=True)
        is_new = False
    else:
        customer = Customer(clock.new_id(), created_at=clock.now(), profile={}, journey={})
        is_new = True
    before = (customer.name, set(customer.contacts or ()))
    customer.name = customer.name or name
    customer.contacts = set(customer.contacts or ()) | {c.identity for c in wanted}
    missing = [c for c in wanted if c.identity not in found]
    return Resolution(customer, is_new, [Identity(c.identity, customer_id=customer.id) for c in missing],
                      changed=is_new or before != (customer.name, customer.contacts))


def find(contact: Contact) -> Optional[str]:
    """The customer id behind one contact identity, if any."""
    try:
        return Identity.get(contact.identity).customer_id
    except Identity.DoesNotExist:
        return None

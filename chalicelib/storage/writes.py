"""The writes a change carries into its one transaction, by name instead of by tuple shape:
``Put`` an item (``New`` when it must not exist yet), ``Update`` some attributes of one
(counters, pointers) without reading it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite


@dataclass(frozen=True)
class Put:
    item: Model
    condition: Optional[Any] = None

    def into(self, tx: TransactWrite) -> None:
        tx.save(self.item, condition=self.condition)


@dataclass(frozen=True)
class Update:
    model: Model
    actions: list
    condition: Optional[Any] = None

    def into(self, tx: TransactWrite) -> None:
        version = self.model._version_attribute_name
        if version and getattr(self.model, version) is None:
            # an item built from its key or read from an index has no version: PynamoDB would SET
            # it to 1, and a stale copy at 1 would then pass its version check; any number ADDs 1
            setattr(self.model, version, 0)
        tx.update(self.model, actions=self.actions, condition=self.condition, add_version_condition=False)


def New(item: Model) -> Put:  # noqa: N802 - reads as the kind of write it makes
    """A put that never overwrites: on condition that the item's key is free."""
    return Put(item, type(item)._hash_key_attribute().does_not_exist())


def written(write: Callable[[], Any]) -> bool:
    """Make one conditional write (``lambda: item.update(..., condition=...)``): False when its
    condition failed and nothing was written; any other error is raised."""
    try:
        write()
    except PynamoDBException as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _reason_codes(exc: Exception) -> list[Optional[str]]:
    """A cancelled transaction's reason per item, in the order the items went in (PynamoDB sends
    condition checks, deletes, puts, then updates)."""
    return [getattr(r, "code", None) for r in getattr(exc, "cancellation_reasons", None) or []]


# The reasons a transaction item is cancelled that another try, from fresh reads, may get past:
# another writer's change (a condition, a concurrent transaction), throttling, or none (an item
# cancelled only because another one was).
PASSING_REASONS = {None, "ConditionalCheckFailed", "TransactionConflict", "ProvisionedThroughputExceeded",
                   "ThrottlingError"}


def cancelled_for_good(exc: Exception) -> bool:
    """Whether a cancelled transaction can never succeed as it is (an item over the size limit, a
    malformed write, a value that cannot be encoded), as opposed to one another writer's change
    cancelled (conditions, conflicts): any reason not known to pass is for good, so that a write
    that is wrong is not tried again and again as if it had collided."""
    return any(code not in PASSING_REASONS for code in _reason_codes(exc))


def failed_conditions(exc: Exception) -> list[bool]:
    """For a cancelled transaction, whether each item's condition failed."""
    return [code == "ConditionalCheckFailed" for code in _reason_codes(exc)]

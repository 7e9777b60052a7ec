"""Two faults of the emulator (moto 5.2) fixed where it runs: the local stack, the tests, the bench.
Never the app: JetDesk on AWS talks to DynamoDB itself.

1. TransactWriteItems deep-copies every table a transaction touches to be able to roll back,
   and a rollback puts the copies in place of the tables. Two things follow: each transaction
   costs time in proportion to everything ever written (a few hundred messages make one take
   seconds), and a stream reader's shard iterator still points at the replaced table's stream,
   so after any cancelled transaction (a conditional check that failed, as a lost claim race or
   a redelivered message does) it never sees another record of that table: outbox intents
   written afterwards are never delivered. This swaps the backup for a copy of just the items
   the transaction touches (and the stream lengths), restored in place on failure: same items,
   same stream records, same errors, and the stream keeps flowing.
2. Every Query on an index (and every Scan) sorts all of the table's items, and then the
   index's matches again, comparing moto's value wrappers pair by pair (a claim's Query on a
   queue 100,000 deep took 10 s); the same order is had by sorting on the plain values.
3. moto evaluates a request's condition and applies its write without a lock, so two threads
   can both pass ``attribute_not_exists``; DynamoDB applies each request atomically. Each
   DynamoDB request is handled under one lock.
4. Building an item checks the 400 KB limit after every attribute by re-measuring all the
   attributes so far: quadratic in their number (a 26-attribute ticket costs ~350 size
   computations, most of an emulated write). The same limit is checked once on the total.
"""
from __future__ import annotations

import copy
import threading
from contextlib import contextmanager

_installed = False
ITEM_LIMIT = 405000   # moto's own figure for DynamoDB's 400 KB (measured between 409 and 410 KB)


class _TablesAreNotCopied:
    """Stands in for the ``copy`` module inside moto.dynamodb.models during a transaction."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        from moto.dynamodb.models.table import Table
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


@contextmanager
def _shallow_backups():
    import moto.dynamodb.models as models
    models.copy = _TablesAreNotCopied()
    try:
        yield
    finally:
        models.copy = copy


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        touched, streams = [], {}
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            try:
                key = op.get("Key") or {name: op["Item"][name] for name in
                                        (table.hash_key_attr, table.range_key_attr) if name}
                hash_key, range_key = self.get_keys_value(table, key)
            except Exception:  # noqa: BLE001 - the original reports the malformed request
                continue
            current = table.get_item(hash_key, range_key)
            touched.append((table, hash_key, range_key, copy.deepcopy(current)))
            if table.stream_shard is not None:
                streams.setdefault(table.name, (table.stream_shard, len(table.stream_shard.items)))
        with _shallow_backups():
            try:
                return original(self, transact_items)
            except Exception:
                for table, hash_key, range_key, before in reversed(touched):
                    if range_key is None:
                        if before is None:
                            table.items.pop(hash_key, None)
                        else:
                            table.items[hash_key] = before
                    else:
                        if before is None:
                            table.items.get(hash_key, {}).pop(range_key, None)
                            if hash_key in table.items and not table.items[hash_key]:
                                del table.items[hash_key]
                        else:
                            table.items[hash_key][range_key] = before
                for shard, length in streams.values():
                    del shard.items[length:]
                raise

    DynamoDBBackend.transact_write_items = transact_write_items

    from moto.dynamodb.models.table import Table

    def all_items(self):
        items = [item for hash_set in self.items.values()
                 for item in (hash_set.values() if self.range_key_attr else [hash_set])]
        return sorted(items, key=lambda x: (x.hash_key.cast_value, x.range_key.cast_value) if x.range_key
                      else x.hash_key.cast_value)
    Table.all_items = all_items

    def sorted_items(self, hash_key_attrs, range_key_attrs, items):
        names = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda x: tuple(x.attrs[name].cast_value for name in names))
        return items
    Table.sorted_items = sorted_items

    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def item_init(self, hash_key, range_key, attrs):
        self.hash_key, self.range_key = hash_key, range_key
        values = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in values.items()) > ITEM_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, values)   # LimitedSizeDict.__setitem__ would measure everything again
    Item.__init__ = item_init

    from moto.dynamodb.responses import DynamoHandler
    lock, call = threading.Lock(), DynamoHandler.call_action

    def call_action(self):
        with lock:
            return call(self)
    DynamoHandler.call_action = call_action
    _installed = True

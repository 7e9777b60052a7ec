"""DynamoDB requests and capacity units, counted at the botocore layer of one client.

Sizes follow DynamoDB's documented item-size rules (attribute name bytes + value bytes;
numbers ~1 byte per 2 significant digits + 1; lists and maps 3 bytes + 1 per element).
Units, as on-demand bills them:

- writes: ceil(size / 1 KB) per item, size = the larger of the item before and after the
  write; doubled inside TransactWriteItems;
- reads: ceil(size / 4 KB) per item for GetItem/BatchGetItem, per request (summed over the
  items read) for Query/Scan; half for eventually consistent reads (every GSI read);
- GSI writes, ``simple`` rule (the one the targets are stated in): one write per GSI whose
  key attributes are all present in the item written, sized as the item (ALL projection) or
  its keys (KEYS_ONLY); and ``exact`` rule (what DynamoDB does): nothing when the index keys
  and projected attributes did not change, two writes (delete + put) when the index key
  changed, one when the item enters or leaves the index. GSI writes are never doubled by a
  transaction (index propagation is not transactional) — stated as an assumption.

Item sizes before/after a write are read from moto's in-memory tables, outside any timing.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


# ---- sizes ---------------------------------------------------------------------------------

def _number_size(text: str) -> int:
    digits = str(Decimal(text).normalize()).lstrip("-").replace(".", "").lstrip("0")
    if "E" in digits.upper():  # normalize() may give 1E+3
        digits = digits.upper().split("E")[0]
    digits = digits.rstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict) -> int:
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        return _number_size(str(v))
    if kind == "B":
        return len(v) if isinstance(v, (bytes, bytearray)) else len(str(v).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in v)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in v)
    if kind == "BS":
        return sum(len(b) for b in v)
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + 1 + value_size(e) for k, e in v.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Optional[dict]) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


# ---- moto's tables (the state before and after a write) ------------------------------------

class MotoTables:
    def __init__(self, account: str = "123456789012", region: str = "us-east-1") -> None:
        from moto.dynamodb.models import dynamodb_backends
        self.backend = dynamodb_backends[account][region]

    def table(self, name: str):
        return self.backend.get_table(name)

    def item(self, table: str, key: dict) -> Optional[dict]:
        try:
            found = self.backend.get_item(table, key)
        except Exception:  # noqa: BLE001 - a missing table or key reads as no item
            return None
        if found is None:
            return None
        return {k: v.to_regular_json() for k, v in found.attrs.items()}

    def key_of(self, table: str, item: dict) -> dict:
        t = self.table(table)
        names = [t.hash_key_attr] + ([t.range_key_attr] if t.range_key_attr else [])
        return {n: item[n] for n in names if n in item}

    def indexes(self, table: str) -> list[dict]:
        t = self.table(table)
        table_keys = [t.hash_key_attr] + ([t.range_key_attr] if t.range_key_attr else [])
        out = []
        for index in t.global_indexes:
            keys = [k["AttributeName"] for k in index.schema]
            projection = index.projection or {"ProjectionType": "ALL"}
            out.append({"name": index.name, "keys": keys, "table_keys": table_keys,
                        "type": projection.get("ProjectionType", "ALL"),
                        "include": projection.get("NonKeyAttributes", [])})
        return out


def _projected(index: dict, item: dict) -> dict:
    if index["type"] == "ALL":
        return item
    names = set(index["keys"]) | set(index["table_keys"]) | (set(index["include"]) if index["type"] == "INCLUDE"
                                                             else set())
    return {k: v for k, v in item.items() if k in names}


def gsi_writes(indexes: list[dict], old: Optional[dict], new: Optional[dict]) -> tuple[int, int]:
    """(simple rule, exact rule) write units on the table's GSIs for one item write."""
    simple = exact = 0
    for index in indexes:
        written = new if new is not None else old
        if written is not None and all(k in written for k in index["keys"]):
            simple += write_units(item_size(_projected(index, written)))
        in_old = old is not None and all(k in old for k in index["keys"])
        in_new = new is not None and all(k in new for k in index["keys"])
        if in_old and in_new:
            if any(old[k] != new[k] for k in index["keys"]):
                exact += write_units(item_size(_projected(index, old))) + \
                    write_units(item_size(_projected(index, new)))
            elif _projected(index, old) != _projected(index, new):
                exact += write_units(item_size(_projected(index, new)))
        elif in_new:
            exact += write_units(item_size(_projected(index, new)))
        elif in_old:
            exact += write_units(item_size(_projected(index, old)))
    return simple, exact


# ---- the meter ---------------------------------------------------------------------------------

@dataclass
class Tally:
    requests: Counter = field(default_factory=Counter)
    wu: float = 0.0            # table write units (transactions doubled) + GSI writes, simple rule
    wu_exact: float = 0.0      # the same with the exact GSI rule
    ru: float = 0.0
    items_read: int = 0
    lines: list = field(default_factory=list)   # (op, table, what, units) for breakdowns

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.total_requests, "by_operation": dict(self.requests),
                "write_units": round(self.wu, 2), "write_units_exact_gsi": round(self.wu_exact, 2),
                "read_units": round(self.ru, 2), "items_read": self.items_read}

    def breakdown(self) -> list[dict[str, Any]]:
        merged: dict[tuple, float] = defaultdict(float)
        for op, table, what, units in self.lines:
            merged[(op, table, what)] += units
        return [{"operation": op, "table": table, "what": what, "units": round(u, 2)}
                for (op, table, what), u in sorted(merged.items(), key=lambda kv: -kv[1])]


class Meter:
    """Counts every DynamoDB request of one botocore client into the current Tally."""

    def __init__(self, client, tables: Optional[MotoTables] = None) -> None:
        self.client = client
        self.tables = tables or MotoTables()
        self.tally = Tally()
        self._index_cache: dict[str, list[dict]] = {}

    def start(self) -> "Meter":
        events = self.client.meta.events
        events.register("before-parameter-build.dynamodb", self._before)
        events.register("after-call.dynamodb", self._after)
        return self

    def stop(self) -> None:
        events = self.client.meta.events
        events.unregister("before-parameter-build.dynamodb", self._before)
        events.unregister("after-call.dynamodb", self._after)

    def reset(self) -> Tally:
        done, self.tally = self.tally, Tally()
        return done

    def _indexes(self, table: str) -> list[dict]:
        if table not in self._index_cache:
            self._index_cache[table] = self.tables.indexes(table)
        return self._index_cache[table]

    # the writes of one request, with the items as they are before it runs
    def _writes(self, op: str, params: dict) -> list[dict]:
        writes = []
        if op == "PutItem":
            writes.append({"table": params["TableName"], "new": params["Item"], "tx": False})
        elif op in ("UpdateItem", "DeleteItem"):
            writes.append({"table": params["TableName"], "key": params["Key"], "tx": False,
                           "delete": op == "DeleteItem"})
        elif op == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    if "PutRequest" in r:
                        writes.append({"table": table, "new": r["PutRequest"]["Item"], "tx": False})
                    else:
                        writes.append({"table": table, "key": r["DeleteRequest"]["Key"], "tx": False,
                                       "delete": True})
        elif op == "TransactWriteItems":
            for entry in params["TransactItems"]:
                (kind, spec), = entry.items()
                if kind == "Put":
                    writes.append({"table": spec["TableName"], "new": spec["Item"], "tx": True})
                elif kind in ("Update", "Delete"):
                    writes.append({"table": spec["TableName"], "key": spec["Key"], "tx": True,
                                   "delete": kind == "Delete"})
                else:  # ConditionCheck: billed as a transactional write of the item checked
                    writes.append({"table": spec["TableName"], "key": spec["Key"], "tx": True, "check": True})
        for w in writes:
            key = w.get("key") or self.tables.key_of(w["table"], w["new"])
            w["key"] = key
            w["old"] = self.tables.item(w["table"], key)
        return writes

    def _before(self, params, model, context, **_):
        op = model.name
        context["bench_op"] = op
        if op in WRITE_OPS:
            context["bench_writes"] = self._writes(op, params)
        context["bench_params"] = params

    def _after(self, http_response, parsed, model, context, **_):
        op = model.name
        tally = self.tally
        tally.requests[op] += 1
        params = context.get("bench_params", {})
        failed = "Error" in parsed and parsed["Error"].get("Code")
        if op in WRITE_OPS:
            for w in context.get("bench_writes", []):
                table = w["table"]
                new = None if w.get("delete") else self.tables.item(table, w["key"])
                if failed and not w.get("check"):
                    new = w["old"]  # nothing changed; a refused conditional write is still billed
                size = max(item_size(w["old"]), item_size(new))
                units = write_units(size) * (2 if w["tx"] else 1)
                label = _label(table, w)
                tally.lines.append((op, table, label, units))
                simple, exact = (0, 0) if w.get("check") or failed else gsi_writes(self._indexes(table), w["old"],
                                                                                     new)
                if simple or exact:
                    tally.lines.append((op, table, label + " (GSIs)", simple))
                tally.wu += units + simple
                tally.wu_exact += units + exact
        elif op == "GetItem":
            units = read_units(item_size(parsed.get("Item")), bool(params.get("ConsistentRead")))
            tally.ru += units
            tally.items_read += 1 if parsed.get("Item") else 0
            tally.lines.append((op, params["TableName"], "get", units))
        elif op == "BatchGetItem":
            for table, spec in params["RequestItems"].items():
                consistent = bool(spec.get("ConsistentRead"))
                found = parsed.get("Responses", {}).get(table, [])
                missing = max(0, len(spec["Keys"]) - len(found))
                units = sum(read_units(item_size(i), consistent) for i in found) + \
                    missing * read_units(0, consistent)
                tally.ru += units
                tally.items_read += len(found)
                tally.lines.append((op, table, f"batch get of {len(spec['Keys'])}", units))
        elif op in ("Query", "Scan"):
            items = parsed.get("Items", [])
            consistent = bool(params.get("ConsistentRead")) and not params.get("IndexName")
            units = read_units(sum(item_size(i) for i in items), consistent)
            tally.ru += units
            tally.items_read += int(parsed.get("ScannedCount", len(items)))
            tally.lines.append((op, params["TableName"], params.get("IndexName") or "table", units))


def _label(table: str, write: dict) -> str:
    short = table.split("-", 2)[-1] if table.count("-") >= 2 else table
    what = "check" if write.get("check") else "delete" if write.get("delete") else \
        ("update" if write["old"] is not None else "insert")
    return f"{short} {what}"

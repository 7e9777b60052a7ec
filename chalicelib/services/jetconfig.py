"""The JET configuration in force: packaged defaults until a supervisor saves a new version.

Versions are kept (audit); every container re-reads the current one at most every
CACHE_SECONDS, so a change reaches all scoring within that time.
"""
from __future__ import annotations

import re
import time
from typing import Any, Optional

from .. import clock, validation
from ..config import DEFAULT_JET
from ..errors import Conflict, Unprocessable
from ..storage.models import Queue, Setting
from ..storage.writes import written

CACHE_SECONDS = 30
CURRENT = "jet"
_cache: dict[str, Any] = {"at": 0.0, "config": None}


def check(config: dict[str, Any]) -> dict[str, Any]:
    """Schema first, then what a schema cannot say; raises Unprocessable with every problem."""
    errors = [{"path": "/" + "/".join(map(str, e.absolute_path)), "message": e.message}
              for e in validation.validator("jet_config").iter_errors(config)]
    if not errors:
        errors += _semantics(config)
    if errors:
        raise Unprocessable("the JET configuration is not valid", errors)
    return config


def _semantics(config: dict[str, Any]) -> list[dict[str, str]]:
    problems = []
    if abs(sum(config["weights"].values()) - 1.0) > 1e-6:
        problems.append({"path": "/weights", "message": "weights must add up to 1"})
    names = [tier for tier, _ in config["bands"]]
    if len(set(names)) != len(names):
        problems.append({"path": "/bands", "message": "each tier (P1–P4) names one band"})
    floors = [floor for _, floor in config["bands"]]
    if floors != sorted(floors, reverse=True) or floors[-1] != 0:
        problems.append({"path": "/bands", "message": "bands go from the highest floor down to 0"})
    missing = {tier for tier, _ in config["bands"]} - set(config["sla_first_response_minutes"])
    if missing:
        problems.append({"path": "/sla_first_response_minutes", "message": f"no target for {sorted(missing)}"})
    missing = {tier for tier, _ in config["bands"]} - set(config.get("sla_resolution_minutes", {}))
    if "sla_resolution_minutes" in config and missing:
        problems.append({"path": "/sla_resolution_minutes", "message": f"no target for {sorted(missing)}"})
    if config["routes"][-1]["when"]:
        problems.append({"path": "/routes", "message": "the last route must be the default (empty when)"})
    if config["time_pressure_hours"]["urgent"] >= config["time_pressure_hours"]["horizon"]:
        problems.append({"path": "/time_pressure_hours", "message": "urgent must be below horizon"})
    return problems + _bad_phrases(config)


def _bad_phrases(config: dict[str, Any]) -> list[dict[str, str]]:
    """Intent phrases are patterns (``jet.recognise_intent``): one that does not compile would fail
    the scoring of every message once saved."""
    problems = []
    for i, (_, phrases) in enumerate(config["intents"]):
        for j, phrase in enumerate(phrases):
            try:
                re.compile(rf"\b{phrase}\b")
            except re.error as exc:
                problems.append({"path": f"/intents/{i}/1/{j}", "message": f"not a valid pattern: {exc}"})
    return problems


def _unknown_queues(config: dict[str, Any]) -> list[dict[str, str]]:
    named = {"/escalation_queue": config.get("escalation_queue")}
    for i, route in enumerate(config["routes"]):
        named[f"/routes/{i}/queue"] = route["queue"]
        for j, step in enumerate(route.get("escalate", [])):
            named[f"/routes/{i}/escalate/{j}/queue"] = step["queue"]
    names = {name for name in named.values() if name}
    found = {queue.name for queue in Queue.batch_get(list(names))} if names else set()
    return [{"path": path, "message": f"no queue {name!r}"} for path, name in named.items()
            if name and name not in found]


def current() -> dict[str, Any]:
    if _cache["config"] is None or time.monotonic() - _cache["at"] > CACHE_SECONDS:
        try:
            _cache["config"] = Setting.get(CURRENT).value
        except Setting.DoesNotExist:
            _cache["config"] = DEFAULT_JET
        _cache["at"] = time.monotonic()
    return _cache["config"]


def forget() -> None:
    _cache["config"] = None


def read() -> dict[str, Any]:
    try:
        item = Setting.get(CURRENT, consistent_read=True)
        return {"config": item.value, "version": item.value["version"], "updated_by": item.updated_by,
                "updated_at": clock.iso(item.updated_at)}
    except Setting.DoesNotExist:
        return {"config": DEFAULT_JET, "version": DEFAULT_JET["version"], "updated_by": None, "updated_at": None}


def save(who: str, config: dict[str, Any], expected_version: Optional[int] = None) -> dict[str, Any]:
    """A new version (audited as its own item); refused if someone saved in between, or if it
    sends tickets to a queue that does not exist (nobody could ever claim them there)."""
    check(config)
    unknown = _unknown_queues(config)
    if unknown:
        raise Unprocessable("the JET configuration names queues that do not exist", unknown)
    base = read()["version"]
    if expected_version is not None and expected_version != base:
        raise Conflict(f"the configuration is at version {base}, not {expected_version}")
    version, now = base + 1, clock.now()
    config = {**config, "version": version}
    if not written(lambda: Setting(f"{CURRENT}#v{version}", value=config, updated_by=who, updated_at=now).save(
            condition=Setting.key.does_not_exist())):
        raise Conflict("someone saved a new version at the same time; read it and try again")
    Setting(CURRENT, value=config, updated_by=who, updated_at=now).save()
    forget()
    return read()

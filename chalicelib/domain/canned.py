"""Canned responses without storage: their placeholders, the values a ticket gives them, and filling.

A template names its placeholders in braces (``{customer_name}``, ``{ref}``, ``{flight}``,
``{new_departure}``); ``{{`` and ``}}`` are literal braces. Filling is one pass over the
template: a value is inserted as it is and never read again as a template, and values are
cleaned first (no tags, angle brackets, braces or control characters), so a customer named
``{ref}`` or ``<script>`` can inject neither a placeholder nor markup.
"""
from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

from . import safe_text, timers

PLACEHOLDERS = ("customer_name", "ref", "flight", "new_departure")
GENERAL = "general"           # the intent of a response that fits any ticket
VALUE_MAX = 100
_PASSED = ("departed", "arrived")


class TemplateError(ValueError):
    """A template that names unknown placeholders or is malformed; ``details`` says where."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        super().__init__("; ".join(d["message"] for d in details))
        self.details = details


def placeholders(text: str) -> list[str]:
    """The placeholders a template uses, in order of first use; TemplateError if any is not ours."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:   # a lone "{" or "}"
        raise TemplateError([{"path": "/text", "message": f"{exc}: write {{{{ or }}}} for a literal brace"}]) from None
    found, bad = [], []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            bad.append("{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
        elif name not in found:
            found.append(name)
    if bad:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise TemplateError([{"path": "/text", "message": f"unknown placeholder {b}; use {known}"}
                             for b in dict.fromkeys(bad)])
    return found


def clean(value: Any) -> str:
    """A value safe to put in a reply (safe_text.one_line), at most VALUE_MAX characters."""
    return safe_text.one_line(value, VALUE_MAX)


def fill(text: str, values: Mapping[str, Optional[str]]) -> tuple[str, list[str]]:
    """The template with its placeholders filled, and the placeholders it had no value for (those
    stay in the text, braces and all, for the agent to complete)."""
    placeholders(text)
    out, missing = [], []
    for literal, name, _, _ in string.Formatter().parse(text):
        out.append(literal)
        if name is None:
            continue
        value = clean(values.get(name) or "")
        if value:
            out.append(value)
        else:
            out.append("{" + name + "}")
            if name not in missing:
                missing.append(name)
    return "".join(out), missing


def next_segment(journey: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """The segment a support answer is about: the earliest one not yet flown (departed or arrived)."""
    ahead = [(timers.instant(s.get("scheduled_departure")), n, s)
             for n, s in enumerate(journey.get("segments") or ()) if s.get("status") not in _PASSED]
    # by the time it leaves, not its text (offsets differ); a segment without a time comes last
    return min(ahead, key=lambda a: (a[0] is None, a[0] or datetime.min.replace(tzinfo=timezone.utc), a[1]))[2] \
        if ahead else None


def new_departure(segment: Mapping[str, Any]) -> Optional[str]:
    """When the segment leaves now: its scheduled time plus any delay, as ``2026-12-02 17:10 UTC``
    (none for a cancelled flight: the agent writes the rebooking)."""
    scheduled = segment.get("scheduled_departure")
    if not scheduled or segment.get("status") == "cancelled":
        return None
    at = timers.instant(scheduled)
    if at is None:
        return None
    at += timedelta(minutes=int(segment.get("delay_minutes") or 0))
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def values_for(customer_name: Optional[str], ref: str, journey: Mapping[str, Any]) -> dict[str, Any]:
    """What a ticket and its customer give the placeholders."""
    segment = next_segment(journey or {}) or {}
    return {"customer_name": customer_name, "ref": ref, "flight": segment.get("flight"),
            "new_departure": new_departure(segment) if segment else None}

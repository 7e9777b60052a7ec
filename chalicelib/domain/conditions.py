"""The ``when`` of routing rules and recommendations: every given test must hold."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional


@dataclass(frozen=True)
class Context:
    intent: str
    tier: str = ""
    channel: str = ""
    language: Optional[str] = None
    indicators: Mapping[str, Any] = field(default_factory=dict)   # key → object with .value and .reason


def matches(when: Mapping[str, Any], ctx: Context) -> bool:
    for key, wanted in (("intent", ctx.intent), ("channel", ctx.channel), ("language", ctx.language),
                        ("tier", ctx.tier)):
        if key in when and wanted not in when[key]:
            return False
    if "indicator" in when:
        indicator = ctx.indicators.get(when["indicator"])
        if indicator is None:
            return False
        if "at_least" in when and indicator.value < when["at_least"]:
            return False
        if "reason_contains" in when and when["reason_contains"] not in indicator.reason:
            return False
    return True

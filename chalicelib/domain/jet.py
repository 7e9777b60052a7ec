"""JET priority: Status = W1·P·J + W2·P·E + W3·P·T, with six explained indicators.

Pure functions of the facts handed in; see docs/JET.md for the formulas.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Optional, Sequence

from . import sentiment, timers
from .conditions import Context, matches

INDICATORS = ("time_pressure", "disruption", "mood", "effort", "value", "care_needs")


@dataclass(frozen=True)
class Facts:
    """Everything the score may use, gathered by the service layer."""
    now: datetime
    created_at: datetime
    texts: Sequence[str] = ()          # the customer's recent messages, newest last
    language: Optional[str] = None
    profile: dict[str, Any] = field(default_factory=dict)
    journey: dict[str, Any] = field(default_factory=dict)
    inbound_count: int = 1
    channels_used: int = 1
    intent: Optional[str] = None       # known intent, else recognised from texts
    agent_emotions: Sequence[str] = ()  # the agents' live readings, newest last
    ratings: Sequence[dict] = ()       # the customer's stage ratings [{stage, rating}], newest last
    channel: str = ""                  # the ticket's channel, for rules that test it
    bot_answers: int = 0               # answers the bot gave before a person took over


@dataclass(frozen=True)
class Indicator:
    key: str
    value: float
    reason: str

    @property
    def level(self) -> str:
        return "high" if self.value >= 0.66 else "medium" if self.value >= 0.33 else "low"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": round(self.value, 3), "level": self.level, "reason": self.reason}


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def _either(a: float, b: float) -> float:
    """Probabilistic OR: rises with either input, never above 1."""
    return 1 - (1 - a) * (1 - b)


def recognise_intent(texts: Sequence[str], config: dict[str, Any]) -> str:
    text = " ".join(texts).lower()
    for intent, phrases in config["intents"]:
        if any(re.search(rf"\b{p}\b", text) for p in phrases):
            return intent
    return "other"


def _departure(segment: dict[str, Any]) -> Optional[datetime]:
    """When a segment leaves: its scheduled time, later by its delay (a delayed flight whose
    scheduled time has passed has not left)."""
    scheduled = timers.instant(segment.get("scheduled_departure"))
    return scheduled + timedelta(minutes=_minutes(segment)) if scheduled else None


def _minutes(segment: dict[str, Any]) -> int:
    return int(segment.get("delay_minutes") or 0)


def time_pressure(f: Facts, config: dict[str, Any]) -> Indicator:
    upcoming = [(t, s) for s in f.journey.get("segments", [])
                if (t := _departure(s)) and t > f.now and s.get("status") not in ("departed", "arrived")]
    if not upcoming:
        return Indicator("time_pressure", 0.0, "no upcoming departure known")
    when, seg = min(upcoming, key=lambda p: p[0])
    hours = (when - f.now).total_seconds() / 3600
    urgent, horizon = config["time_pressure_hours"]["urgent"], config["time_pressure_hours"]["horizon"]
    value = _clamp(1 - (hours - urgent) / (horizon - urgent))
    late = f" (delayed {_minutes(seg)} min)" if _minutes(seg) else ""
    return Indicator("time_pressure", value, f"{seg.get('flight', 'next flight')} departs in {hours:.1f} h{late}")


BAGGAGE = {"lost": 0.7, "delayed": 0.5, "damaged": 0.4}  # a baggage tracer's word on a segment's bags


def disruption(f: Facts, intent: str) -> Indicator:
    worst = Indicator("disruption", 0.0, "no disruption known")
    for seg in f.journey.get("segments", []):
        flight, status = seg.get("flight", "a flight"), seg.get("status")
        delay, bags = int(seg.get("delay_minutes") or 0), seg.get("baggage_status")
        candidates = [
            (status == "cancelled", 1.0, f"{flight} is cancelled"),
            (status == "diverted", 0.9, f"{flight} was diverted"),
            (bool(seg.get("connection_at_risk")), 0.8, f"connection after {flight} is at risk"),
            # the integrator's word "delayed" counts before it knows by how long
            (delay > 0 or status == "delayed", _clamp(0.2 + delay / 300),
             f"{flight} is delayed {delay} min" if delay else f"{flight} is delayed"),
            (bags in BAGGAGE, BAGGAGE.get(bags, 0.0), f"baggage from {flight} is {bags}"),
        ]
        for hit, value, reason in candidates:
            if hit and value > worst.value:
                worst = Indicator("disruption", value, reason)
    if worst.value == 0 and intent in ("cancellation", "missed_connection", "delay"):
        return Indicator("disruption", 0.6, f"customer reports a {intent.replace('_', ' ')} (not yet confirmed)")
    return worst


EMOTIONS = {"calm": 0.0, "anxious": 0.5, "frustrated": 0.75, "angry": 1.0}
# How much each signal counts when several are known: the agent's live reading most.
MOOD_WEIGHTS = {"agent": 0.5, "text": 0.3, "rating": 0.2}


def _text_mood(f: Facts) -> Optional[tuple[float, str]]:
    scores = [c for t in f.texts[-3:] if (c := sentiment.compound(t, f.language)) is not None]
    if not scores:
        return None
    worst = min(scores)
    value = _clamp(-worst)
    word = "very upset" if value >= 0.66 else "upset" if value >= 0.33 else "calm"
    return value, f"messages read {word} (sentiment {worst:+.2f})"


def mood(f: Facts) -> Indicator:
    signals = {}
    if (text := _text_mood(f)) is not None:
        signals["text"] = text
    if f.agent_emotions and f.agent_emotions[-1] in EMOTIONS:
        signals["agent"] = (EMOTIONS[f.agent_emotions[-1]], f"agent reads them as {f.agent_emotions[-1]}")
    if f.ratings:
        last = f.ratings[-1]
        signals["rating"] = ((5 - int(last["rating"])) / 4, f"rated {last['stage']} {last['rating']}/5")
    if not signals:
        lang = f.language or "unknown"
        return Indicator("mood", 0.0, f"neutral: no sentiment model for language '{lang}'"
                         if f.texts else "neutral: no message text yet")
    total = sum(MOOD_WEIGHTS[k] for k in signals)
    value = sum(MOOD_WEIGHTS[k] * v for k, (v, _) in signals.items()) / total
    return Indicator("mood", _clamp(value), "; ".join(reason for _, reason in signals.values()))


def effort(f: Facts) -> Indicator:
    repeats = max(0, f.inbound_count - 1)
    switches = max(0, f.channels_used - 1)
    waited_h = max(0.0, (f.now - f.created_at).total_seconds() / 3600)
    value = _clamp(0.15 * repeats + 0.25 * switches + 0.05 * waited_h + 0.1 * f.bot_answers)
    parts = [f"{repeats} repeat contact(s)", f"{switches} channel switch(es)", f"waited {waited_h:.1f} h"]
    if f.bot_answers:
        parts.append(f"{f.bot_answers} bot answer(s) before a person")
    return Indicator("effort", value, ", ".join(parts))


def value_indicator(f: Facts, config: dict[str, Any]) -> Indicator:
    tier = f.profile.get("loyalty_tier") or "none"
    fare = f.profile.get("fare_class")
    tv = config["value"]["loyalty_tier"].get(tier, 0.0)
    fv = config["value"]["fare_class"].get(fare, 0.0) if fare else 0.0
    if not tv and not fare:
        return Indicator("value", 0.0, "no loyalty tier or fare class known")
    return Indicator("value", max(tv, fv), f"loyalty {tier}, fare {fare or 'unknown'}")


def care_needs(f: Facts, config: dict[str, Any]) -> Indicator:
    codes = [c for c in f.profile.get("special_services", []) if c in config["care"]]
    if not codes:
        return Indicator("care_needs", 0.0, "no special assistance requested")
    return Indicator("care_needs", max(config["care"][c] for c in codes), "needs " + ", ".join(codes))


@dataclass(frozen=True)
class Score:
    score: float
    tier: str
    priority: float
    intent: str
    journey: float
    experience: float
    ticket: float
    weights: dict[str, float]
    indicators: tuple[Indicator, ...]
    recommendations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 1), "tier": self.tier, "priority": self.priority,
            "intent": self.intent, "journey": round(self.journey, 3),
            "experience": round(self.experience, 3), "ticket": round(self.ticket, 3),
            "weights": dict(self.weights), "indicators": [i.to_dict() for i in self.indicators],
            "recommendations": list(self.recommendations),
        }


def score(f: Facts, config: dict[str, Any]) -> Score:
    intent = f.intent or recognise_intent(f.texts, config)
    ind = {i.key: i for i in (time_pressure(f, config), disruption(f, intent), mood(f), effort(f),
                              value_indicator(f, config), care_needs(f, config))}
    j = _either(ind["time_pressure"].value, ind["disruption"].value)
    e = _either(ind["mood"].value, ind["effort"].value)
    t = _either(ind["value"].value, ind["care_needs"].value)
    w = config["weights"]
    p = config["priorities"].get(intent, config["priorities"]["other"])
    status = 100 * (w["journey"] * p * j + w["experience"] * p * e + w["ticket"] * p * t)
    tier = next(name for name, floor in config["bands"] if status >= floor)
    ctx = Context(intent=intent, tier=tier, channel=f.channel, language=f.language, indicators=ind)
    recs = tuple(rule["text"] for rule in config["recommendations"] if matches(rule["when"], ctx))
    return Score(status, tier, p, intent, j, e, t, dict(w),
                 tuple(ind[k] for k in INDICATORS), recs)

"""The bot's rules, with no storage: which intent a message asks, what to answer, when people take over.

The knowledge base (``config/knowledge.json``) holds, per intent and language, the patterns
that recognise a question and the answers, most specific first: the first answer whose
``needs`` are all known from the customer's booking is used. Values are filled in one pass
and made plain text first, so a booking field can never add a placeholder or markup.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional, Sequence

from . import safe_text, timers
from .conditions import Context, matches

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
VARIABLES = ("ref", "booking_ref", "fare", "allowance", "flight", "origin", "destination", "departure",
             "check_in_opens")
BOOKING_REF = re.compile(r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{6}\b")
VALUE_LIMIT = 64


class InvalidKnowledge(ValueError):
    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['message']}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Decision:
    """What the bot does with one customer message: ``answer`` (with ``intent`` and ``text``),
    ``close`` (the customer is done), ``handover`` (with ``reason``), or ``none`` (not the bot's)."""
    action: str
    intent: Optional[str] = None
    text: Optional[str] = None
    reason: Optional[str] = None
    asks: Optional[str] = None
    booking_ref: Optional[str] = None


def problems(kb: Mapping[str, Any]) -> list[dict[str, str]]:
    """What a schema cannot say: patterns compile, placeholders are known and promised by ``needs``."""
    found = []

    def check_text(path: str, text: str, allowed: set[str]) -> None:
        names = PLACEHOLDER.findall(text)
        if "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text):
            found.append({"path": path, "message": "braces only around a placeholder name"})
        for name in names:
            if name not in VARIABLES:
                found.append({"path": path, "message": f"unknown placeholder {{{name}}}"})
            elif name not in allowed:
                found.append({"path": path, "message": f"{{{name}}} is used but not in needs"})

    for group in ("handover_words", "thanks_words"):
        for lang, words in kb[group].items():
            found += _bad_patterns(f"/{group}/{lang}", words)
    for name, texts in kb["texts"].items():
        for lang, text in texts.items():
            check_text(f"/texts/{name}/{lang}", text, {"ref"})
    for intent, entry in kb["intents"].items():
        for lang, words in entry["patterns"].items():
            found += _bad_patterns(f"/intents/{intent}/patterns/{lang}", words)
        for lang, answers in entry["answers"].items():
            for n, answer in enumerate(answers):
                path = f"/intents/{intent}/answers/{lang}/{n}"
                unknown = set(answer["needs"]) - set(VARIABLES)
                if unknown:
                    found.append({"path": path + "/needs", "message": f"unknown variables {sorted(unknown)}"})
                check_text(path + "/text", answer["text"], set(answer["needs"]) | {"ref"})
            if answers[-1]["needs"]:
                found.append({"path": f"/intents/{intent}/answers/{lang}",
                              "message": "the last answer must need nothing (it is the fallback)"})
    return found


def _bad_patterns(path: str, words: Sequence[str]) -> list[dict[str, str]]:
    out = []
    for n, word in enumerate(words):
        try:
            re.compile(word)
        except re.error as exc:
            out.append({"path": f"{path}/{n}", "message": f"not a regular expression: {exc}"})
    return out


def _said(text: str, words_by_language: Mapping[str, Sequence[str]]) -> bool:
    lowered = (text or "").lower()
    return any(re.search(rf"(?<!\w)(?:{w})(?!\w)", lowered) for words in words_by_language.values() for w in words)


def intent_of(text: str, kb: Mapping[str, Any]) -> Optional[str]:
    """The first intent of the knowledge base whose patterns (in any of its languages) the text matches."""
    for intent, entry in kb["intents"].items():
        if _said(text, entry["patterns"]):
            return intent
    return None


def wants_person(text: str, kb: Mapping[str, Any]) -> bool:
    return _said(text, kb["handover_words"])


def is_thanks(text: str, kb: Mapping[str, Any]) -> bool:
    """Thanks or "that's all", and nothing else asked: short, and no question in it."""
    return len(text or "") <= 80 and "?" not in text and _said(text, kb["thanks_words"])


def booking_ref_in(text: str) -> Optional[str]:
    """A booking reference (PNR) the customer typed: 6 letters and digits, at least one of each."""
    found = BOOKING_REF.search((text or "").upper())
    return found.group(0) if found else None


def people_only(ctx: Context, kb: Mapping[str, Any]) -> Optional[str]:
    """Why this ticket must go to people whatever it asks (its JET tier or an indicator), or None."""
    if ctx.tier not in kb["tiers"]:
        return f"JET {ctx.tier}"
    for rule in kb.get("people_only", ()):
        if matches(rule, ctx):
            return f"{rule['indicator']}: {ctx.indicators[rule['indicator']].reason}"
    return None


def plain(value: Any) -> str:
    """A value as plain, one-line text (safe_text.one_line), at most VALUE_LIMIT characters."""
    return safe_text.one_line(value, VALUE_LIMIT)


def fill(template: str, values: Mapping[str, str]) -> str:
    """One pass over the template's placeholders; what a value contains is never read as a placeholder."""
    return PLACEHOLDER.sub(lambda m: plain(values.get(m.group(1), "")), template)


def language_of(kb_texts: Mapping[str, Any], language: Optional[str]) -> str:
    return language if language in kb_texts else "en"


def answer(intent: str, language: Optional[str], values: Mapping[str, str], kb: Mapping[str, Any]) -> Decision:
    """The first answer of the intent, in the customer's language, whose variables are all known."""
    answers = kb["intents"][intent]["answers"]
    for option in answers[language_of(answers, language)]:
        if all(values.get(name) for name in option["needs"]):
            return Decision("answer", intent=intent, text=fill(option["text"], values), asks=option.get("asks"))
    raise AssertionError("the knowledge base's last answer needs nothing")  # checked on load


def text(name: str, language: Optional[str], values: Mapping[str, str], kb: Mapping[str, Any]) -> str:
    texts = kb["texts"][name]
    return fill(texts[language_of(texts, language)], values)


def first_turn(message: str, ctx: Context, kb: Mapping[str, Any]) -> Optional[str]:
    """The intent the bot answers on a new ticket, or None when people should have it from the start."""
    if people_only(ctx, kb) or wants_person(message, kb):
        return None
    return intent_of(message, kb)


def next_turn(message: str, ctx: Context, state: Mapping[str, Any], kb: Mapping[str, Any]) -> Decision:
    """A follow-up on a ticket the bot holds: answer again, close, or hand over to people."""
    why = people_only(ctx, kb)
    if why:
        return Decision("handover", reason=f"rose to {why}")
    if wants_person(message, kb):
        return Decision("handover", reason="asked for a person")
    typed = booking_ref_in(message) if state.get("awaiting") == "booking_ref" else None
    # a typed booking reference answers the question that asked for it: the last answer's, not the
    # ticket's first intent (kept in "intent" for the counters)
    intent = intent_of(message, kb) or ((state.get("last_intent") or state.get("intent")) if typed else None)
    if intent is None:
        if is_thanks(message, kb):
            return Decision("close", reason="the customer said thanks")
        return Decision("handover", reason="the bot could not match the message")
    if int(state.get("answers", 0)) >= kb["max_answers"]:
        return Decision("handover", reason=f"the bot answered {state.get('answers')} times already")
    return Decision("answer", intent=intent, booking_ref=typed)


def values_for(ref: str, profile: Mapping[str, Any], journey: Mapping[str, Any], typed_ref: Optional[str],
               language: Optional[str], now: datetime, kb: Mapping[str, Any]) -> dict[str, str]:
    """The variables known for this customer: their booking (``booking.updated``), their next flight
    (``journey.updated``) and a booking reference they typed."""
    values = {"ref": ref}
    booking_ref = typed_ref or profile.get("booking_ref") or journey.get("booking_ref")
    if booking_ref:
        values["booking_ref"] = booking_ref
    fare = profile.get("fare_class")
    if fare in kb.get("fares", {}):
        values["fare"] = kb["fares"][fare][language_of(kb["fares"][fare], language)]
    if fare in kb.get("allowances", {}):
        values["allowance"] = kb["allowances"][fare][language_of(kb["allowances"][fare], language)]
    segment = next_segment(journey, now)
    if segment is not None:
        when = timers.instant(segment["scheduled_departure"])
        values.update(flight=segment.get("flight", ""), origin=segment.get("origin", ""),
                      destination=segment.get("destination", ""), departure=_shown(when),
                      check_in_opens=_shown(when - timedelta(hours=kb.get("check_in_opens_hours", 24))))
    return {k: plain(v) for k, v in values.items() if v}


def next_segment(journey: Mapping[str, Any], now: datetime) -> Optional[Mapping[str, Any]]:
    upcoming = [s for s in journey.get("segments", ()) if (t := timers.instant(s.get("scheduled_departure")))
                and t > now and s.get("status") not in ("departed", "arrived", "cancelled")]
    return min(upcoming, key=lambda s: timers.instant(s["scheduled_departure"])) if upcoming else None


def _shown(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M") + (" UTC" if when.utcoffset() == timedelta(0) else when.strftime(" %z"))

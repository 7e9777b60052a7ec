"""Packaged defaults: the JET configuration a stage starts with until a supervisor changes it."""
from __future__ import annotations

import json
from pathlib import Path

DEFAULT_JET: dict = json.loads((Path(__file__).parent / "jet.json").read_text())
MESSAGES: dict = json.loads((Path(__file__).parent / "messages.json").read_text())


def message(name: str, language: str | None, **values: str) -> str:
    """A customer-facing text in the customer's language, English when we have none."""
    texts = MESSAGES[name]
    return texts.get(language or "en", texts["en"]).format(**values)

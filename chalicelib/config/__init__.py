"""Packaged defaults: the JET configuration a stage starts with until a supervisor changes it."""
from __future__ import annotations

import json
from pathlib import Path

DEFAULT_JET: dict = json.loads((Path(__file__).parent / "jet.json").read_text())

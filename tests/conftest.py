"""Shared test set-up: the local stage's settings, before anything imports the app."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infra.local import stage

stage.load(os.environ)
os.environ.setdefault("JETDESK_TABLE_PREFIX", "jetdesk-test")

EVENTS = Path(__file__).parent / "events"


def event(name: str):
    """A captured provider payload from tests/events (JSON parsed, anything else as bytes)."""
    path = EVENTS / name
    return json.loads(path.read_text()) if path.suffix == ".json" else path.read_bytes()


@pytest.fixture
def settings():
    from chalicelib.settings import get_settings
    return get_settings()

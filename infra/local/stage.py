"""The local stage's configuration, read from .chalice/config.json like `chalice local` does."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import MutableMapping

PROJECT = Path(__file__).resolve().parents[2]
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}


def chalice_config() -> dict:
    return json.loads((PROJECT / ".chalice" / "config.json").read_text())


def stage_environment(stage: str = "local") -> dict[str, str]:
    config = chalice_config()
    return {**config.get("environment_variables", {}),
            **config["stages"][stage].get("environment_variables", {})}


def load(env: MutableMapping[str, str] = os.environ, stage: str = "local") -> None:
    """Put the stage's variables and fake AWS credentials into env, keeping what is already set."""
    for key, value in {**FAKE_AWS, **stage_environment(stage)}.items():
        env.setdefault(key, value)

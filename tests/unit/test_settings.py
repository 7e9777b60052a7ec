"""Settings come from the environment once; a deployed function never falls back to the local stage."""
import json
from pathlib import Path

import pytest

from chalicelib.settings import Settings, SettingsError

LOCAL = json.loads((Path(__file__).parents[2] / ".chalice" / "config.json").read_text())[
    "stages"]["local"]["environment_variables"]


def test_without_a_stage_a_developer_machine_is_the_local_stage():
    env = {k: v for k, v in LOCAL.items() if k != "JETDESK_STAGE"}
    assert Settings.from_env(env).stage == "local"


def test_a_lambda_function_without_a_stage_refuses_to_start():
    env = {**{k: v for k, v in LOCAL.items() if k != "JETDESK_STAGE"}, "AWS_LAMBDA_FUNCTION_NAME": "jetdesk-api"}
    with pytest.raises(SettingsError, match="JETDESK_STAGE"):
        Settings.from_env(env)

"""`chalice package` ships what Lambda imports: app.py, chalicelib/ and the top-level channels/."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.local.stage import PROJECT


@pytest.fixture(scope="module")
def deployment_zip(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("package") / "out"
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run([str(chalice), "package", "--stage", "dev", str(out)], cwd=PROJECT, check=True,
                   env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}, capture_output=True)
    return zipfile.ZipFile(out / "deployment.zip")


def test_the_package_holds_the_app_chalicelib_and_channels(deployment_zip):
    names = set(deployment_zip.namelist())
    assert {"app.py", "chalicelib/services/conversations.py", "chalicelib/schemas/reply.json",
            "channels/__init__.py", "channels/twilio_sms.py"} <= names


def test_the_package_holds_no_test_tools(deployment_zip):
    tops = {name.split("/")[0] for name in deployment_zip.namelist()}
    assert not tops & {"moto", "pytest", "_pytest", "tests", "infra"}

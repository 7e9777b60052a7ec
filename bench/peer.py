"""The peer's own virtualenv (bench/.peer-venv): created, or re-created when its pins change."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from .common import BENCH

VENV = BENCH / ".peer-venv"
REQUIREMENTS = BENCH / "requirements-peer.txt"
STAMP = VENV / ".bench-installed"
SCRIPT = BENCH / "peer" / "run.py"


def python() -> Path:
    return VENV / "bin" / "python"


def ensure(log=print) -> Path:
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted and python().exists():
        return python()
    log(f"creating the peer's virtualenv in {VENV.relative_to(BENCH.parent)} (django-helpdesk)…")
    if VENV.exists():
        shutil.rmtree(VENV)
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    done = subprocess.run([str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "-r", str(REQUIREMENTS)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"could not install the peer (bench/requirements-peer.txt):\n{done.stderr[-3000:]}")
    STAMP.write_text(wanted + "\n")
    return python()

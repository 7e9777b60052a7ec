"""End-to-end: the local stack exactly as `make run` starts it, driven over HTTP."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import requests

from infra.local.stage import PROJECT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalStack:
    process: subprocess.Popen
    base_url: str
    log_path: str

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()


def start_stack(tmp_path) -> LocalStack:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JETDESK_", "TWILIO_", "AWS_"))}
    env.update(HOST="127.0.0.1", PORT=str(port))
    log_path = str(tmp_path / f"stack-{port}.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "infra.local"], cwd=PROJECT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    stack = LocalStack(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the local stack exited:\n" + stack.log())
        try:
            if requests.get(stack.base_url + "/health", timeout=1).status_code == 200:
                return stack
        except (requests.ConnectionError, requests.Timeout):   # not up yet, or slow on a busy machine
            pass
        time.sleep(0.2)
    stack.stop()
    raise RuntimeError("the local stack did not become healthy:\n" + stack.log())


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("e2e"))
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def token():
    def issue(agent: str) -> str:
        out = subprocess.run(["make", "-s", "token", f"AGENT={agent}"], cwd=PROJECT, check=True,
                             capture_output=True, text=True).stdout
        return out.strip()
    return issue


def eventually(check, timeout: float = 20, every: float = 0.2):
    """Poll until check() returns something truthy (the async path takes a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)

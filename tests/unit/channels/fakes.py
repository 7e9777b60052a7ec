"""Stand-ins for a provider's HTTP answers, shared by the channel tests."""
from __future__ import annotations

import json


class FakeResponse:
    def __init__(self, status_code: int, payload=None, text: str = "") -> None:
        self.status_code, self._payload = status_code, payload
        self.text = text or json.dumps(payload)

    def json(self):
        if self._payload is None:
            raise ValueError("no JSON")
        return self._payload


class FakeSession:
    """Records post() calls; answers with a response or raises an exception."""

    def __init__(self, answer) -> None:
        self.answer, self.calls = answer, []

    def post(self, url, **kwargs):
        self.calls.append((url, kwargs))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

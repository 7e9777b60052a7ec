"""What every channel adapter receives: the raw request, before any parsing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str                       # as the provider called it, without query string
    headers: Mapping[str, str]      # case-insensitive lookups via header()
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> Optional[str]:
        lname = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lname), None)


@dataclass(frozen=True)
class Sent:
    """What a provider answered to a send: its message id and first status."""
    provider_message_id: str
    status: str = "queued"

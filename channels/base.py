"""What every channel adapter shares: the raw request in, and the shapes it hands back.

A channel module offers:
    verify(request: RawRequest, settings) -> payload        raises chalicelib.errors.Unauthorized
    normalize(payload) -> list[InboundMessage | StatusUpdate | Refused]
        raises chalicelib.errors.Unprocessable; a batch refuses only the parts it cannot read (Refused)
    send(ctx: SendContext, reply_to: dict, text: str) -> Sent
        raises ProviderRefused (permanent) or ProviderUnavailable (try again later)
and nothing else touches storage.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

DELIVERY_STATUSES = ("pending", "queued", "sent", "delivered", "read", "failed")


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


@dataclass(frozen=True)
class StatusUpdate:
    """A provider's news about a message we sent (delivered, read, failed…)."""
    provider: str
    provider_message_id: str
    status: str                     # one of DELIVERY_STATUSES
    reason: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.provider_message_id or not isinstance(self.provider_message_id, str):
            raise TypeError("a status update names the message by its provider id, as text")


@dataclass(frozen=True)
class Refused:
    """One part of a batched webhook we cannot read: it is kept as a dead letter, the rest is stored."""
    reason: str


@dataclass(frozen=True)
class SendContext:
    """What a channel may use to send: settings and ready clients, nothing else."""
    settings: Any
    http: Any                                  # a requests.Session
    twilio: Callable[[], Any] = lambda: None   # the official Twilio client, created on first use
    ses: Callable[[], Any] = lambda: None      # a boto3 SES client


class ProviderRefused(Exception):
    """The provider will never accept this message as it is (4xx): fail it with this reason."""


class ProviderUnavailable(Exception):
    """The provider could not take it now (5xx, 429, timeout): retry later."""


def json_object(body: bytes, what: str) -> dict:
    """A webhook body that must be one JSON object; anything else is unprocessable."""
    import json

    from chalicelib.errors import Unprocessable
    try:
        payload = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Unprocessable(f"{what} is not a JSON object")
    return payload


F = TypeVar("F", bound=Callable[..., Any])
MALFORMED = (KeyError, IndexError, TypeError, AttributeError, ValueError)


def refuses_malformed(what: str) -> Callable[[F], F]:
    """A parser that meets a payload of the wrong shape (a list where an object was expected, a
    missing key, a number that is not one) refuses it as unprocessable (422, kept as a dead letter)
    instead of failing with a 500 that the provider would retry for days."""
    def wrap(parse: F) -> F:
        @functools.wraps(parse)
        def guarded(*args, **kwargs):
            from chalicelib.errors import ApiError, Unprocessable
            try:
                return parse(*args, **kwargs)
            except ApiError:
                raise
            except MALFORMED as exc:
                raise Unprocessable(f"malformed {what}: {type(exc).__name__} {exc}"[:300]) from None
        return guarded  # type: ignore[return-value]
    return wrap


def each_part(what: str, parts: Iterable[Any], read: Callable[[Any], Iterable[Any]]) -> Iterator[Any]:
    """What read() makes of every part of a batch, a part it cannot read becoming a Refused: one
    message of the wrong shape must not hold back the others delivered with it."""
    from chalicelib.errors import ApiError
    for part in parts:
        try:
            yield from read(part)
        except ApiError as exc:
            yield Refused(f"{what}: {exc.message}"[:300])
        except MALFORMED as exc:
            yield Refused(f"malformed {what}: {type(exc).__name__} {exc}"[:300])


AWS_THROTTLING = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
                            "KMSThrottling"})


@contextmanager
def aws_answer(service: str) -> Iterator[None]:
    """An AWS API call (SES, SNS) mapped onto our two failure kinds, as ``raise_for_status`` maps an
    HTTP answer: throttling, 429, 5xx or no usable answer (a proxy's page) is an outage."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        reason = f"{service} {status} {error.get('Code', '?')}: {error.get('Message', '')}"[:500]
        if error.get("Code") in AWS_THROTTLING or status == 429 or status >= 500:
            raise ProviderUnavailable(reason) from None
        raise ProviderRefused(reason) from None
    except (BotoConnectionError, HTTPClientError, ResponseParserError) as exc:
        raise ProviderUnavailable(f"{service} unreachable: {type(exc).__name__}") from None


def raise_for_status(provider: str, response) -> None:
    """Map a provider's HTTP answer (a requests.Response) onto our two failure kinds."""
    if response.status_code < 300:
        return
    reason = f"{provider} {response.status_code}: {response.text[:300]}"
    if response.status_code == 429 or response.status_code >= 500:
        raise ProviderUnavailable(reason)
    raise ProviderRefused(reason)

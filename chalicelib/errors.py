"""API errors, rendered as {"error": {"code", "message", "details"}} by the app's middleware."""
from __future__ import annotations

from typing import Any, Optional

from chalice import ChaliceUnhandledError


class ApiError(ChaliceUnhandledError):
    """Chalice lets ChaliceUnhandledError through to middleware, which renders it."""


    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Optional[list[Any]] = None,
                 headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def _error(name: str, status: int, code: str) -> type[ApiError]:
    return type(name, (ApiError,), {"status": status, "code": code})


BadRequest = _error("BadRequest", 400, "bad_request")
Unauthorized = _error("Unauthorized", 401, "unauthorized")
Forbidden = _error("Forbidden", 403, "forbidden")
NotFound = _error("NotFound", 404, "not_found")
Conflict = _error("Conflict", 409, "conflict")
PayloadTooLarge = _error("PayloadTooLarge", 413, "payload_too_large")
UnsupportedMediaType = _error("UnsupportedMediaType", 415, "unsupported_media_type")
Unprocessable = _error("Unprocessable", 422, "unprocessable")
TooManyRequests = _error("TooManyRequests", 429, "too_many_requests")

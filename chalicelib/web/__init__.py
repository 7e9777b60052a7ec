"""The agent console and the customer chat page: static files shipped inside the package.

Served by the app itself (no build step, nothing to host elsewhere) with a strict
Content-Security-Policy: scripts and styles only from the app, no inline script,
no framing. The pages render every customer-written string with textContent.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from ..errors import NotFound

ROOT = Path(__file__).parent
PAGES = {"console": "console.html", "chat": "chat.html"}
TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
ASSET = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(js|css|svg)$")   # no paths, no dot files
CSP = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "font-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
])


def security_headers(csp: str) -> dict[str, str]:
    """What every HTML page and asset we serve carries; each kind of page brings its own policy."""
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


SECURITY_HEADERS = security_headers(CSP)


@lru_cache(maxsize=None)
def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def page(name: str) -> tuple[str, dict[str, str]]:
    """An HTML page and its headers."""
    return _read(PAGES[name]), {**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8",
                                "Cache-Control": "no-cache"}


def asset(name: str) -> tuple[str, dict[str, str]]:
    """A script, style sheet or icon of the pages, by bare file name."""
    match = ASSET.match(name)
    if match is None or not (ROOT / name).is_file():
        raise NotFound(f"no asset {name}")
    return _read(name), {**SECURITY_HEADERS, "Content-Type": TYPES[match.group(1)], "Cache-Control": "no-cache"}

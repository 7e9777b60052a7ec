"""What a value from a customer, an integrator or a profile may carry into a reply template."""
from __future__ import annotations

import re
import unicodedata
from typing import Any

_TAG = re.compile(r"<[^<>]*>")
_UNSAFE = re.compile(r"[<>{}`\\]")


def one_line(value: Any, limit: int) -> str:
    """The value as plain, one-line text: tags, angle brackets, braces (never read as a
    placeholder), backticks and backslashes (markup on WhatsApp and Telegram) removed, control
    and separator characters turned into spaces, whitespace collapsed, at most ``limit`` characters."""
    text = _UNSAFE.sub("", _TAG.sub("", str(value)))
    text = "".join(" " if unicodedata.category(c).startswith(("C", "Z")) else c for c in text)
    return " ".join(text.split())[:limit].strip()

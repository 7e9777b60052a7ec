"""JSON bodies: parsed once and validated against the schema files (which also feed OpenAPI)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import BadRequest, Unprocessable

SCHEMAS = Path(__file__).parent / "schemas"


@lru_cache(maxsize=None)
def validator(name: str):
    from jsonschema import Draft202012Validator, FormatChecker  # on first use: webhooks mostly need none

    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None


def validated(schema: str, body: bytes) -> dict[str, Any]:
    return check(schema, parse_json(body))


def check(schema: str, data: Any) -> Any:
    """Validate already-parsed data (a JSON body, or the fields of a form)."""
    errors = sorted(validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        details = [{"path": "/" + "/".join(map(str, e.absolute_path)), "message": _message(e)} for e in errors]
        raise Unprocessable(f"body does not match the {schema} schema", details)
    return data


def _message(error) -> str:
    """jsonschema's own words, except for a choice of fields, where they are a dump of the body."""
    choices = error.schema["oneOf"] if error.validator == "oneOf" else None
    fields = [f for choice in choices or [] for f in choice.get("required", [])]
    if not choices or len(fields) != len(choices):
        return error.message
    return "exactly one of " + ", ".join(f"'{f}'" for f in fields) + " is required"

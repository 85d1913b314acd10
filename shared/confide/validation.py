"""Validating a payload against its marshmallow schema, one way for every entry point.

:func:`load` refuses text no record may hold first (NUL, which PostgreSQL cannot store; a lone
surrogate, which is not Unicode text), then loads with the schema, and raises
:class:`PayloadError` naming the first bad field (and carrying all of them). Each service turns
that one error into its own reply (a domain error over RPC, a 422 over HTTP).
"""
from __future__ import annotations

import re
from typing import Any, Optional

from marshmallow import Schema
from marshmallow import ValidationError as MarshmallowValidationError

_SURROGATE = re.compile("[\ud800-\udfff]")
NUL_MESSAGE = "must not contain NUL (\\u0000) characters"
SURROGATE_MESSAGE = "must not contain lone surrogate characters (not valid Unicode text)"


class PayloadError(ValueError):
    """A payload failed validation. ``field``: the first bad field's dotted path; ``messages``:
    ``{dotted path: [message, ...]}`` for every bad field; ``str()``: "field: message; ..."."""

    def __init__(self, messages: dict[str, list[str]]):
        self.messages = messages
        self.field = sorted(messages)[0] if messages else "_schema"
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(messages.items())))


def _safe_key(key) -> str:
    """A key as it may be shown in a field path: lone surrogates and NUL escaped (``\\udc80``,
    ``\\x00``), so the path never carries the text it reports."""
    return str(key).encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def first_bad_text(value: Any, path: str = "") -> Optional[tuple[str, str]]:
    """(dotted path, message) of the first string or key that cannot be stored as text, else None."""
    if isinstance(value, str):
        if "\x00" in value:
            return path or "_schema", NUL_MESSAGE
        if _SURROGATE.search(value):
            return path or "_schema", SURROGATE_MESSAGE
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        name = f"{path}.{_safe_key(key)}" if path else _safe_key(key)
        found = (first_bad_text(key, name) if isinstance(key, str) else None) or first_bad_text(inner, name)
        if found:
            return found
    return None


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{dotted path: [message, ...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    else:
        out[prefix or "_schema"] = [str(m) for m in (messages if isinstance(messages, list) else [messages])]
    return out


def load(schema: Schema | type[Schema], payload: Any) -> dict:
    """``payload`` loaded by ``schema`` (a Schema or its class).

    Raises PayloadError naming the first bad field: ``payload`` when it is not an object, the
    path of text no record may hold, or the schema's own errors.
    """
    if not isinstance(payload, dict):
        raise PayloadError({"payload": ["must be an object"]})
    bad = first_bad_text(payload)
    if bad:
        raise PayloadError({bad[0]: [bad[1]]})
    try:
        return (schema() if isinstance(schema, type) else schema).load(payload)
    except MarshmallowValidationError as exc:
        raise PayloadError(flatten(exc.messages)) from None

"""RFC 8785 canonical JSON for the append path, through the C JSON encoder where that is exact.

:func:`confide.envelope.canonical_json` is ``rfc8785.dumps``, a pure-Python serialiser: on the
append path it was the largest single cost per event (see ``bench/eventstore_bench.py``). For
the values events are made of, the standard library's C encoder with sorted keys, compact
separators and ``ensure_ascii=False`` writes the same bytes:

- strings: both escape exactly ``"``, ``\\``, ``\\b \\f \\n \\r \\t`` and the other control
  characters below U+0020 as lowercase ``\\u00xx``, and nothing else;
- integers (not bools) within RFC 8785's exact range ±(2**53 - 1), ``true``, ``false``, ``null``;
- objects with ASCII keys: sorting by code point is sorting by UTF-16 code unit (RFC 8785 3.2.3);
- lists and tuples, as arrays.

Anything else -- a float (RFC 8785 writes numbers the ECMAScript way), an integer outside that
range, a non-ASCII key, a subclass of a JSON type (a ``str`` enum, a ``dict`` subclass), a string
that is not valid UTF-8 (a lone surrogate), a type JSON does not have -- goes to ``rfc8785``
itself, which writes it or raises its own error. So the result is always ``rfc8785.dumps``'s,
byte for byte (tests/unit/shared/test_canonical_fast.py checks that on generated values).
"""
from __future__ import annotations

import json
from typing import Any

from confide.envelope import canonical_json as _rfc8785_json

_INT_MAX = 2**53 - 1
_MAX_DEPTH = 64
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                           allow_nan=False).encode


def _plain(value: Any, depth: int = 0) -> bool:
    """True when ``value`` is made only of the exact types the C encoder writes as RFC 8785 does.

    Deeper than ``_MAX_DEPTH`` (or a value that contains itself) is left to rfc8785 too."""
    t = type(value)
    if t is dict:
        if depth > _MAX_DEPTH:
            return False
        for k, v in value.items():
            if type(k) is not str or not k.isascii():
                return False
            tv = type(v)
            if tv is str or v is None or tv is bool:
                continue
            if tv is int:
                if -_INT_MAX <= v <= _INT_MAX:
                    continue
                return False
            if not _plain(v, depth + 1):
                return False
        return True
    if t is list or t is tuple:
        if depth > _MAX_DEPTH:
            return False
        for v in value:
            tv = type(v)
            if tv is str or v is None or tv is bool:
                continue
            if tv is int:
                if -_INT_MAX <= v <= _INT_MAX:
                    continue
                return False
            if not _plain(v, depth + 1):
                return False
        return True
    if t is str or value is None or t is bool:
        return True
    return t is int and -_INT_MAX <= value <= _INT_MAX


def canonical_json(value: Any) -> str:
    """RFC 8785 canonical JSON text of ``value``, identical to :func:`confide.envelope.canonical_json`.

    Raises what that raises (``rfc8785.CanonicalizationError``, a ValueError; RecursionError for a
    value that contains itself) for values JSON cannot carry exactly.
    """
    if _plain(value):
        text = _encode(value)
        if text.isascii():
            return text
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 names the problem
    return _rfc8785_json(value)

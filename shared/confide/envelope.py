"""Event envelopes and their canonical bytes.

A stored event's identity for tamper evidence is its *canonical record*: the
RFC 8785 (JSON Canonicalization Scheme) serialisation of

    {"data": <data>, "event_id": "<uuid>", "metadata": <metadata>,
     "recorded_at": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "stream_name": "...",
     "stream_version": <int>, "type": "..."}

``data`` and ``metadata`` are stored in the database as their own RFC 8785
text (not jsonb, which reorders keys and would break the hash), so the
canonical record is assembled from the stored bytes verbatim, and its SHA-256
is the event's ``content_hash``. Keys above are already in RFC 8785 order.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, NamedTuple, Sequence

import rfc8785

from confide.jsonfast import decode_json
from confide.timestamps import format_ts

# -- RFC 8785 canonical JSON ----------------------------------------------------------
#
# rfc8785.dumps is a pure-Python serialiser; on the append path and in every seal check it was
# the largest single cost per event. For the values events are made of, the standard library's C
# encoder with sorted keys, compact separators and ``ensure_ascii=False`` writes the same bytes:
#
# - strings: both escape exactly the quote, the backslash, BS FF LF CR TAB (as \b \f \n \r \t)
#   and the other control characters below U+0020 as lowercase \u00xx, and nothing else;
# - integers (not bools) within RFC 8785's exact range +-(2**53 - 1), true, false, null;
# - objects with ASCII keys: sorting by code point is sorting by UTF-16 code unit (RFC 8785 3.2.3);
# - lists and tuples, as arrays.
#
# Anything else -- a float (RFC 8785 writes numbers the ECMAScript way), an integer outside that
# range, a non-ASCII key, a subclass of a JSON type (a str enum, a dict subclass), a string that
# is not valid UTF-8 (a lone surrogate), a type JSON does not have, nesting deeper than
# _MAX_DEPTH -- goes to rfc8785 itself, which writes it or raises its own error. So the result is
# always rfc8785.dumps's, byte for byte (tests/unit/shared/test_canonical_fast.py checks that on
# generated values).

_INT_MAX = 2**53 - 1
_MAX_DEPTH = 64


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The C encoder json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
# allow_nan=False) builds on every encode() call, built once: (markers, default, string encoder,
# indent, key separator, item separator, sort_keys, skipkeys, allow_nan). markers=None (no cycle
# check): only values _plain accepted reach it, and _plain refuses a value nested deeper than
# _MAX_DEPTH, which any value containing itself is.
_c_encoder = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _refuse, json.encoder.encode_basestring, None, ":", ",", True, False, False,
) if getattr(json.encoder, "c_make_encoder", None) else None
_json_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def _encode(value: Any) -> str:
    if _c_encoder is None:  # an interpreter without the _json accelerator
        return _json_encode(value)
    return "".join(_c_encoder(value, 0))


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
    """RFC 8785 canonical JSON text of ``value`` (what ``rfc8785.dumps`` writes, as text).

    Plain values (see ``_plain``) go through the standard library's C encoder, which writes the
    same bytes for them; anything else through ``rfc8785`` itself. Raises
    ``rfc8785.CanonicalizationError`` (a ValueError) for values JSON cannot carry exactly (NaN,
    integers beyond 2**53, non-str keys), RecursionError for a value that contains itself.
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
    return rfc8785.dumps(value).decode("utf-8")


# For plain strings json.dumps(ensure_ascii=False) is RFC 8785's string form (same escapes,
# lowercase \u00xx for other control characters): its string encoder, called directly (the C
# function JSONEncoder(ensure_ascii=False).encode calls for a str), as this runs four times per
# event hashed.
_s = json.encoder.encode_basestring


def canonical_record(
    *,
    stream_name: str,
    stream_version: int,
    event_id: str,
    type: str,
    data_json: str,
    metadata_json: str,
    recorded_at: str,
) -> bytes:
    """The canonical record bytes (see module docstring); inputs are stored texts."""
    return canonical_record_of(stream_name, stream_version, event_id, type, data_json, metadata_json, recorded_at)


def canonical_record_of(stream_name: str, stream_version: int, event_id: str, type: str, data_json: str,
                        metadata_json: str, recorded_at: str) -> bytes:
    """:func:`canonical_record` with positional arguments (verify calls it once per stored event)."""
    return (
        '{"data":' + data_json
        + ',"event_id":' + _s(event_id)
        + ',"metadata":' + metadata_json
        + ',"recorded_at":' + _s(recorded_at)
        + ',"stream_name":' + _s(stream_name)
        + ',"stream_version":' + str(int(stream_version))
        + ',"type":' + _s(type)
        + "}"
    ).encode("utf-8")


def content_hash(**record: Any) -> bytes:
    """SHA-256 (32 bytes) of :func:`canonical_record` for the same keyword arguments."""
    return hashlib.sha256(canonical_record(**record)).digest()


def batch_hasher(stream_name: str, recorded_at: str):
    """``hash(stream_version, event_id, type, data_json, metadata_json) -> bytes``: :func:`content_hash`
    of events of one stream recorded at one instant (an append's batch), with the parts they share
    encoded once. The same bytes as :func:`canonical_record` (tests/unit/shared/test_canonical_fast.py)."""
    middle = ',"recorded_at":' + _s(recorded_at) + ',"stream_name":' + _s(stream_name) + ',"stream_version":'
    sha = hashlib.sha256

    def content_hash_of(stream_version: int, event_id: str, type: str, data_json: str, metadata_json: str) -> bytes:
        return sha(('{"data":' + data_json + ',"event_id":' + _s(event_id) + ',"metadata":' + metadata_json
                    + middle + str(int(stream_version)) + ',"type":' + _s(type) + "}").encode("utf-8")).digest()

    return content_hash_of


@dataclass(frozen=True)
class NewEvent:
    """An event to append: ``type`` (PastTense name), JSON-able ``data`` and ``metadata``.

    ``event_id`` makes appends idempotent: appending an id already stored is a
    no-op that reports the stored position.
    """

    type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


class StreamAppend(NamedTuple):
    """One stream's part of a multi-stream append: its events at ``expected_version`` (as ``append``'s)."""

    stream_name: str
    events: Sequence[NewEvent]
    expected_version: int | None = None


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored.

    ``global_position``: int, unique across the store, visible in commit order.
    ``stream_version``: 0-based position within the stream.
    ``data_json`` / ``metadata_json``: the exact stored RFC 8785 texts.
    ``content_hash``: 32-byte SHA-256 of the canonical record.
    """

    global_position: int
    stream_name: str
    stream_version: int
    event_id: uuid.UUID
    type: str
    data_json: str
    metadata_json: str
    recorded_at: datetime
    content_hash: bytes

    @property
    def data(self) -> dict[str, Any]:
        return decode_json(self.data_json)  # json.loads' value, msgspec's speed (every fold reads it)

    @property
    def metadata(self) -> dict[str, Any]:
        return decode_json(self.metadata_json)

    def canonical_bytes(self) -> bytes:
        return canonical_record(
            stream_name=self.stream_name,
            stream_version=self.stream_version,
            event_id=str(self.event_id),
            type=self.type,
            data_json=self.data_json,
            metadata_json=self.metadata_json,
            recorded_at=format_ts(self.recorded_at),
        )

    def to_message(self) -> dict[str, Any]:
        """The broker message body: JSON-safe (timestamps as strings, hash as hex)."""
        return {
            "global_position": self.global_position,
            "stream_name": self.stream_name,
            "stream_version": self.stream_version,
            "event_id": str(self.event_id),
            "type": self.type,
            "data": self.data,
            "metadata": self.metadata,
            "recorded_at": format_ts(self.recorded_at),
            "content_hash": self.content_hash.hex(),
        }


@dataclass(frozen=True)
class AppendResult:
    """Outcome of an append: positions and versions of each event, in order.

    ``duplicate`` is True when every event id was already stored (an idempotent
    retry); nothing new was written then.
    """

    global_positions: tuple[int, ...]
    stream_versions: tuple[int, ...]
    duplicate: bool = False

    @property
    def last_position(self) -> int:
        return self.global_positions[-1]

    @property
    def next_expected_version(self) -> int:
        return self.stream_versions[-1]

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
from typing import Any, Mapping

import rfc8785

from confide.timestamps import format_ts


def canonical_json(value: Any) -> str:
    """RFC 8785 canonical JSON text of ``value``.

    Raises ``rfc8785.CanonicalizationError`` (a ValueError) for values JSON
    cannot carry exactly (NaN, integers beyond 2**53, non-str keys).
    """
    return rfc8785.dumps(value).decode("utf-8")



# For plain strings json.dumps(ensure_ascii=False) is RFC 8785's string form (same escapes,
# lowercase \u00xx for other control characters). One encoder, built once: json.dumps with a
# non-default option builds a new one per call, and this runs four times per event hashed.
_s = json.JSONEncoder(ensure_ascii=False).encode


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
        return json.loads(self.data_json)

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(self.metadata_json)

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

"""InMemoryEventStore: the PostgresEventStore contract in memory, for unit tests.

Same semantics (expected version, idempotent event ids, global order, the
same canonical hashes); no durability. Thread-safe under one lock.
"""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from typing import Iterator, Sequence

from confide.envelope import AppendResult, NewEvent, RecordedEvent, StreamAppend
from confide.eventstore.errors import InvalidEventError, WrongExpectedVersionError
from confide.eventstore.store import check_stream_appends, prepare


class InMemoryEventStore:
    """See :mod:`confide.eventstore.store` for the contract."""

    def __init__(self, clock=None):
        self._lock = threading.RLock()
        self._events: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._by_id: dict[uuid.UUID, RecordedEvent] = {}
        self._checkpoints: dict[str, int] = {}
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def append(
        self, stream_name: str, events: Sequence[NewEvent], expected_version: int | None = None
    ) -> AppendResult:
        if expected_version is not None and (not isinstance(expected_version, int) or expected_version < -1):
            raise InvalidEventError(f"expected_version {expected_version!r} must be None or an int >= -1")
        with self._lock:
            return self._append_all([(stream_name, events, expected_version)], self._clock())[0]

    def multi_stream_append(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        """Several streams at once, all or nothing (see :mod:`confide.eventstore.store`)."""
        batch = check_stream_appends(appends)
        with self._lock:
            return self._append_all(batch, self._clock())

    def _append_all(self, batch, now) -> list[AppendResult]:
        """Check every stream's part, then write them all (or raise, writing nothing)."""
        planned, stored_results = [], []
        for stream_name, events, expected_version in batch:
            current = self.stream_version(stream_name)
            expected = current if expected_version is None else expected_version
            rows = prepare(stream_name, events, expected + 1, now)
            stored = [self._by_id[r[0]] for r in rows if r[0] in self._by_id]
            if any(e.stream_name != stream_name for e in stored):
                raise InvalidEventError(f"events: {len(stored)} of these event ids are stored in another stream")
            if stored and len(stored) == len(rows):
                stored_results.append(AppendResult(
                    tuple(e.global_position for e in stored), tuple(e.stream_version for e in stored), True))
                continue
            if stored:
                raise InvalidEventError(f"events: {len(stored)} of {len(rows)} event ids are already stored "
                                        "(a batch is all new or a retry)")
            if expected != current:
                raise WrongExpectedVersionError(stream_name, expected, current)
            planned.append((stream_name, expected, rows))
        if stored_results and planned:
            raise InvalidEventError("appends: some streams of this multi-stream append are stored and some are "
                                    "not (a multi-stream append is all new or a retry)")
        if stored_results:
            return stored_results
        results = []
        for stream_name, expected, rows in planned:
            recorded = []
            for i, (event_id, type_, data_json, metadata_json, at, digest) in enumerate(rows):
                ev = RecordedEvent(
                    global_position=len(self._events) + 1,
                    stream_name=stream_name,
                    stream_version=expected + 1 + i,
                    event_id=event_id,
                    type=type_,
                    data_json=data_json,
                    metadata_json=metadata_json,
                    recorded_at=at,
                    content_hash=digest,
                )
                self._events.append(ev)
                recorded.append(ev)
            for ev in recorded:
                self._streams.setdefault(stream_name, []).append(ev)
                self._by_id[ev.event_id] = ev
            results.append(AppendResult(
                tuple(e.global_position for e in recorded), tuple(e.stream_version for e in recorded), False))
        return results

    def stream_version(self, stream_name: str) -> int:
        with self._lock:
            stream = self._streams.get(stream_name)
            return stream[-1].stream_version if stream else -1

    def read_stream(self, stream_name: str, from_version: int = 0) -> list[RecordedEvent]:
        with self._lock:
            return [e for e in self._streams.get(stream_name, []) if e.stream_version >= from_version]

    def read_all(self, from_position: int = 1, limit: int = 1000) -> list[RecordedEvent]:
        with self._lock:
            start = max(from_position, 1) - 1
            return self._events[start:start + limit]

    def read_category(self, category: str, from_position: int = 1, limit: int = 1000,
                      prefix_only: bool = True) -> list[RecordedEvent]:
        with self._lock:
            out = [e for e in self._events[max(from_position, 1) - 1:]
                   if e.stream_name.split("-", 1)[0] == category]
            return out[:limit]

    def find_streams_by_patient(self, patient_id: str, event_type: str) -> list[str]:
        from confide.eventstore.store import PostgresEventStore

        if event_type not in PostgresEventStore.PATIENT_INDEXED_TYPES:
            raise InvalidEventError(f"event_type {event_type!r} is not indexed by patient")
        if "\x00" in patient_id:
            return []
        with self._lock:
            return [e.stream_name for e in self._events
                    if e.type == event_type and e.data.get("patient_id") == patient_id]

    def find_streams_by_patients(self, patient_ids, event_type: str) -> dict[str, list[str]]:
        return {p: self.find_streams_by_patient(p, event_type) for p in patient_ids}

    def read_streams(self, stream_names) -> list[RecordedEvent]:
        wanted = set(stream_names)
        with self._lock:
            return [e for e in self._events if e.stream_name in wanted]

    def iter_all(self, from_position: int = 1, batch: int = 5000) -> Iterator[RecordedEvent]:
        yield from self.read_all(from_position, len(self._events) + 1)

    def head_position(self) -> int:
        with self._lock:
            return len(self._events)

    def get_event(self, event_id) -> RecordedEvent | None:
        with self._lock:
            return self._by_id.get(uuid.UUID(str(event_id)))

    def read_checkpoint(self, name: str, conn=None) -> int:
        return self._checkpoints.get(name, 0)

    def write_checkpoint(self, name: str, position: int, conn=None) -> None:
        self._checkpoints[name] = position

    def ping(self, timeout: float = 3.0) -> None:
        """Always reachable."""

    def close(self) -> None:
        pass

"""Appends under load, and what became of every one of them (failover tests and benches).

:class:`AppendLoad` runs writer threads that append to streams of their own through one
:class:`confide.eventstore.store.PostgresEventStore` (a service's pool), one event or a batch per call,
each append with the expected version. An append that fails with EventStoreUnavailableError (the
primary died under it; its outcome is unknown) is retried with the same event ids and expected version
until it is answered, as a client should: if the first attempt was committed the retry is answered
``duplicate=True`` with the stored positions, otherwise it writes them now. Every answered append is
kept (an *acknowledgement*: ids, positions, versions, when it was asked and answered).

:meth:`AppendLoad.check` then reads the streams back and counts what must be 0:

- ``lost``: acknowledged events not stored, or stored at another position or version than acknowledged;
- ``duplicated``: one writer's event stored more than once (by its sequence number in the data);
- ``half_done``: batches of which some events are stored and some not;
- ``unacknowledged``: stored events no acknowledgement names (a writer never stops in doubt);
- ``gaps``: streams whose versions are not 0..n-1;
- ``out_of_order``: an append answered before another was asked, yet stored at a higher position.
"""
from __future__ import annotations

import bisect
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from confide.envelope import NewEvent
from confide.eventstore.errors import EventStoreUnavailableError

EVENT_TYPE = "LoadProbeAppended"


@dataclass(frozen=True)
class Ack:
    """One answered append."""

    stream: str
    event_ids: tuple[uuid.UUID, ...]
    positions: tuple[int, ...]
    versions: tuple[int, ...]
    asked_at: float
    answered_at: float
    attempts: int
    duplicate: bool


@dataclass
class LoadReport:
    acknowledged_appends: int = 0
    acknowledged_events: int = 0
    in_doubt: int = 0            # appends that failed at least once and were answered on a retry
    in_doubt_committed: int = 0  # ... of which the failed attempt had in fact been committed (duplicate)
    lost: int = 0
    duplicated: int = 0
    half_done: int = 0
    unacknowledged: int = 0
    gaps: int = 0
    out_of_order: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.half_done or self.unacknowledged or self.gaps
                    or self.out_of_order)


class AppendLoad:
    """``writers`` threads; writer ``i`` appends ``batch_sizes[i % len(batch_sizes)]`` events per call to
    stream ``<category>-<i>-<run>``. ``retry_for``: how long one append is retried while the store is
    unavailable before the writer gives up (its thread then records the error in ``errors``)."""

    def __init__(self, store, writers: int = 4, batch_sizes: tuple[int, ...] = (1, 5), category: str = "loadProbe",
                 retry_for: float = 120.0):
        self.store = store
        self.category = category
        self.run = uuid.uuid4().hex[:12]
        self.streams = [f"{category}-{i}{self.run}" for i in range(writers)]
        self.batch_sizes = [batch_sizes[i % len(batch_sizes)] for i in range(writers)]
        self.retry_for = retry_for
        self.acks: list[Ack] = []
        self.errors: list[str] = []
        self.failed_attempts = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "AppendLoad":
        for i in range(len(self.streams)):
            t = threading.Thread(target=self._write, args=(i,), name=f"append-load-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 150.0) -> None:
        """Ask the writers to stop after their current append (answered, or given up) and wait for them."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)

    def acked_since(self, t: float) -> int:
        """Appends asked at or after monotonic time ``t`` and answered."""
        with self._lock:
            return sum(1 for a in self.acks if a.asked_at >= t)

    def writers_acked_since(self, t: float) -> int:
        """How many writers had an append asked at or after ``t`` answered."""
        with self._lock:
            return len({a.stream for a in self.acks if a.asked_at >= t})

    def first_answer_after(self, t: float) -> float | None:
        """Seconds from ``t`` until the last writer had its first append answered after ``t`` (the time
        until every client writes again), or None while some writer has not."""
        firsts: dict[str, float] = {}
        with self._lock:
            for a in self.acks:
                if a.answered_at >= t and a.stream not in firsts:
                    firsts[a.stream] = a.answered_at
        if len(firsts) < len(self.streams):
            return None
        return max(firsts.values()) - t

    def _write(self, i: int) -> None:
        stream, size, version, n = self.streams[i], self.batch_sizes[i], -1, 0
        while not self._stop.is_set():
            events = [NewEvent(type=EVENT_TYPE, data={"writer": i, "n": n + k}, event_id=uuid.uuid4())
                      for k in range(size)]
            asked, attempts, gave_up_at = time.monotonic(), 0, time.monotonic() + self.retry_for
            while True:
                attempts += 1
                try:
                    result = self.store.append(stream, events, expected_version=version)
                    break
                except EventStoreUnavailableError as exc:
                    with self._lock:
                        self.failed_attempts += 1
                    if time.monotonic() > gave_up_at:
                        self.errors.append(f"{stream}: gave up after {attempts} attempts: {exc}")
                        return
                    time.sleep(0.05)
                except Exception as exc:  # noqa: BLE001 - recorded; the check reports it
                    self.errors.append(f"{stream}: {type(exc).__name__}: {exc}")
                    return
            ack = Ack(stream, tuple(e.event_id for e in events), tuple(result.global_positions),
                      tuple(result.stream_versions), asked, time.monotonic(), attempts, result.duplicate)
            with self._lock:
                self.acks.append(ack)
            version += size
            n += size

    def check(self, store=None) -> LoadReport:
        """Read the writers' streams back (through ``store``, by default the writers' own) and count
        what went wrong (see the module docstring). Call after :meth:`stop`."""
        store = store or self.store
        report = LoadReport(acknowledged_appends=len(self.acks),
                            acknowledged_events=sum(len(a.event_ids) for a in self.acks))
        report.problems.extend(self.errors)
        stored = {}
        for stream in self.streams:
            events = store.read_stream(stream)
            versions = [e.stream_version for e in events]
            if versions != list(range(len(versions))):
                report.gaps += 1
                report.problems.append(f"{stream}: versions {versions[:5]}... are not 0..{len(versions) - 1}")
            for (_, dup_count) in Counter(e.data["n"] for e in events).items():
                report.duplicated += dup_count - 1
            for e in events:
                stored[uuid.UUID(str(e.event_id))] = e
        acked_ids = set()
        for a in self.acks:
            if a.attempts > 1:
                report.in_doubt += 1
                report.in_doubt_committed += a.duplicate
            present = [stored.get(eid) for eid in a.event_ids]
            if any(p is not None for p in present) and any(p is None for p in present):
                report.half_done += 1
            for eid, position, version, row in zip(a.event_ids, a.positions, a.versions, present):
                acked_ids.add(eid)
                if row is None or row.global_position != position or row.stream_version != version:
                    report.lost += 1
                    if len(report.problems) < 20:
                        report.problems.append(f"acknowledged {eid} at {position} (v{version}) is "
                                               + ("missing" if row is None else
                                                  f"stored at {row.global_position} (v{row.stream_version})"))
        report.unacknowledged = len(set(stored) - acked_ids)
        # Commit order: an append answered before another was asked is stored below it.
        by_answer = sorted(self.acks, key=lambda a: a.answered_at)
        answered_times = [a.answered_at for a in by_answer]
        prefix_max, highest = [], 0
        for a in by_answer:
            highest = max(highest, max(a.positions))
            prefix_max.append(highest)
        for b in self.acks:
            k = bisect.bisect_left(answered_times, b.asked_at)
            if k and prefix_max[k - 1] >= min(b.positions):
                report.out_of_order += 1
        return report

"""Applying events to the audit projections, and rebuilding them from the store.

``apply_event``: the live path (a RabbitMQ message) — one transaction,
idempotent by global position. ``apply_page``: the relay's path, the same rows for a page of
events in one transaction (before it publishes them). ``replay``: rebuild one or all projections from
position 1 into temporary tables, streaming the store in pages (flat memory: three
pages at most: the next read by a helper thread while this one is projected),
then compare with the live tables over the positions the live side has
reached, and report whether they match.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Protocol

from audit.projections import PROJECTIONS, Row
from confide.envelope import RecordedEvent
from confide.eventstore.interfaces import LogReader, ProjectionStore
from confide.jsonfast import decode_json
from confide.relay import RELAY_CHECKPOINT
from confide.timestamps import format_ts


def event_dict(ev: RecordedEvent) -> dict:
    """A stored event in the message shape the projections take."""
    return {"global_position": ev.global_position, "stream_name": ev.stream_name,
            "stream_version": ev.stream_version, "event_id": str(ev.event_id), "type": ev.type,
            "data": decode_json(ev.data_json), "recorded_at": format_ts(ev.recorded_at)}


def apply_event(projections: ProjectionStore, message: dict) -> int:
    """Apply one event (message shape) to every projection in one transaction; returns the rows it
    maps to (a redelivered event writes none of them again: idempotent by global position)."""
    rows = []
    for table, fn in PROJECTIONS.values():
        row = fn(message)
        if row is not None:
            rows.append((table, row))
    return projections.apply_rows(rows)


def apply_page(projections: ProjectionStore, messages: Iterable[dict], lock_timeout_ms: int | None = None) -> int:
    """Apply a page of events (message shape, in global order) to every projection in ONE
    transaction: the rows :func:`apply_event` writes for each of them, idempotent by global
    position in the same way. Tables in :data:`PROJECTIONS` order, positions ascending in each (the
    order of a per-event transaction, so the two never wait on each other in a cycle). Returns the
    rows given."""
    by_table: dict[str, list[Row]] = {table: [] for table, _fn in PROJECTIONS.values()}
    targets = [(fn, by_table[table].append) for table, fn in PROJECTIONS.values()]
    for message in messages:
        for fn, add in targets:
            row = fn(message)
            if row is not None:
                add(row)
    written = {t: rows for t, rows in by_table.items() if rows}
    if not written:
        return 0  # no event of the page maps to a row: nothing to write, no transaction
    return projections.apply_page(written, lock_timeout_ms=lock_timeout_ms)


class ReplaySource(LogReader, Protocol):
    """The log to replay and the projections to compare with (a PostgresEventStore)."""

    def read_all_messages(self, from_position: int = 1, limit: int = 1000) -> list[tuple]: ...

    @property
    def projections(self) -> ProjectionStore: ...


@dataclass
class ReplayReport:
    """Per projection: rows rebuilt, rows live, and rows that differ (over the live side's range)."""

    events: int = 0
    projections: dict = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return all(p["missing_live"] == 0 and p["extra_live"] == 0 for p in self.projections.values())


def _pages_ahead(store: "ReplaySource", batch: int) -> Iterator[list[tuple]]:
    """The log's pages in order (``read_all_messages`` tuples), the next one read by a helper thread while the caller works on
    this one (at most three pages held: projected, queued, being read): the database produces a page
    while Python projects the last.
    Raises what ``read_all_messages`` raises, in the caller."""
    pages: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def read() -> None:
        position = 1
        try:
            while not stop.is_set():
                page = store.read_all_messages(position, batch)
                pages.put(page)
                if not page:
                    return
                position = page[-1][0] + 1
        except BaseException as exc:  # handed to the caller, raised there
            pages.put(exc)

    reader = threading.Thread(target=read, name="replay-reader", daemon=True)
    reader.start()
    try:
        while True:
            page = pages.get()
            if isinstance(page, BaseException):
                raise page
            if not page:
                return
            yield page
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting to put, then let it end
            try:
                pages.get_nowait()
            except queue.Empty:
                reader.join(0.05)


class _LoadBehind:
    """Loads each projected page into the rebuild on a helper thread while the caller projects the
    next one (one page queued at most): the database writes a page while Python projects the next.
    ``put`` and ``finish`` raise what a load raised, in the caller; the rebuild's connection is only
    used by this thread until ``finish`` returns."""

    def __init__(self, rebuilt) -> None:
        self._pending: queue.Queue = queue.Queue(maxsize=1)
        self._error: list[BaseException] = []
        self._rebuilt = rebuilt
        self._thread = threading.Thread(target=self._run, name="replay-loader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            buffers = self._pending.get()
            if buffers is None:
                return
            if self._error:
                continue  # drain: the caller raises the first error
            try:
                for table, rows in buffers.items():
                    self._rebuilt.load(table, rows)
            except BaseException as exc:  # handed to the caller, raised there
                self._error.append(exc)

    def _raise(self) -> None:
        if self._error:
            raise self._error[0]

    def put(self, buffers: dict[str, list[Row]]) -> None:
        self._raise()
        self._pending.put(buffers)

    def finish(self) -> None:
        self._pending.put(None)
        self._thread.join()
        self._raise()


def replay(store: ReplaySource, names: Iterable[str] | None = None, progress: Callable[[int], None] | None = None,
           batch: int = 5000, apply: bool = False) -> ReplayReport:
    """Rebuild projections from the store and compare them with the live ones.

    ``missing_live``: rows the rebuild has that the live table lacks (within the
    positions the live table has reached); ``extra_live``: live rows the rebuild
    does not produce, or that differ. With ``apply=True`` the live tables are
    then replaced by the rebuild in the same transaction (after a projection's
    code changed), holding a lock that makes the live consumer wait, so no
    event is lost in between. Raises KeyError for an unknown projection name.
    """
    names = list(names or PROJECTIONS)
    chosen = {n: PROJECTIONS[n] for n in names}
    report = ReplayReport()
    with store.projections.rebuild([table for table, _fn in chosen.values()], lock=apply) as rebuilt:
        loads = decode_json
        loader = _LoadBehind(rebuilt)
        try:
            for page in _pages_ahead(store, batch):
                buffers: dict[str, list[Row]] = {t: [] for t, _ in chosen.values()}
                # (projection, its page buffer's append): bound once a page, not looked up per event
                targets = [(fn, buffers[table].append) for table, fn in chosen.values()]
                for position, stream, version, event_id, typ, data_json, recorded_at in page:
                    msg = {"global_position": position, "stream_name": stream, "stream_version": version,
                           "event_id": event_id, "type": typ, "data": loads(data_json),
                           "recorded_at": recorded_at}  # event_dict's message, formatted by the server
                    for fn, add in targets:
                        row = fn(msg)
                        if row is not None:
                            add(row)
                loader.put(buffers)
                report.events += len(page)
                if progress:
                    progress(report.events)
        finally:
            loader.finish()
        for name, (table, _fn) in chosen.items():
            report.projections[name] = rebuilt.compare(table, RELAY_CHECKPOINT)
            if apply:
                rebuilt.replace(table)
    return report

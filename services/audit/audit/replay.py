"""Applying events to the audit projections, and rebuilding them from the store.

``apply_event``: the live path (a RabbitMQ message) — one transaction,
idempotent by global position. ``replay``: rebuild one or all projections from
position 1 into temporary tables, streaming the store in pages (flat memory),
then compare with the live tables over the positions the live side has
reached, and report whether they match.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Iterable

from psycopg import sql

from audit.projections import PROJECTIONS, Row
from confide.envelope import RecordedEvent, format_timestamp
from confide.relay import RELAY_CHECKPOINT


def event_dict(ev: RecordedEvent) -> dict:
    """A stored event in the message shape the projections take."""
    return {"global_position": ev.global_position, "stream_name": ev.stream_name,
            "stream_version": ev.stream_version, "event_id": str(ev.event_id), "type": ev.type,
            "data": json.loads(ev.data_json), "recorded_at": format_timestamp(ev.recorded_at)}


def _insert(store, conn, table: str, rows: list[Row], temp: bool = False) -> None:
    if not rows:
        return
    cols = list(rows[0])
    if temp:
        # A rebuild writes into an empty table of its own: COPY, no conflicts possible.
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols)))
        with conn.cursor() as cur, cur.copy(copy) as out:
            for r in rows:
                out.write_row(tuple(r[c] for c in cols))
        return
    target = sql.SQL("{}.{}").format(sql.Identifier(store.schema), sql.Identifier(table))
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (global_position) DO NOTHING").format(
        target, sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join(sql.Placeholder() * len(cols)))
    with conn.cursor() as cur:
        cur.executemany(query, [tuple(r[c] for c in cols) for r in rows])


def apply_event(store, message: dict) -> int:
    """Apply one event (message shape) to every projection; returns rows written (0 on redelivery)."""
    written = 0
    with store.transaction() as conn:
        for table, fn in PROJECTIONS.values():
            row = fn(message)
            if row is not None:
                _insert(store, conn, table, [row])
                written += 1
    return written


@dataclass
class ReplayReport:
    """Per projection: rows rebuilt, rows live, and rows that differ (over the live side's range)."""

    events: int = 0
    projections: dict = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return all(p["missing_live"] == 0 and p["extra_live"] == 0 for p in self.projections.values())


def replay(store, names: Iterable[str] | None = None, progress: Callable[[int], None] | None = None,
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
    with store.transaction() as conn:
        if apply:
            for table, _fn in chosen.values():
                conn.execute(sql.SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
                    sql.Identifier(store.schema), sql.Identifier(table)))
        for table, _fn in chosen.values():
            conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {}.{} INCLUDING ALL) ON COMMIT DROP").format(
                sql.Identifier("rebuilt_" + table), sql.Identifier(store.schema), sql.Identifier(table)))
        position = 1
        while True:
            page = store.read_all(position, batch)
            if not page:
                break
            buffers: dict[str, list[Row]] = {t: [] for t, _ in chosen.values()}
            for ev in page:
                msg = event_dict(ev)
                for table, fn in chosen.values():
                    row = fn(msg)
                    if row is not None:
                        buffers[table].append(row)
            for table, rows in buffers.items():
                _insert(store, conn, "rebuilt_" + table, rows, temp=True)
            report.events += len(page)
            if progress:
                progress(report.events)
            position = page[-1].global_position + 1
        for name, (table, _fn) in chosen.items():
            report.projections[name] = _compare(store, conn, table)
            if apply:
                live = sql.SQL("{}.{}").format(sql.Identifier(store.schema), sql.Identifier(table))
                conn.execute(sql.SQL("DELETE FROM {}").format(live))
                conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                    live, sql.Identifier("rebuilt_" + table)))
    return report


def _compare(store, conn, table: str) -> dict:
    live = sql.SQL("{}.{}").format(sql.Identifier(store.schema), sql.Identifier(table))
    rebuilt = sql.Identifier("rebuilt_" + table)
    # Compare up to what the live side should have applied: its own highest row or the relay's
    # checkpoint, whichever is further (a relay pushed past events it never published shows here).
    high = conn.execute(sql.SQL(
        "SELECT greatest((SELECT coalesce(max(global_position), 0) FROM {}), "
        "(SELECT coalesce(max(position), 0) FROM {}.checkpoints WHERE name = %s))").format(
            live, sql.Identifier(store.schema)), (RELAY_CHECKPOINT,)).fetchone()[0]
    count = lambda t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t)).fetchone()[0]  # noqa: E731
    diff = lambda a, b: conn.execute(sql.SQL(  # noqa: E731
        "SELECT count(*) FROM (SELECT * FROM {a} WHERE global_position <= %s EXCEPT SELECT * FROM {b}) d"
    ).format(a=a, b=b), (high,)).fetchone()[0]
    return {"table": table, "rebuilt_rows": count(rebuilt), "live_rows": count(live), "live_high_position": high,
            "missing_live": diff(rebuilt, live), "extra_live": diff(live, rebuilt)}

"""PostgresEventStore: the event store's tables (events, checkpoints) on PostgreSQL.

SQL lives in this package (``store``; ``chain`` for the keyed chain;
``projection_store`` for the audit projections; ``install``) and in
``deploy/sql``, nowhere else: callers get methods, never a connection or a
query builder (``_connection``/``_q`` are for this package). What each caller
needs is named by the protocols of :mod:`confide.eventstore.interfaces`.

Contract (shared with :class:`confide.eventstore.memory.InMemoryEventStore` and
tested against both by ``tests/integration/shared/test_store_contract.py``):

- ``append(stream_name, events, expected_version) -> AppendResult``.
  ``expected_version``: ``-1`` the stream must not exist yet, ``n`` the stream's
  last version must be ``n``, ``None`` any (read, then append with that
  version). Raises WrongExpectedVersionError (nothing written),
  InvalidEventError (names the field), EventStoreUnavailableError.
  Re-appending an event id already stored writes nothing and returns the
  stored positions with ``duplicate=True``.
- ``multi_stream_append([(stream_name, events, expected_version), ...]) -> list[AppendResult]``:
  several streams appended atomically, in ONE transaction and one commit (each stream through
  ``append_events``, so every check it makes holds per stream), results in the order given. All
  or nothing: a stream whose expected version does not hold raises WrongExpectedVersionError
  naming it, and nothing of any stream is written. A retry of a whole multi-stream append (every
  stream's events already stored there) writes nothing and returns each stream's stored positions
  with ``duplicate=True``; a batch some of whose streams are stored and some not is no retry of it
  (an atomic append stores all or none) and is refused with InvalidEventError, nothing written.
  A stream may appear once; ``expected_version=None`` as for ``append`` (the whole transaction is
  retried when such a stream lost a race).
- ``read_stream(stream_name, from_version=0) -> list[RecordedEvent]``.
- ``read_all(from_position=1, limit=1000) -> list[RecordedEvent]``: events with
  ``global_position >= from_position`` in global order, never skipping an
  event that commits later with a lower position (see ``frontier``).
- ``read_category(category, from_position=1, limit=1000)``.
- ``stream_version(stream_name) -> int`` (-1 when absent), ``head_position()``.
- ``read_streams(stream_names)``, ``find_streams_by_patient(patient_id, event_type)``,
  ``find_streams_by_patients(patient_ids, event_type)`` (many patients, one query),
  ``get_event(event_id)``, ``iter_all(from_position)``.
- ``read_checkpoint(name)``, ``write_checkpoint(name, position, conn=None)``.
"""
from __future__ import annotations

import json
import random
import re
import select
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import starmap
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg_pool import ConnectionPool

from confide.contracts.patient_index import PATIENT_INDEXED_TYPES, sql_type_list
from confide.envelope import AppendResult, NewEvent, RecordedEvent, StreamAppend, batch_hasher, canonical_json
from confide.eventstore.errors import (
    EventStoreError,
    EventStoreUnavailableError,
    InvalidEventError,
    WrongExpectedVersionError,
)
from confide.timestamps import format_ts

if TYPE_CHECKING:
    from confide.eventstore.projection_store import PostgresProjectionStore

_COLUMNS = (
    "global_position, stream_name, stream_version, event_id, type, data, metadata, recorded_at, hash"
)
#: What a projection of the whole log reads (``read_all_messages``): the event id and recorded_at as
#: the server writes them in Confide's forms (``str(uuid)``; ``format_ts``: UTC, microseconds, Z).
_MESSAGE_COLUMNS = (
    "global_position, stream_name, stream_version, event_id::text, type, data, "
    "to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
)

# Visibility frontier: readers that keep a checkpoint read only positions below
# read_frontier(), the oldest position still held by an in-flight append (see
# deploy/sql/functions/append_events.sql). Everything below it is committed or
# aborted for good, so a reader never skips an event that commits later with a
# lower position. The frontier is asked in one statement and the events read
# in the next, so the read's snapshot is newer than the frontier.


# A JSON \u0000 escape (not an escaped backslash followed by "u0000").
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def prepare(
    stream_name: str, events: Sequence[NewEvent], first_version: int, now: datetime | None = None
) -> list[tuple[uuid.UUID, str, str, str, datetime, bytes]]:
    """Validate and serialise events for appending at ``first_version``.

    Returns rows (event_id, type, data_json, metadata_json, recorded_at, hash).
    Raises InvalidEventError naming the offending field.
    """
    if not isinstance(stream_name, str) or "-" not in stream_name or stream_name.startswith("-"):
        raise InvalidEventError(f"stream_name {stream_name!r} must be '<category>-<id>'")
    if not events:
        raise InvalidEventError("events: at least one event is required")
    now = now or datetime.now(timezone.utc)
    hash_of = batch_hasher(stream_name, format_ts(now))
    rows = []
    for i, ev in enumerate(events):
        if not isinstance(ev, NewEvent):
            raise InvalidEventError(f"events[{i}]: expected NewEvent, got {type(ev).__name__}")
        if not ev.type or not isinstance(ev.type, str):
            raise InvalidEventError(f"events[{i}].type must be a non-empty string")
        data, metadata = ev.data, ev.metadata
        try:
            data_json = canonical_json(data if type(data) is dict else dict(data))
        except Exception as exc:  # rfc8785 raises its own error types
            raise InvalidEventError(f"events[{i}].data is not canonical JSON: {exc}") from None
        try:
            metadata_json = canonical_json(metadata if type(metadata) is dict else dict(metadata))
        except Exception as exc:
            raise InvalidEventError(f"events[{i}].metadata is not canonical JSON: {exc}") from None
        # A plain substring test first (C); the regex only tells an escaped backslash apart.
        if ("\\u0000" in data_json and _NUL_ESCAPE.search(data_json)) or (
                "\\u0000" in metadata_json and _NUL_ESCAPE.search(metadata_json)):
            # PostgreSQL's jsonb (the patient index) cannot hold NUL, and no record needs one.
            raise InvalidEventError(f"events[{i}]: strings must not contain NUL (\\u0000) characters")
        event_id = ev.event_id if isinstance(ev.event_id, uuid.UUID) else uuid.UUID(str(ev.event_id))
        digest = hash_of(first_version + i, str(event_id), ev.type, data_json, metadata_json)
        rows.append((event_id, ev.type, data_json, metadata_json, now, digest))
    return rows


class Statement(sql.Composed):
    """A composed statement whose bytes are built once per client encoding of the connection it runs
    on (by psycopg's own ``Composed.as_bytes`` with that connection: the schema identifier quoted by
    libpq exactly as on every call before), then reused: ``SQL.format`` and the identifier's escaping
    are not redone per statement. Still a ``Composed`` (``+``, ``join``, server-side cursors, COPY)."""

    def __init__(self, composed: sql.Composed):
        super().__init__(list(composed))
        self._bytes: dict[bytes | None, bytes] = {}

    def as_bytes(self, context: Any = None) -> bytes:
        conn = context.connection if context is not None else None
        # The client encoding as the server reported it (what psycopg encodes and escapes with);
        # None without a connection (psycopg then quotes identifiers without libpq).
        encoding = (conn.pgconn.parameter_status(b"client_encoding") or b"") if conn is not None else None
        built = self._bytes.get(encoding)
        if built is None:
            built = self._bytes[encoding] = super().as_bytes(context)
        return built


def one(cursor: psycopg.Cursor) -> Any:
    """The first column of the one row a query that always returns a row returned.

    Raises EventStoreError when it returned none (the schema is not what this code expects)."""
    row = cursor.fetchone()
    if row is None:
        raise EventStoreError("a query that returns one row returned none")
    return row[0]


def _recorded(row: tuple) -> RecordedEvent:
    # The columns are in RecordedEvent's field order (_COLUMNS); bytea loads as bytes.
    return RecordedEvent(*row)


def _events(rows: list[tuple]) -> list[RecordedEvent]:
    """RecordedEvents of rows selected as ``_COLUMNS`` (the loop in C)."""
    return list(starmap(RecordedEvent, rows))


class PostgresEventStore:
    """Event store on PostgreSQL (psycopg 3, pooled, autocommit).

    ``dsn``: the services' role. ``schema``: the schema installed by
    ``confide.eventstore.install`` (default ``confide``). ``pool_size``: max
    connections; the pool is safe to share between green threads.
    """

    def __init__(self, dsn: str, schema: str = "confide", pool_size: int = 8, min_size: int = 1):
        self.schema = schema
        self._t = sql.Identifier(schema)
        self._statements: dict[str, Statement] = {}  # by template: see _q
        self._projections: "PostgresProjectionStore | None" = None
        self._pool = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=pool_size,
            kwargs={"autocommit": True},
            open=False,
            name=f"confide-{schema}",
            check=self._check_idle,
        )
        try:
            self._pool.open(wait=True, timeout=10)
        except Exception as exc:
            self._pool.close()
            raise EventStoreUnavailableError(f"event store at {_redact(dsn)} unreachable: {exc}") from None

    def close(self) -> None:
        self._pool.close()

    def _check_idle(self, conn: psycopg.Connection) -> None:
        """The pool's check of a connection it is about to hand out; raises (the pool then discards it
        and takes another) when the server closed it while it sat idle.

        A restarted or killed server leaves every idle connection dead, and each would fail the one
        call it is handed to. A dead connection has the server's last word (its FATAL notice, or EOF)
        waiting on the socket, so only a connection with something to read costs a round trip; when
        that fails, every idle connection is checked at once (``ConnectionPool.check``) rather than
        one call at a time. A healthy idle connection has nothing to read: no round trip."""
        if conn.closed:
            raise psycopg.OperationalError("the connection was closed")
        if not select.select([conn.fileno()], [], [], 0)[0]:
            return
        try:
            ConnectionPool.check_connection(conn)  # a notice, or the server's goodbye: ask
        except Exception:
            self._pool.check()
            raise

    @contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """A pooled autocommit connection with driver errors translated (store package only): a lost
        or refused connection, a pool timeout and a write refused by a standby (the connection is then
        dropped) raise EventStoreUnavailableError.

        ``timeout``: seconds to wait for a free or new connection (the pool's default, 30 s, when None).
        """
        try:
            with self._pool.connection(timeout=timeout) as conn:
                try:
                    yield conn
                except pg_errors.ReadOnlySqlTransaction:
                    # A standby answered (a failover under way: a proxy or a multi-host DSN reached a
                    # node that is not, or not yet, the primary). Nothing was written. The connection
                    # is closed, so the pool drops it and connects afresh (to the primary).
                    conn.close()
                    raise EventStoreUnavailableError("the database server is a standby (read-only): "
                                                     "no primary to write to yet") from None
                except Exception:
                    _release_session_locks(conn)
                    raise
        except EventStoreError:
            raise
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise EventStoreUnavailableError(str(exc)) from None
        except Exception as exc:  # psycopg_pool.PoolTimeout
            if type(exc).__name__ == "PoolTimeout":
                raise EventStoreUnavailableError(str(exc)) from None
            raise

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A connection inside one transaction (projection writes + checkpoint)."""
        with self._connection() as conn:
            with conn.transaction():
                yield conn

    #: At most this many statements are kept composed per store (the package's templates are a few
    #: dozen; one built from data past this is composed on every call, as before).
    STATEMENTS_KEPT = 512

    def _q(self, template: str) -> "Statement":
        """Compose SQL with ``{s}`` standing for this store's schema (store package only), once per
        store and template: the same :class:`Statement` (its bytes built once per client encoding)
        is handed to every later call with that template."""
        kept = self._statements
        statement = kept.get(template)
        if statement is None:
            statement = Statement(sql.SQL(template).format(s=self._t))
            if len(kept) < self.STATEMENTS_KEPT:
                kept[template] = statement
        return statement

    # -- writing -----------------------------------------------------------

    #: How often an any-version append (``expected_version=None``) reads the version again after
    #: losing a race before it gives up with WrongExpectedVersionError. Confide's one retry loop.
    ANY_VERSION_ATTEMPTS = 12

    def append(
        self, stream_name: str, events: Sequence[NewEvent], expected_version: int | None = None
    ) -> AppendResult:
        """Append ``events`` to ``stream_name`` atomically. See the module docstring."""
        if expected_version is not None and (not isinstance(expected_version, int) or expected_version < -1):
            raise InvalidEventError(f"expected_version {expected_version!r} must be None or an int >= -1")
        # "Any version" means: read the version, append at it, and on a race
        # read again — with a short jittered backoff so contending writers spread out.
        for attempt in range(self.ANY_VERSION_ATTEMPTS):
            expected = self.stream_version(stream_name) if expected_version is None else expected_version
            try:
                return self._append_once(stream_name, events, expected)
            except WrongExpectedVersionError:
                if expected_version is not None:
                    raise
                time.sleep(random.uniform(0, 0.002 * (2 ** min(attempt, 6))))
        raise WrongExpectedVersionError(stream_name, None, self.stream_version(stream_name))

    def _append_once(self, stream_name: str, events: Sequence[NewEvent], expected: int) -> AppendResult:
        rows = prepare(stream_name, events, expected + 1)
        cols = list(zip(*rows))
        ids = list(cols[0])
        query = self._q(
            "SELECT out_position, out_version, out_duplicate FROM {s}.append_events"
            "(%s, %s, %b, %b, %b, %b, %b, %b)"  # arrays in binary: no quoting of each JSON text
        )
        with self._connection() as conn:
            try:
                result = conn.execute(
                    query,
                    (stream_name, expected, ids, list(cols[1]), list(cols[2]), list(cols[3]),
                     list(cols[4]), list(cols[5])),
                    prepare=True,
                ).fetchall()
            except pg_errors.UniqueViolation:
                # Lost a race: either to a retry of this very append (then it is stored: report
                # it) or to another writer on the stream (a stale expected version).
                retried = self._retried(conn, stream_name, ids)
                if retried is not None:
                    return retried
                raise WrongExpectedVersionError(stream_name, expected, self._version(conn, stream_name)) from None
            except psycopg.errors.RaiseException as exc:
                raise EventStoreError(str(exc)) from None
            except psycopg.Error as exc:
                if exc.sqlstate == "CF001":
                    retried = self._retried(conn, stream_name, ids)
                    if retried is not None:
                        return retried
                    actual = int(exc.diag.message_detail or -1)
                    raise WrongExpectedVersionError(stream_name, expected, actual) from None
                if exc.sqlstate == "CF002":
                    raise InvalidEventError(f"events: {exc.diag.message_primary}") from None
                raise
        return AppendResult(
            global_positions=tuple(r[0] for r in result),
            stream_versions=tuple(r[1] for r in result),
            duplicate=bool(result and result[0][2]),
        )

    def multi_stream_append(self, appends: Sequence[StreamAppend]) -> list[AppendResult]:
        """Append to several streams atomically, in one transaction and one commit. See the module
        docstring; ``appends``: ``(stream_name, events, expected_version)`` each."""
        batch = check_stream_appends(appends)
        any_version = [name for name, _, expected in batch if expected is None]
        for attempt in range(self.ANY_VERSION_ATTEMPTS):
            versions = self._versions(any_version) if any_version else {}
            try:
                return self._multi_append_once(
                    [(name, events, versions[name] if expected is None else expected)
                     for name, events, expected in batch])
            except WrongExpectedVersionError as exc:
                if exc.stream_name not in any_version:
                    raise
                time.sleep(random.uniform(0, 0.002 * (2 ** min(attempt, 6))))
        versions = self._versions(any_version)
        raise WrongExpectedVersionError(any_version[0], None, versions[any_version[0]])

    def _versions(self, stream_names: list[str]) -> dict[str, int]:
        """Each stream's last version (-1 when absent), in one query."""
        with self._connection() as conn:
            rows = conn.execute(
                self._q("SELECT n.name, (SELECT max(e.stream_version) FROM {s}.events e WHERE e.stream_name = n.name) "
                        "FROM unnest(%s::text[]) AS n(name)"), (stream_names,), prepare=True).fetchall()
        return {name: -1 if version is None else version for name, version in rows}

    def _multi_append_once(self, batch: list[tuple[str, Sequence[NewEvent], int]]) -> list[AppendResult]:
        """One transaction: BEGIN and one ``append_events`` call per stream sent in one pipeline (one
        round trip), then COMMIT, or ROLLBACK when any call failed or the calls disagree on whether
        this is a retry. Each call takes its own in-flight mark before drawing its positions, and
        every mark is held until the one commit, so readers' frontier stays below all of them (never
        skipping) and MVCC shows them all the batch or none of it."""
        now = datetime.now(timezone.utc)  # one recorded_at for the whole batch: one moment on file
        prepared = [(name, expected, prepare(name, events, expected + 1, now)) for name, events, expected in batch]
        query = self._q(
            "SELECT out_position, out_version, out_duplicate FROM {s}.append_events"
            "(%s, %s, %b, %b, %b, %b, %b, %b)"
        )
        with self._connection() as conn:
            try:
                with conn.transaction():
                    with conn.pipeline():
                        cursors = []
                        for name, expected, rows in prepared:
                            cols = list(zip(*rows))
                            cursors.append(conn.execute(query, (name, expected, *map(list, cols)), prepare=True))
                    results = [cur.fetchall() for cur in cursors]
                    duplicate = [bool(r and r[0][2]) for r in results]
                    if any(duplicate) and not all(duplicate):
                        raise _PartlyStored()  # rolls the transaction back: nothing written
            except _PartlyStored:
                raise InvalidEventError("appends: some streams of this multi-stream append are stored and "
                                        "some are not (a multi-stream append is all new or a retry)") from None
            except pg_errors.UniqueViolation:
                return self._multi_retried(conn, prepared)
            except psycopg.errors.RaiseException as exc:
                raise EventStoreError(str(exc)) from None
            except pg_errors.DeadlockDetected:
                raise EventStoreUnavailableError("a multi-stream append deadlocked with another writer of "
                                                 "the same streams (nothing written)") from None
            except psycopg.Error as exc:
                if exc.sqlstate == "CF001":
                    return self._multi_retried(conn, prepared)
                if exc.sqlstate == "CF002":
                    raise InvalidEventError(f"events: {exc.diag.message_primary}") from None
                raise
        return [AppendResult(tuple(r[0] for r in rows), tuple(r[1] for r in rows), duplicate=bool(rows[0][2]))
                for rows in results]

    def _multi_retried(self, conn: psycopg.Connection,
                       prepared: list[tuple[str, int, list[tuple]]]) -> list[AppendResult]:
        """After a version conflict or a unique violation rolled a multi-stream append back: every
        stream's stored result when all its events are already stored in their streams (a concurrent
        retry of the whole batch won), else WrongExpectedVersionError naming the first stream not at
        its expected version. InvalidEventError (nothing written) when some ids are stored and some
        not, or an id is stored in another stream."""
        ids = [row[0] for _, _, rows in prepared for row in rows]
        stored = {r[0]: r[1:] for r in conn.execute(
            self._q("SELECT event_id, global_position, stream_version, stream_name FROM {s}.events "
                    "WHERE event_id = ANY(%s)"), (ids,)).fetchall()}
        if stored:
            elsewhere = sum(stored[row[0]][2] != name for name, _, rows in prepared for row in rows
                            if row[0] in stored)
            if elsewhere:
                raise InvalidEventError(f"events: append_events: {elsewhere} of these event ids are stored in "
                                        "another stream")
            if len(stored) < len(ids):
                raise InvalidEventError(f"events: {len(stored)} of {len(ids)} event ids of this multi-stream "
                                        "append are already stored (it is all new or a retry)")
            return [AppendResult(tuple(stored[row[0]][0] for row in rows), tuple(stored[row[0]][1] for row in rows),
                                 duplicate=True) for _, _, rows in prepared]
        for name, expected, _ in prepared:
            actual = self._version(conn, name)
            if actual != expected:
                raise WrongExpectedVersionError(name, expected, actual)
        raise EventStoreError("a multi-stream append was refused, yet every stream is at its expected version "
                              "and none of its events is stored")

    def _retried(self, conn: psycopg.Connection, stream_name: str, ids: list[uuid.UUID]) -> AppendResult | None:
        """After a unique violation or a version conflict: the stored result when every id is already
        in this stream (a concurrent retry), None when none of them is stored (a stale expected
        version). Raises InvalidEventError (as append_events' CF002 does) when some are stored in
        another stream, or only some of them are stored."""
        rows = conn.execute(
            self._q("SELECT global_position, stream_version, stream_name FROM {s}.events "
                    "WHERE event_id = ANY(%s) ORDER BY global_position"), (ids,)).fetchall()
        if not rows:
            return None
        elsewhere = sum(r[2] != stream_name for r in rows)
        if elsewhere:
            raise InvalidEventError(f"events: append_events: {elsewhere} of these event ids are stored in "
                                    "another stream")
        if len(rows) == len(ids):
            return AppendResult(tuple(r[0] for r in rows), tuple(r[1] for r in rows), duplicate=True)
        raise InvalidEventError(f"events: append_events: {len(rows)} of {len(ids)} event ids are already stored "
                                "(a batch is all new or a retry)")

    # -- reading -----------------------------------------------------------

    def _version(self, conn: psycopg.Connection, stream_name: str) -> int:
        row = conn.execute(
            self._q("SELECT max(stream_version) FROM {s}.events WHERE stream_name = %s"), (stream_name,)
        ).fetchone()
        return -1 if row is None or row[0] is None else row[0]

    def stream_version(self, stream_name: str) -> int:
        """Last version of the stream, -1 if it has no events."""
        with self._connection() as conn:
            return self._version(conn, stream_name)

    def read_stream(self, stream_name: str, from_version: int = 0) -> list[RecordedEvent]:
        """Every event of one stream from ``from_version`` on, in version order."""
        with self._connection() as conn:
            rows = conn.execute(
                self._q(f"SELECT {_COLUMNS} FROM {{s}}.events WHERE stream_name = %s "
                        "AND stream_version >= %s ORDER BY stream_version"),
                (stream_name, from_version), prepare=True, binary=True,
            ).fetchall()
        return _events(rows)

    def frontier(self, conn: psycopg.Connection | None = None) -> int:
        """The lowest position not yet safe to read (all below it are final)."""
        if conn is None:
            with self._connection() as c:
                return self.frontier(c)
        return one(conn.execute(self._q("SELECT {s}.read_frontier()"), prepare=True))

    def read_all(self, from_position: int = 1, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events with ``global_position >= from_position``, in order, below the frontier."""
        with self._connection() as conn:
            below = self.frontier(conn)
            rows = conn.execute(
                self._q(f"SELECT {_COLUMNS} FROM {{s}}.events WHERE global_position >= %s "
                        "AND global_position < %s ORDER BY global_position LIMIT %s"),
                (from_position, below, limit), prepare=True, binary=True,
            ).fetchall()
        return _events(rows)

    def read_all_messages(self, from_position: int = 1, limit: int = 1000) -> list[tuple]:
        """What :meth:`read_all` returns, for a reader that turns the whole log into messages
        (replay): each event as ``(global_position, stream_name, stream_version, event_id, type,
        data_json, recorded_at)`` with ``event_id`` and ``recorded_at`` already text, formatted by
        the server exactly as ``str(uuid)`` and :func:`confide.timestamps.format_ts` write them (the
        Python formatting was a third of a replay's own CPU). Same frontier, same order."""
        with self._connection() as conn:
            below = self.frontier(conn)
            return conn.execute(
                self._q(f"SELECT {_MESSAGE_COLUMNS} FROM {{s}}.events WHERE global_position >= %s "
                        "AND global_position < %s ORDER BY global_position LIMIT %s"),
                (from_position, below, limit), prepare=True, binary=True,
            ).fetchall()

    def read_category(self, category: str, from_position: int = 1, limit: int = 1000,
                      prefix_only: bool = True) -> list[RecordedEvent]:
        """Events of one stream category, in global order.

        ``prefix_only=True`` (for subscribers that keep a checkpoint) applies
        the same skip-free frontier as ``read_all``. A query that keeps no
        checkpoint (find a patient's notes) passes False and sees every
        committed event at once, even while an older transaction is still open.
        """
        with self._connection() as conn:
            below = self.frontier(conn) if prefix_only else 2**62
            rows = conn.execute(
                self._q(f"SELECT {_COLUMNS} FROM {{s}}.events WHERE category = %s AND global_position >= %s "
                        "AND global_position < %s ORDER BY global_position LIMIT %s"),
                (category, from_position, below, limit), prepare=True, binary=True,
            ).fetchall()
        return _events(rows)

    PATIENT_INDEXED_TYPES = PATIENT_INDEXED_TYPES

    def find_streams_by_patient(self, patient_id: str, event_type: str) -> list[str]:
        """Names of the streams opened by an ``event_type`` event whose data has this ``patient_id``.

        ``event_type`` must be one of PATIENT_INDEXED_TYPES (served by an index,
        deploy/sql/tables/10_events.sql); raises InvalidEventError otherwise.
        """
        if event_type not in self.PATIENT_INDEXED_TYPES:
            raise InvalidEventError(f"event_type {event_type!r} is not indexed by patient")
        if "\x00" in patient_id:
            return []  # no stored event can name such a patient (see prepare)
        with self._connection() as conn:
            rows = conn.execute(
                self._q("SELECT stream_name FROM {s}.events WHERE ((data::jsonb) ->> 'patient_id') = %s "
                        f"AND type = %s AND type IN ({sql_type_list()}) ORDER BY global_position"),
                (patient_id, event_type), prepare=True,
            ).fetchall()
        return [r[0] for r in rows]

    def find_streams_by_patients(self, patient_ids: Sequence[str], event_type: str) -> dict[str, list[str]]:
        """:meth:`find_streams_by_patient` for many patients in one query: ``{patient_id: [stream
        names in global order]}`` with every patient asked for a key (an empty list when none).

        Raises InvalidEventError for an ``event_type`` not in PATIENT_INDEXED_TYPES."""
        if event_type not in self.PATIENT_INDEXED_TYPES:
            raise InvalidEventError(f"event_type {event_type!r} is not indexed by patient")
        found: dict[str, list[str]] = {p: [] for p in patient_ids}
        wanted = [p for p in found if "\x00" not in p]  # no stored event can name such a patient
        if not wanted:
            return found
        with self._connection() as conn:
            # One index probe per patient, the patient id taken from the probe (not parsed out of
            # each row's data again: that cost ~7 µs a row, five times the probe).
            rows = conn.execute(
                self._q("SELECT p.patient_id, e.stream_name FROM unnest(%s::text[]) AS p(patient_id) "
                        "CROSS JOIN LATERAL (SELECT stream_name, global_position FROM {s}.events "
                        "WHERE ((data::jsonb) ->> 'patient_id') = p.patient_id "
                        f"AND type = %s AND type IN ({sql_type_list()})) e ORDER BY e.global_position"),
                (wanted, event_type), prepare=True,
            ).fetchall()
        for patient_id, name in rows:
            found[patient_id].append(name)
        return found

    def read_streams(self, stream_names: Sequence[str]) -> list[RecordedEvent]:
        """Every committed event of these streams, in global order (one query)."""
        if not stream_names:
            return []
        with self._connection() as conn:
            rows = conn.execute(
                self._q(f"SELECT {_COLUMNS} FROM {{s}}.events WHERE stream_name = ANY(%s) ORDER BY global_position"),
                (list(stream_names),), prepare=True, binary=True,
            ).fetchall()
        return _events(rows)

    def iter_all(self, from_position: int = 1, batch: int = 5000) -> Iterator[RecordedEvent]:
        """Every visible event from ``from_position`` on, in pages (flat memory)."""
        position = from_position
        while True:
            page = self.read_all(position, batch)
            yield from page
            if len(page) < batch:
                return
            position = page[-1].global_position + 1

    def head_position(self) -> int:
        """Highest visible global position (0 when empty)."""
        with self._connection() as conn:
            below = self.frontier(conn)
            row = conn.execute(
                self._q("SELECT max(global_position) FROM {s}.events WHERE global_position < %s"), (below,)
            ).fetchone()
        return (row[0] if row else None) or 0

    def get_event(self, event_id: uuid.UUID | str) -> RecordedEvent | None:
        """The stored event with this id, or None."""
        with self._connection() as conn:
            row = conn.execute(
                self._q(f"SELECT {_COLUMNS} FROM {{s}}.events WHERE event_id = %s"), (str(event_id),)
            ).fetchone()
        return _recorded(row) if row else None

    # -- checkpoints -------------------------------------------------------

    def read_checkpoint(self, name: str, conn: psycopg.Connection | None = None) -> int:
        """Last position processed by subscriber ``name`` (0 when none)."""
        if conn is None:
            with self._connection() as c:
                return self.read_checkpoint(name, c)
        row = conn.execute(self._q("SELECT position FROM {s}.checkpoints WHERE name = %s"), (name,)).fetchone()
        return row[0] if row else 0

    def write_checkpoint(self, name: str, position: int, conn: psycopg.Connection | None = None) -> None:
        """Store ``position`` for ``name``: on ``conn`` inside the caller's transaction (from
        :meth:`transaction`), or on its own when ``conn`` is None."""
        if conn is None:
            with self._connection() as c:
                return self.write_checkpoint(name, position, c)
        conn.execute(
            self._q("INSERT INTO {s}.checkpoints (name, position) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()"),
            (name, position),
        )

    def lock_checkpoint(self, name: str, conn: psycopg.Connection) -> int:
        """Claim subscriber ``name``'s checkpoint row for the caller's transaction and return its position.

        Creates the row at 0 when absent, then locks it until ``conn``'s transaction ends, so two
        instances of one subscriber never interleave (the second waits for the first to commit).
        """
        conn.execute(self._q("INSERT INTO {s}.checkpoints (name, position) VALUES (%s, 0) "
                             "ON CONFLICT (name) DO NOTHING"), (name,))
        return one(conn.execute(self._q("SELECT position FROM {s}.checkpoints WHERE name = %s FOR UPDATE"),
                                (name,)))

    # -- health and views --------------------------------------------------

    def ping(self, timeout: float = 3.0) -> None:
        """Round-trip to the database through the pool within about ``timeout`` seconds.

        Raises EventStoreUnavailableError (no connection to be had, or it broke) — never
        with the DSN in the message.
        """
        with self._connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    @property
    def projections(self) -> "PostgresProjectionStore":
        """The audit projections' tables and views on this store's pool and schema."""
        if self._projections is None:
            from confide.eventstore.projection_store import PostgresProjectionStore

            self._projections = PostgresProjectionStore(self)
        return self._projections


class _PartlyStored(Exception):
    """Raised inside a multi-stream append's transaction to roll it back (see _multi_append_once)."""


def check_stream_appends(appends: Sequence[StreamAppend]) -> list[tuple[str, Sequence[NewEvent], int | None]]:
    """``appends`` as (stream_name, events, expected_version) triples, checked: at least one, each
    stream once, each expected version None or an int >= -1. Raises InvalidEventError naming the
    offending entry (the events themselves are checked by ``prepare``)."""
    if isinstance(appends, (str, bytes)) or not appends:
        raise InvalidEventError("appends: at least one (stream_name, events, expected_version) is required")
    out: list[tuple[str, Sequence[NewEvent], int | None]] = []
    seen: set[str] = set()
    for i, entry in enumerate(appends):
        try:
            name, events, expected = entry
        except (TypeError, ValueError):
            raise InvalidEventError(f"appends[{i}]: expected (stream_name, events, expected_version)") from None
        if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool) or expected < -1):
            raise InvalidEventError(f"appends[{i}].expected_version {expected!r} must be None or an int >= -1")
        if name in seen:
            raise InvalidEventError(f"appends[{i}]: stream {name!r} is named twice (one entry per stream)")
        seen.add(name)
        out.append((name, list(events), expected))
    return out


def _release_session_locks(conn: psycopg.Connection) -> None:
    # A connection that failed while holding a session advisory lock (the sealer's, or one
    # an older append_events took) must not return to the pool still holding it, or the
    # next holder of that lock would wait forever. Only on errors: doing it on every
    # return cost a round trip per call.
    try:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            conn.rollback()
        conn.execute("SELECT pg_advisory_unlock_all()")
    except psycopg.Error:
        pass  # a broken connection is discarded by the pool; its locks die with it


def _redact(dsn: str) -> str:
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except Exception:
        return "<dsn>"
    params.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in params.items())


def json_default(value: Any) -> Any:
    """json.dumps default for ids and timestamps in replies (dump before kombu)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    return json.dumps(value, default=json_default)

"""PostgresProjectionStore: the audit projections' tables and views (deploy/sql/projections).

The audit service decides *what* a projection row is (``audit.projections``,
pure Python); this module is the only code that reads or writes those tables:

- ``select(view, where=..., related_by=..., order_by=..., limit=...)``: rows of
  a table or view as dicts, filtered by equality on columns.
- ``access_log_on_notes_by(author_id, ...)``: the access-log rows covering a note
  one person drafted (``note_ids`` overlapping her notes in ``note_version_view``), newest first.
- ``access_log_search`` / ``access_log_counts`` / ``access_log_choices``: the access log
  filtered by decision, rule, purpose, requester role and time, its counts per rule and per day,
  and the values present to filter on (the auditor's pages).
- ``access_log_of_patient(patient_id, ...)``: one patient's access-log rows, newest first,
  leaving out the note kinds named (the patient portal's "who saw my record").
- ``apply_rows([(table, row), ...])``: one event's rows in one transaction,
  idempotent by ``global_position`` (a redelivered event writes nothing).
- ``apply_page({table: [row, ...]})``: the rows of a page of events in one transaction, with the
  same idempotence (the outbox relay's pass, before it publishes the page).
- ``rebuild(tables, lock=...)``: a transaction with an empty temporary copy of
  each table (``rebuilt_<table>``, dropped at commit) to ``load`` rebuilt rows
  into, ``compare`` with the live table, and ``replace`` the live table with.

Table, view and column names come from code (never from a request) and are
quoted as identifiers all the same; values are always bound parameters. It
shares the pool, schema and error translation of its
:class:`~confide.eventstore.store.PostgresEventStore` (get it as
``store.projections``).
"""
from __future__ import annotations

from contextlib import contextmanager
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from psycopg import sql
from psycopg.rows import dict_row

from confide.eventstore.errors import EventStoreError
from confide.eventstore.store import one

if TYPE_CHECKING:
    import psycopg

    from confide.eventstore.store import PostgresEventStore

Row = Mapping[str, Any]
REBUILT_PREFIX = "rebuilt_"


class PostgresProjectionStore:
    """The projections of one event-store schema. See the module docstring."""

    def __init__(self, store: "PostgresEventStore"):
        self._store = store

    @property
    def schema(self) -> str:
        return self._store.schema

    def _table(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self._store.schema), sql.Identifier(name))

    # -- reading -----------------------------------------------------------

    def select(self, view: str, *, where: Mapping[str, Any] | None = None, related_by: str | None = None,
               order_by: str = "global_position", limit: int | None = None) -> list[dict]:
        """Rows of ``view`` (a table or view) in ``order_by`` order, at most ``limit`` (all when None).

        ``where``: ``{column: value}``, all of which must hold. ``related_by``: a column; the rows
        matching ``where`` and every row sharing a ``related_by`` value with one of them (e.g. each
        step of a patient's requests, when only the first step names the patient). Raises
        ValueError for ``related_by`` without ``where``.
        """
        where = dict(where or {})
        if related_by and not where:
            raise ValueError("related_by needs a where filter")
        table = self._table(view)
        match = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in where)
        params: list[Any] = list(where.values())
        if related_by:
            match = sql.SQL("({m}) OR {k} IN (SELECT {k} FROM {t} WHERE {m})").format(
                m=match, k=sql.Identifier(related_by), t=table)
            params += list(where.values())
        query = sql.SQL("SELECT * FROM {}").format(table)
        if where:
            query += sql.SQL(" WHERE ") + match
        query += sql.SQL(" ORDER BY {}").format(sql.Identifier(order_by))
        if limit is not None:
            query += sql.SQL(" LIMIT %s")
            params.append(limit)
        with self._store._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params).fetchall()

    def access_log_on_notes_by(self, author_id: str, *, drafted_types: Sequence[str],
                               limit: int | None = None) -> list[dict]:
        """Rows of ``access_log_view`` covering a note drafted by ``author_id``, newest first, each
        once, with ``author_note_ids``: the author's notes among the row's ``note_ids`` (in its order).

        A note's author is the ``actor_id`` of its drafting row in ``note_version_view`` (an event of
        one of ``drafted_types``), not of any later version (a supervisor's co-signature, an
        amendment). A row counts when its ``note_ids`` (every note the decision covers, a disclosure
        request's several as well as a read's one) overlaps the author's notes, so a decision on
        several notes is found though its ``note_id`` is NULL, and appears once however many of her
        notes it covers.

        Two statements on one connection, each served by an index. First the author's notes, from
        ``note_version_actor_idx`` (actor_id, event_type) INCLUDE (note_id). Then
        the decisions, with her note ids bound as an array value: the planner sees the actual ids
        and estimates the overlap ``note_ids && <her notes>`` from the column's element statistics,
        so for a typical author (a small share of the log) the GIN index ``access_log_note_ids_idx``
        finds exactly the decisions touching her notes (a bitmap scan, then a top-``limit`` sort by
        position), and for an author with a large share it walks the primary key backwards and
        stops at ``limit``. (Computed inside the same statement, her ids are unknown at planning
        time, a default 1% overlap is assumed and the primary-key walk is chosen even for an author
        with three decisions: it then reads the whole log. For the same reason the statement is never
        prepared: a cached generic plan would make the same blind choice.)
        """
        if not drafted_types:
            return []
        access, versions = self._table("access_log_view"), self._table("note_version_view")
        drafted = sql.SQL("SELECT DISTINCT note_id FROM {v} WHERE actor_id = %s AND event_type = ANY(%s)"
                          ).format(v=versions)
        query = sql.SQL(
            "SELECT a.*, ARRAY(SELECT n FROM unnest(a.note_ids) WITH ORDINALITY AS u(n, i)"
            " WHERE n = ANY(%(mine)s) ORDER BY i) AS author_note_ids"
            " FROM {a} a WHERE a.note_ids && %(mine)s::text[] ORDER BY a.global_position DESC").format(a=access)
        with self._store._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            mine = [r["note_id"] for r in cur.execute(drafted, [author_id, list(drafted_types)]).fetchall()]
            if not mine:
                return []
            params: dict[str, Any] = {"mine": mine}
            if limit is not None:
                query += sql.SQL(" LIMIT %(limit)s")
                params["limit"] = limit
            return cur.execute(query, params, prepare=False).fetchall()

    #: The access log's columns a caller may filter on by equality (``access_log_search``).
    ACCESS_LOG_FILTERS = ("decision", "rule", "purpose", "requester_role", "patient_id", "note_id")

    def _access_log_match(self, filters: Mapping[str, Any], since: Any, until: Any) -> tuple[sql.Composable, list]:
        unknown = set(filters) - set(self.ACCESS_LOG_FILTERS)
        if unknown:
            raise ValueError(f"cannot filter the access log on {sorted(unknown)}")
        # ``note_id``: the decisions covering that note, a decision on several notes included (its
        # ``note_id`` is NULL): containment in ``note_ids``, served by access_log_note_ids_idx.
        parts: list[sql.Composable] = [sql.SQL("note_ids @> ARRAY[%s]::text[]") if c == "note_id" else
                                       sql.SQL("{} = %s").format(sql.Identifier(c)) for c in filters]
        params: list[Any] = [str(v) if c == "note_id" else v for c, v in filters.items()]
        if since is not None:
            parts.append(sql.SQL("recorded_at >= %s"))
            params.append(since)
        if until is not None:
            parts.append(sql.SQL("recorded_at < %s"))
            params.append(until)
        if not parts:
            return sql.SQL(""), params
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), params

    def access_log_search(self, filters: Mapping[str, Any], *, since: Any = None, until: Any = None,
                          limit: int | None = None, newest_first: bool = True) -> list[dict]:
        """Rows of ``access_log_view`` matching ``filters`` (equality on ``ACCESS_LOG_FILTERS``
        columns; ``note_id``: every decision covering that note, one on several notes included)
        recorded in ``[since, until)``, by global position. ValueError on another column."""
        match, params = self._access_log_match(filters, since, until)
        query = sql.SQL("SELECT * FROM {}").format(self._table("access_log_view")) + match
        query += sql.SQL(" ORDER BY global_position DESC" if newest_first else " ORDER BY global_position")
        if limit is not None:
            query += sql.SQL(" LIMIT %s")
            params.append(limit)
        with self._store._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params).fetchall()

    def access_log_of_patient(self, patient_id: str, *, excluded_note_kinds: Sequence[str] = (),
                              limit: int | None = None) -> list[dict]:
        """Rows of ``access_log_view`` about ``patient_id``, newest first, except those whose
        ``note_kind`` is one of ``excluded_note_kinds`` (rows with no note kind are kept)."""
        query = sql.SQL("SELECT * FROM {} WHERE patient_id = %s AND (note_kind IS NULL OR NOT note_kind = ANY(%s))"
                        " ORDER BY global_position DESC").format(self._table("access_log_view"))
        params: list[Any] = [patient_id, list(excluded_note_kinds)]
        if limit is not None:
            query += sql.SQL(" LIMIT %s")
            params.append(limit)
        with self._store._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, params).fetchall()

    def access_log_counts(self, filters: Mapping[str, Any], *, since: Any = None, until: Any = None) -> dict:
        """Counts over the same rows as :meth:`access_log_search`: ``{"by_rule": [{rule, decision, n}],
        "by_day": [{day (UTC date), decision, n}], "total": n}`` (every matching row, not a page)."""
        match, params = self._access_log_match(filters, since, until)
        table = self._table("access_log_view")
        by_rule = sql.SQL("SELECT rule, decision, count(*) AS n FROM {}").format(table) + match + sql.SQL(
            " GROUP BY rule, decision ORDER BY rule NULLS LAST, decision")
        by_day = sql.SQL("SELECT (recorded_at AT TIME ZONE 'UTC')::date AS day, decision, count(*) AS n FROM {}"
                         ).format(table) + match + sql.SQL(" GROUP BY 1, 2 ORDER BY 1, 2")
        with self._store._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rules = cur.execute(by_rule, params).fetchall()
            days = cur.execute(by_day, params).fetchall()
        return {"by_rule": rules, "by_day": days, "total": sum(r["n"] for r in rules)}

    def access_log_choices(self) -> dict:
        """The distinct values of each filterable access-log column present (for a filter's choices)."""
        table = self._table("access_log_view")
        out: dict[str, list] = {}
        with self._store._connection() as conn:
            for column in ("decision", "rule", "purpose", "requester_role"):
                query = sql.SQL("SELECT DISTINCT {c} FROM {t} WHERE {c} IS NOT NULL ORDER BY 1").format(
                    c=sql.Identifier(column), t=table)
                out[column] = [r[0] for r in conn.execute(query).fetchall()]
        return out

    # -- the live path -----------------------------------------------------

    def apply_rows(self, rows: Iterable[tuple[str, Row]]) -> int:
        """Insert each ``(table, row)`` in one transaction, skipping a ``global_position`` already
        in its table. Returns how many rows were given (written or already there)."""
        given = 0
        with self._store.transaction() as conn:
            for table, row in rows:
                self._insert(conn, self._table(table), [row])
                given += 1
        return given

    def apply_page(self, rows_by_table: Mapping[str, Sequence[Row]], *, lock_timeout_ms: int | None = None) -> int:
        """Insert the rows of several events (a page of the log) in ONE transaction, one multi-row
        INSERT per table, skipping a ``global_position`` already in its table: the same rows and the same idempotence as one
        :meth:`apply_rows` per event, with one commit. Tables are written in the mapping's order, each
        table's rows in the order given (give them in the order :meth:`apply_rows` callers use, tables
        in one fixed order and positions ascending, so a concurrent per-event writer never waits in a
        cycle with this one).

        ``lock_timeout_ms``: the longest this transaction waits for any one lock (a rebuild holding
        the tables, a concurrent writer of the same position) before it fails (psycopg's
        LockNotAvailable) and rolls back; None waits as long as :meth:`apply_rows` does.
        Returns how many rows were given (written or already there)."""
        given = 0
        with self._store.transaction() as conn:
            if lock_timeout_ms is not None:
                conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(lock_timeout_ms)}ms",))
            for table, rows in rows_by_table.items():
                target = self._table(table)
                by_columns: dict[tuple, list[Row]] = {}
                for row in rows:  # rows of one table share their columns; grouped all the same
                    by_columns.setdefault(tuple(row), []).append(row)
                for same in by_columns.values():
                    for start in range(0, len(same), self.PAGE_INSERT_ROWS):
                        self._insert_values(conn, target, same[start:start + self.PAGE_INSERT_ROWS])
                    given += len(same)
        return given

    #: The most rows one multi-row INSERT of :meth:`apply_page` carries (bound parameters stay far
    #: below PostgreSQL's 65,535).
    PAGE_INSERT_ROWS = 1000

    @staticmethod
    def _insert_values(conn: "psycopg.Connection", target: sql.Composable, rows: Sequence[Row]) -> None:
        """One ``INSERT ... VALUES (...), (...) ON CONFLICT (global_position) DO NOTHING`` for rows
        sharing their columns (one statement, however many rows; never prepared: its text varies
        with the row count)."""
        cols = list(rows[0])
        one_row = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(cols)))
        query = sql.SQL("INSERT INTO {} ({}) VALUES {} ON CONFLICT (global_position) DO NOTHING").format(
            target, sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join([one_row] * len(rows)))
        conn.execute(query, [r[c] for r in rows for c in cols], prepare=False)

    @staticmethod
    def _insert(conn: "psycopg.Connection", target: sql.Composable, rows: Sequence[Row]) -> None:
        if not rows:
            return
        cols = list(rows[0])
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (global_position) DO NOTHING").format(
            target, sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join(sql.Placeholder() * len(cols)))
        with conn.cursor() as cur:
            cur.executemany(query, [tuple(r[c] for c in cols) for r in rows])

    # -- rebuilding --------------------------------------------------------

    @contextmanager
    def rebuild(self, tables: Sequence[str], *, lock: bool = False) -> Iterator["PostgresRebuild"]:
        """One transaction holding an empty temporary copy of each of ``tables``.

        ``lock=True`` first locks the live tables in EXCLUSIVE mode (readers go on; the live
        consumer's writes wait until commit), for a rebuild that will ``replace`` them. Everything
        done through the yielded :class:`PostgresRebuild` commits together at the end of the block,
        or rolls back if it raises.
        """
        with self._store.transaction() as conn:
            if lock:
                for table in tables:
                    conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self._table(table)))
            for table in tables:
                # no indexes: each event maps to one row at most, and the compare and the replace
                # read every row anyway: keeping indexes up to date would only slow the COPY
                conn.execute(sql.SQL(
                    "CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) ON COMMIT DROP").format(
                    sql.Identifier(REBUILT_PREFIX + table), self._table(table)))
            yield PostgresRebuild(self, conn)


class PostgresRebuild:
    """The temporary tables of one :meth:`PostgresProjectionStore.rebuild` (inside its transaction)."""

    def __init__(self, projections: PostgresProjectionStore, conn: "psycopg.Connection"):
        self._projections = projections
        self._conn = conn

    def load(self, table: str, rows: Sequence[Row]) -> None:
        """Add rows to the rebuild of ``table`` (COPY: it is empty and our own, no conflicts possible)."""
        if not rows:
            return
        cols = list(rows[0])
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(REBUILT_PREFIX + table), sql.SQL(", ").join(map(sql.Identifier, cols)))
        values = itemgetter(*cols) if len(cols) > 1 else (lambda r: (r[cols[0]],))
        with self._conn.cursor() as cur, cur.copy(copy) as out:
            write = out.write_row
            for r in rows:
                write(values(r))

    def compare(self, table: str, checkpoint: str) -> dict:
        """Compare the rebuild of ``table`` with the live table up to what the live side should have
        applied: its own highest row or the position of ``checkpoint`` (the relay's), whichever is
        further — so a relay that moved past events it never published shows as missing rows.

        Returns {table, rebuilt_rows, live_rows, live_high_position, missing_live, extra_live}:
        ``missing_live`` rows the rebuild has that the live table lacks, ``extra_live`` live rows the
        rebuild does not produce, or that differ.
        """
        conn = self._conn
        live = self._projections._table(table)
        rebuilt = sql.Identifier(REBUILT_PREFIX + table)
        high = one(conn.execute(sql.SQL(
            "SELECT greatest((SELECT coalesce(max(global_position), 0) FROM {}), "
            "(SELECT coalesce(max(position), 0) FROM {}.checkpoints WHERE name = %s))").format(
                live, sql.Identifier(self._projections.schema)), (checkpoint,)))

        # One pass over both: rows are keyed by global_position (the live table's primary key; the
        # rebuild maps each event to one row at most), so "a rebuilt row the live table lacks" is a
        # rebuilt row with no live row at its position or a different one there, and the other way
        # round -- what the two EXCEPTs over whole rows counted, in one hash join instead of two sorts.
        counts = conn.execute(sql.SQL(
            "SELECT (SELECT count(*) FROM {r}), (SELECT count(*) FROM {l}),"
            " count(*) FILTER (WHERE r.global_position IS NOT NULL"
            "                  AND (l.global_position IS NULL OR ROW(r.*) IS DISTINCT FROM ROW(l.*))),"
            " count(*) FILTER (WHERE l.global_position IS NOT NULL"
            "                  AND (r.global_position IS NULL OR ROW(r.*) IS DISTINCT FROM ROW(l.*)))"
            " FROM (SELECT * FROM {r} WHERE global_position <= %(high)s) r"
            " FULL JOIN (SELECT * FROM {l} WHERE global_position <= %(high)s) l USING (global_position)"
        ).format(r=rebuilt, l=live), {"high": high}).fetchone()
        if counts is None:  # an aggregate always returns a row: the schema is not what this code expects
            raise EventStoreError(f"comparing {table} with its rebuild returned no row")
        rebuilt_rows, live_rows, missing_live, extra_live = counts
        return {"table": table, "rebuilt_rows": rebuilt_rows, "live_rows": live_rows,
                "live_high_position": high, "missing_live": missing_live, "extra_live": extra_live}

    def replace(self, table: str) -> None:
        """Make the live ``table`` hold exactly the rebuilt rows (at the rebuild's commit)."""
        live = self._projections._table(table)
        self._conn.execute(sql.SQL("DELETE FROM {}").format(live))
        self._conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
            live, sql.Identifier(REBUILT_PREFIX + table)))

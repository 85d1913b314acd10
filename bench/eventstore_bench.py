"""Event store benchmark: ours against raw psycopg, COPY and the `eventsourcing` library.

Usage (``make bench`` runs the full measurement)::

    .venv/bin/python bench/eventstore_bench.py            # --full: the real numbers (~5-8 min)
    .venv/bin/python bench/eventstore_bench.py --quick    # CI smoke run (~1-2 min)

Everything runs in ONE process tree against ONE database (``confide_test`` by
default, ``--db`` to change), in throw-away schemas ``bench_<random>`` (and
``bench_<random>_mem`` for the memory test) that are dropped at the end, even
on failure. The production ``confide`` schema is never touched. Keys and
signed checkpoints live in a temporary directory, removed at the end.

What is measured (events per second, after a warm-up, each over ``--seconds``
and at least a minimum number of operations):

* raw psycopg single-row INSERT, autocommit (one transaction per row), into a
  table ``LIKE events INCLUDING ALL`` (same columns, defaults, generated
  column, CHECKs, PK, UNIQUEs, category index); rows pre-serialised, so this
  is the database's per-commit cost plus one round trip;
* COPY (binary) of 100k pre-built rows into a fresh table of the same shape:
  the physical limit for bulk loading;
* raw INSERT ... SELECT FROM unnest of 100 pre-serialised rows (binary arrays), one transaction
  per call, into the same table: a batched append's cost to the database with no checks, i.e. the
  ceiling of ours at 100 events per call (a commit per 100 rows, where COPY commits once);
* ours: ``PostgresEventStore.append(stream, [NewEvent], expected_version)``
  and the same with 100 events per call (validation, RFC 8785 serialisation
  and content hashing included: that is what a caller pays);
* the peer: ``eventsourcing.postgres.PostgresApplicationRecorder.insert_events``
  with the same events (JSON-serialised in the timed loop, as its transcoder
  would), one event per call and 100 per call;
* 1 and 4 concurrent writer *processes* (multiprocessing, spawn) for ours, the
  raw INSERT and the peer, each writer on its own streams;
* reading: ``iter_all`` (pages of ``read_all``) against a raw ordered SELECT,
  and ``confide.eventstore.chain.verify`` (after sealing every bench event
  with ``ChainSealer``) against a raw ordered SELECT + SHA-256 of each row;
* peak memory of ``verify`` over 100k and 1M events (``--quick``: 10k and
  100k) in a fresh subprocess: peak RSS (VmHWM) minus RSS just before the
  call. The rows are COPYed straight into the events table with hashes from
  ``confide.envelope.content_hash``, then sealed with ``ChainSealer``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import signal
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import psycopg
from psycopg import sql

import harness
from confide.envelope import NewEvent, canonical_json, content_hash
from confide.eventstore import chain
from confide.eventstore.store import _COLUMNS, PostgresEventStore
from confide.keys import load_public_key, load_signing_key
from confide.timestamps import format_ts
from harness import canon as _canon
from harness import num as _fmt

BATCH = 100
COPY_ROWS = 100_000
WRITERS = 4
EVENT_TYPE = "NoteAmended"
_VALUES = ("The patient reports improved sleep; continue current plan and review in four weeks. ",
           "Medication reconciled with pharmacy record; no interactions found at this visit. ",
           "Referral letter sent to physiotherapy; awaiting appointment confirmation today. ")


# -- configuration -----------------------------------------------------------------------------


@dataclass
class Settings:
    dbname: str
    admin_dsn: str  # superuser, pointed at dbname
    app_dsn: str  # the services' role, pointed at dbname
    rounds: int  # interleaved rounds per rate (median reported)
    slice_s: float  # seconds per contender per round
    warmup: float
    min_ops: int  # per contender per round
    mem_small: int
    mem_big: int
    quick: bool
    schema: str = ""
    tmp: Path = field(default_factory=Path)

    @property
    def keys(self) -> Path:
        return self.tmp / "keys"


def settings_from_args(args: argparse.Namespace) -> Settings:
    admin, app = harness.dsns(args.db)
    if args.quick:
        s = Settings(args.db, admin, app, 2, 0.75, 0.3, 50, 30_000, 100_000, True)
    else:
        s = Settings(args.db, admin, app, 4, 1.25, 1.0, 150, 100_000, 1_000_000, False)
    if getattr(args, "seconds", 0):
        s.slice_s = args.seconds / s.rounds
    return s


# -- synthetic events ----------------------------------------------------------------------------


def bench_event(i: int) -> NewEvent:
    """The synthetic event every contender writes (about 250 bytes of canonical JSON)."""
    return NewEvent(
        type=EVENT_TYPE,
        data={"field": "summary", "patient_id": f"pat-{i % 5000:05d}", "seq": i,
              "value": _VALUES[i % 3] + str(i)},
        metadata={"actor": "bench", "source": "eventstore_bench"},
    )


def raw_payloads(n: int = 1000) -> list[tuple[str, str, str, bytes]]:
    """Pre-serialised (type, data, metadata, hash) for the raw baselines."""
    out = []
    for i in range(n):
        ev = bench_event(i)
        out.append((ev.type, _canon(dict(ev.data)), _canon(dict(ev.metadata)), hashlib.sha256(b"%d" % i).digest()))
    return out


def stored_event(ev: NewEvent, originator: uuid.UUID, version: int):
    from eventsourcing.persistence import StoredEvent

    state = json.dumps({"data": ev.data, "metadata": ev.metadata, "id": str(ev.event_id)}).encode()
    return StoredEvent(originator_id=originator, originator_version=version,
                       topic="confide.bench:" + ev.type, state=state)


# -- timing ----------------------------------------------------------------------------------


@dataclass
class Rate:
    """``events`` in ``seconds`` (all rounds summed); ``per_s`` is the median of the rounds' rates."""

    events: int
    seconds: float
    rounds: list[float] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        if self.rounds:
            return statistics.median(self.rounds)
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def spread(self) -> str:
        if len(self.rounds) < 2:
            return "-"
        return f"{min(self.rounds):,.0f}–{max(self.rounds):,.0f}"


def measure_interleaved(contenders: dict[str, tuple[Callable[[], None], int]], s: Settings,
                        min_ops: int | None = None) -> dict[str, Rate]:
    """Warm every contender up, then run them in turn, ``s.rounds`` rounds of ``s.slice_s`` s each
    (and at least ``min_ops`` calls), so that background load hits all of them alike."""
    min_ops = s.min_ops if min_ops is None else min_ops
    for op, _per in contenders.values():
        end = time.perf_counter() + s.warmup
        while time.perf_counter() < end:
            op()
    out = {name: Rate(0, 0.0) for name in contenders}
    for _ in range(s.rounds):
        for name, (op, per) in contenders.items():
            n = 0
            t0 = time.perf_counter()
            while True:
                op()
                n += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= s.slice_s and n >= min_ops:
                    break
            r = out[name]
            r.events += n * per
            r.seconds += elapsed
            r.rounds.append(n * per / elapsed)
    return out


# -- contenders: single process --------------------------------------------------------------


class Versions:
    """Round-robin over ``n`` streams, tracking each stream's last version."""

    def __init__(self, prefix: str, n: int):
        self.names = [f"{prefix}-{k}" for k in range(n)]
        self.ids = [uuid.uuid5(uuid.NAMESPACE_URL, name) for name in self.names]
        self.last = [-1] * n
        self.k = 0

    def next(self, count: int = 1) -> tuple[int, int]:
        """(stream index, expected version) for the next append of ``count`` events."""
        k = self.k = (self.k + 1) % len(self.names)
        expected = self.last[k]
        self.last[k] += count
        return k, expected


def ours_single_op(store: PostgresEventStore, prefix: str) -> Callable[[], None]:
    v = Versions(prefix, 500)
    counter = iter(range(10**12))

    def op() -> None:
        k, expected = v.next()
        store.append(v.names[k], [bench_event(next(counter))], expected)
    return op


def ours_batch_op(store: PostgresEventStore, prefix: str) -> Callable[[], None]:
    v = Versions(prefix, 50)
    counter = iter(range(10**12))

    def op() -> None:
        k, expected = v.next(BATCH)
        store.append(v.names[k], [bench_event(next(counter)) for _ in range(BATCH)], expected)
    return op


def raw_insert_op(conn: psycopg.Connection, schema: str, prefix: str) -> Callable[[], None]:
    v = Versions(prefix, 500)
    payloads = raw_payloads()
    query = sql.SQL(
        "INSERT INTO {s}.raw_events (global_position, stream_name, stream_version, event_id, type, "
        "data, metadata, recorded_at, hash) "
        "VALUES (nextval('{s}.raw_events_seq'), %s, %s, %s, %s, %s, %s, %s, %s)"
    ).format(s=sql.Identifier(schema))
    query = query.as_string(conn)
    counter = iter(range(10**12))

    def op() -> None:
        k, expected = v.next()
        t, data, meta, digest = payloads[next(counter) % len(payloads)]
        conn.execute(query, (v.names[k], expected + 1, uuid.uuid4(), t, data, meta,
                             datetime.now(timezone.utc), digest))
    return op


def raw_batch_op(conn: psycopg.Connection, schema: str, prefix: str) -> Callable[[], None]:
    """``BATCH`` pre-serialised rows in one INSERT ... SELECT FROM unnest (arrays in binary), one
    transaction per call: what a batched append costs the database with no checks at all."""
    v = Versions(prefix, 50)
    payloads = raw_payloads()
    query = sql.SQL(
        "INSERT INTO {s}.raw_events (global_position, stream_name, stream_version, event_id, type, "
        "data, metadata, recorded_at, hash) "
        "SELECT nextval('{s}.raw_events_seq'), %s, %s + n, i, t, d, m, %s, h "
        "FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::text[], %b::bytea[]) WITH ORDINALITY AS u(i, t, d, m, h, n)"
    ).format(s=sql.Identifier(schema))
    counter = iter(range(10**12))

    def op() -> None:
        k, expected = v.next(BATCH)
        rows = [payloads[next(counter) % len(payloads)] for _ in range(BATCH)]
        conn.execute(query, (v.names[k], expected, datetime.now(timezone.utc), [uuid.uuid4() for _ in rows],
                             [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                             [r[3] for r in rows]), prepare=True)
    return op


def peer_recorder(s: Settings, schema: str):
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    params = psycopg.conninfo.conninfo_to_dict(s.admin_dsn)
    datastore = PostgresDatastore(
        dbname=params.get("dbname", s.dbname), host=params.get("host", "127.0.0.1"),
        port=params.get("port", 5432), user=params.get("user", "postgres"),
        password=params.get("password", ""), schema=schema, pool_size=1,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="peer_events")
    return datastore, recorder


def peer_op(recorder, prefix: str, per_call: int) -> Callable[[], None]:
    v = Versions(prefix, 500 if per_call == 1 else 50)
    counter = iter(range(10**12))

    def op() -> None:
        k, expected = v.next(per_call)
        recorder.insert_events([stored_event(bench_event(next(counter)), v.ids[k], expected + 1 + j)
                                for j in range(per_call)])
    return op


def copy_rows(n: int, start: int, prefix: str) -> list[tuple]:
    """``n`` event rows with content hashes, at global positions ``start``, ``start + 1``, ...

    Row with position p is version ``(p - 1) // 1000`` of stream ``<prefix>-<(p - 1) % 1000>``,
    so successive calls continue the same 1000 streams.
    """
    now = datetime.now(timezone.utc)
    rows = []
    for pos in range(start, start + n):
        ev = bench_event(pos)
        data, meta = _canon(dict(ev.data)), _canon(dict(ev.metadata))
        stream, version = f"{prefix}-{(pos - 1) % 1000}", (pos - 1) // 1000
        rec = now + timedelta(microseconds=pos)
        digest = content_hash(stream_name=stream, stream_version=version, event_id=str(ev.event_id),
                              type=ev.type, data_json=data, metadata_json=meta,
                              recorded_at=format_ts(rec))
        rows.append((pos, stream, version, ev.event_id, ev.type, data, meta, rec, digest))
    return rows


def copy_into(conn: psycopg.Connection, schema: str, table: str, rows) -> None:
    """Binary COPY of ``rows`` into ``schema.table``, committed as one transaction."""
    with conn.transaction():
        harness.copy_events(conn, schema, rows, table)


# -- contenders: concurrent writer processes ------------------------------------------------------


def _writer(kind: str, wid: int, s: Settings, commands, results) -> None:
    """One writer process: set up and warm up, then run each ("run", start_at, seconds) command."""
    prefix = f"w{kind}{wid}x{os.getpid()}"
    closer = None
    try:
        if kind == "ours":
            store = PostgresEventStore(s.app_dsn, schema=s.schema)
            op, closer = ours_single_op(store, prefix), store.close
        elif kind == "raw":
            conn = psycopg.connect(s.admin_dsn, autocommit=True)
            op, closer = raw_insert_op(conn, s.schema, prefix), conn.close
        elif kind == "peer":
            datastore, recorder = peer_recorder(s, s.schema)
            op, closer = peer_op(recorder, prefix, 1), datastore.close
        else:
            raise ValueError(kind)
        end = time.perf_counter() + s.warmup
        while time.perf_counter() < end:
            op()
        results.put((wid, "ready", 0, 0.0))
        while True:
            cmd = commands.get()
            if cmd[0] != "run":
                break
            _, start_at, seconds = cmd
            while time.time() < start_at:
                time.sleep(0.001)
            deadline = start_at + seconds
            n = 0
            while True:
                op()
                n += 1
                now = time.time()
                if now >= deadline and n >= 10:
                    break
            results.put((wid, "done", n, now - start_at))
    except BaseException as exc:  # report, never leave the parent waiting
        results.put((wid, "error", 0, f"{type(exc).__name__}: {exc}"))
    finally:
        if closer:
            closer()


class WriterPool:
    """``WRITERS`` long-lived writer processes of one kind (spawned once, reused every round)."""

    def __init__(self, kind: str, s: Settings):
        ctx = mp.get_context("spawn")
        self.kind, self.s = kind, s
        self.results = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(WRITERS)]
        self.procs = [ctx.Process(target=_writer, args=(kind, w, s, self.commands[w], self.results), daemon=True)
                      for w in range(WRITERS)]
        for p in self.procs:
            p.start()

    def wait_ready(self) -> None:
        for _ in self.procs:
            self._get("ready")

    def _get(self, want: str):
        wid, what, n, x = self.results.get(timeout=180)
        if what == "error":
            raise RuntimeError(f"{self.kind} writer {wid} failed: {x}")
        assert what == want, (what, want)
        return n, x

    def run(self, n: int, seconds: float) -> tuple[int, float]:
        start_at = time.time() + 0.05
        for w in range(n):
            self.commands[w].put(("run", start_at, seconds))
        outs = [self._get("done") for _ in range(n)]
        return sum(o[0] for o in outs), max(o[1] for o in outs)

    def close(self) -> None:
        for q in self.commands:
            q.put(("stop",))
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()


def measure_writers(s: Settings, kinds=("ours", "raw", "peer")) -> dict[str, Rate]:
    """1 and ``WRITERS`` concurrent processes per kind, interleaved over ``s.rounds`` rounds."""
    pools = {k: WriterPool(k, s) for k in kinds}
    try:
        for pool in pools.values():
            pool.wait_ready()
        out: dict[str, Rate] = {}
        seconds = max(s.slice_s, 1.0)
        for _ in range(s.rounds):
            for kind, pool in pools.items():
                for n in (1, WRITERS):
                    events, elapsed = pool.run(n, seconds)
                    r = out.setdefault(f"{kind}_w{n}", Rate(0, 0.0))
                    r.events += events
                    r.seconds += elapsed
                    r.rounds.append(events / elapsed)
        return out
    finally:
        for pool in pools.values():
            pool.close()


# -- reading and verification ----------------------------------------------------------------


def raw_scan(s: Settings, schema: str, hash_rows: bool) -> Rate:
    """Ordered SELECT of the same columns (server-side cursor), optionally SHA-256 of each row."""
    query = sql.SQL(f"SELECT {_COLUMNS} FROM {{s}}.events ORDER BY global_position").format(
        s=sql.Identifier(schema))
    sha = hashlib.sha256
    n = 0
    t0 = time.perf_counter()
    with psycopg.connect(s.app_dsn) as conn, conn.cursor(name="bench_raw_scan") as cur:
        cur.itersize = 10000
        cur.execute(query)
        for row in cur:
            if hash_rows:
                sha(f"{row[0]}|{row[1]}|{row[2]}|{row[3]}|{row[4]}|{row[5]}|{row[6]}|{row[7]}".encode()).digest()
            n += 1
    return Rate(n, time.perf_counter() - t0)


def ours_scan(store: PostgresEventStore) -> Rate:
    n = 0
    t0 = time.perf_counter()
    for _ev in store.iter_all():
        n += 1
    return Rate(n, time.perf_counter() - t0)


def ours_verify(store: PostgresEventStore, keys: Path, cp_dir: Path) -> tuple[Rate, chain.VerifyReport]:
    key = chain.load_chain_key(keys)
    pub = load_public_key(keys)
    t0 = time.perf_counter()
    report = chain.verify(store, key, pub, cp_dir)
    return Rate(report.events, time.perf_counter() - t0), report


def seal_all(store: PostgresEventStore, keys: Path, cp_dir: Path, batch: int = 2000,
             timeout: float = 600.0) -> Rate:
    """Seal until the chain reaches the newest event. ``seal()`` returns 0 at once when another
    sealer holds the (database-wide) sealer lock, or while an older transaction elsewhere hides
    new rows from ``read_all``: wait for those instead of stopping short."""
    sealer = chain.ChainSealer(store, chain.load_chain_key(keys), load_signing_key(keys), cp_dir, batch=batch)
    heads = store._q("SELECT (SELECT max(global_position) FROM {s}.events), "
                    "(SELECT max(global_position) FROM {s}.event_chain)")
    t0 = time.perf_counter()
    total = 0
    while True:
        sealed = sealer.seal().sealed
        total += sealed
        if sealed:
            continue
        with store._connection() as conn:
            head, chained = conn.execute(heads).fetchone()
        if head is None or (chained or 0) >= head:
            return Rate(total, time.perf_counter() - t0)
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"sealing stalled at position {chained} of {head} for {timeout:.0f} s "
                               "(sealer lock held elsewhere, or a long transaction hides rows)")
        time.sleep(0.1)


def verify_child(args: argparse.Namespace) -> None:
    """Subprocess entry point: verify one schema, print JSON with time and memory."""
    store = PostgresEventStore(args.app_dsn, schema=args.schema, pool_size=1)
    key = chain.load_chain_key(Path(args.keys))
    pub = load_public_key(Path(args.keys))
    with store._connection() as conn:  # open the connection before the baseline
        conn.execute("SELECT 1")
    with harness.PeakRss() as mem:
        report = chain.verify(store, key, pub, Path(args.checkpoints))
    store.close()
    print(json.dumps({"events": report.events, "sealed": report.sealed, "ok": report.ok,
                      "problems": report.problems[:3], **mem.fields()}))


def memory_stage(s: Settings, schema: str, cp_dir: Path) -> dict:
    return harness.run_json_child(__file__, ["--verify-child", "--schema", schema, "--app-dsn", s.app_dsn,
                                             "--keys", str(s.keys), "--checkpoints", str(cp_dir)],
                                  what="verify child")


def fill_events(s: Settings, schema: str, start: int, n: int) -> float:
    """COPY ``n`` hashed events into ``schema``.events at positions ``start``.. Returns seconds."""
    t0 = time.perf_counter()
    chunk = 100_000
    with psycopg.connect(s.admin_dsn, autocommit=True) as conn:
        for off in range(0, n, chunk):
            copy_into(conn, schema, "events", copy_rows(min(chunk, n - off), start + off, "memtest"))
        harness.set_position(conn, schema, start + n - 1)
    return time.perf_counter() - t0


# -- database helpers --------------------------------------------------------------------------


def machine_info(s: Settings) -> dict:
    try:
        import importlib.metadata as md

        es_version = md.version("eventsourcing")
    except Exception:
        es_version = "?"
    return {"load_before": f"{os.getloadavg()[0]:.2f}", "eventsourcing": es_version,
            **harness.machine_info(s.admin_dsn, ("server_version", "synchronous_commit", "fsync", "wal_sync_method",
                                                 "shared_buffers", "commit_delay"))}


def create_raw_tables(s: Settings, schema: str) -> None:
    with psycopg.connect(s.admin_dsn, autocommit=True) as conn:
        for t in ("raw_events", "copy_events"):
            conn.execute(sql.SQL("CREATE TABLE {s}.{t} (LIKE {s}.events INCLUDING ALL)").format(
                s=sql.Identifier(schema), t=sql.Identifier(t)))
        conn.execute(sql.SQL("CREATE SEQUENCE {s}.raw_events_seq").format(s=sql.Identifier(schema)))


def truncate_copy(s: Settings, schema: str) -> None:
    with psycopg.connect(s.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {s}.copy_events").format(s=sql.Identifier(schema)))


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Results:
    rates: dict[str, Rate] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    memory: list[dict] = field(default_factory=list)


def run(s: Settings, scratch: harness.Scratch, console) -> Results:
    res = Results()
    r = res.rates
    schema = s.schema
    store = PostgresEventStore(s.app_dsn, schema=schema)
    try:
        # 1. COPY 100k rows (binary) into an empty table of the same shape, best-of-rounds layout
        console.log(f"raw COPY of {COPY_ROWS:,} rows x {s.rounds}")
        with psycopg.connect(s.admin_dsn, autocommit=True) as conn:
            copy_into(conn, schema, "copy_events", copy_rows(10_000, 1, "copywarm"))
        rows = copy_rows(COPY_ROWS, 1, "copy")
        copy = Rate(0, 0.0)
        for _ in range(s.rounds):
            truncate_copy(s, schema)
            with psycopg.connect(s.admin_dsn, autocommit=True) as conn:
                t0 = time.perf_counter()
                copy_into(conn, schema, "copy_events", rows)
                elapsed = time.perf_counter() - t0
            copy.events += COPY_ROWS
            copy.seconds += elapsed
            copy.rounds.append(COPY_ROWS / elapsed)
        r["copy"] = copy
        del rows

        # 2. one event per call / transaction: raw INSERT, ours, the peer (interleaved)
        datastore, recorder = peer_recorder(s, schema)
        recorder.create_table()
        try:
            with psycopg.connect(s.admin_dsn, autocommit=True) as conn:
                console.log(f"1 event per call: raw INSERT, ours, eventsourcing ({s.rounds} rounds)")
                r.update(measure_interleaved({
                    "raw_insert": (raw_insert_op(conn, schema, "rawins"), 1),
                    "ours_single": (ours_single_op(store, "benchone"), 1),
                    "peer_single": (peer_op(recorder, "peerone", 1), 1),
                }, s))
            # 3. 100 events per call: ours, the peer
            console.log(f"{BATCH} events per call: raw INSERT ... unnest, ours, eventsourcing ({s.rounds} rounds)")
            with psycopg.connect(s.admin_dsn, autocommit=True) as conn:
                r.update(measure_interleaved({
                    "raw_batch": (raw_batch_op(conn, schema, "rawbatch"), BATCH),
                    "ours_batch": (ours_batch_op(store, "benchbatch"), BATCH),
                    "peer_batch": (peer_op(recorder, "peerbatch", BATCH), BATCH),
                }, s, min_ops=max(10, s.min_ops // 10)))
        finally:
            datastore.close()

        # 4. concurrent writer processes
        console.log(f"1 and {WRITERS} writer processes: ours, raw INSERT, eventsourcing ({s.rounds} rounds)")
        r.update(measure_writers(s))

        # 6. seal, read, verify the bench events
        cp_dir = s.tmp / "checkpoints-main"
        console.log("sealing the bench events (ChainSealer)")
        sealing = PostgresEventStore(scratch.projector_dsn, schema=schema, pool_size=2)  # the sealer's own login
        try:
            r["seal"] = seal_all(sealing, s.keys, cp_dir)
        finally:
            sealing.close()
        console.log("reading: iter_all vs raw SELECT; verify vs raw SELECT + SHA-256")
        raw_scan(s, schema, hash_rows=True)  # warm the cache for both
        r["raw_read"] = raw_scan(s, schema, hash_rows=False)
        r["ours_read"] = ours_scan(store)
        r["raw_read_hash"] = raw_scan(s, schema, hash_rows=True)
        r["ours_verify"], report = ours_verify(store, s.keys, cp_dir)
        if not report.ok:
            raise RuntimeError(f"verify of the bench events failed: {report.problems[:3]}")
        res.notes["verify"] = f"{report.events:,} events, {report.sealed:,} sealed, ok={report.ok}"
    finally:
        store.close()

    # 7. memory: verify at two sizes in a fresh subprocess each
    mem_schema = scratch.schema("_mem")
    mem_store = PostgresEventStore(scratch.projector_dsn, schema=mem_schema)  # seals: the sealer's own login
    cp_mem = s.tmp / "checkpoints-mem"
    try:
        done = 0
        for target in (s.mem_small, s.mem_big):
            console.log(f"memory: filling to {target:,} events (COPY), sealing")
            fill_s = fill_events(s, mem_schema, done + 1, target - done)
            done = target
            seal = seal_all(mem_store, s.keys, cp_mem, batch=5000)
            console.log(f"memory: verify {target:,} events in a subprocess")
            m = memory_stage(s, mem_schema, cp_mem)
            if not m["ok"] or m["sealed"] != target or m["events"] != target:
                raise RuntimeError(f"verify of {target} events failed: {m}")
            m.update(target=target, fill_s=fill_s, seal_rate=seal.per_s)
            res.memory.append(m)
    finally:
        mem_store.close()
    return res


# -- output ----------------------------------------------------------------------------------


def report(res: Results, info: dict, s: Settings, console, wall: float) -> None:
    r = res.rates
    keys = ("nproc", "cpu", "server_version", "synchronous_commit", "fsync", "wal_sync_method",
            "commit_delay", "shared_buffers", "python", "psycopg", "eventsourcing")
    console.print(harness.kv_table("Machine", [(k, info.get(k, "")) for k in keys] + [
        ("mode", ("--quick" if s.quick else "--full")
         + f": {s.rounds} interleaved rounds x {s.slice_s:g} s per rate, median shown"),
        ("load average", f"{info.get('load_before', '')} before, {os.getloadavg()[0]:.2f} after")]))

    raw = harness.table("Measured rates (events/s)",
                        ("measurement", "events", "seconds", "events/s", "rounds min–max", "µs/event"))
    labels = [
        ("raw_insert", "raw psycopg INSERT, 1 row/tx"), ("copy", f"raw COPY {COPY_ROWS:,} rows (binary)"),
        ("raw_batch", f"raw INSERT ... unnest, {BATCH} rows/tx"),
        ("ours_single", "ours append, 1 event/call"), ("ours_batch", f"ours append, {BATCH} events/call"),
        ("peer_single", "eventsourcing insert_events, 1/call"),
        ("peer_batch", f"eventsourcing insert_events, {BATCH}/call"),
        ("ours_w1", "ours, 1 writer process"), ("ours_w4", f"ours, {WRITERS} writer processes"),
        ("raw_w1", "raw INSERT, 1 writer process"), ("raw_w4", f"raw INSERT, {WRITERS} writer processes"),
        ("peer_w1", "eventsourcing, 1 writer process"), ("peer_w4", f"eventsourcing, {WRITERS} writer processes"),
        ("seal", "ChainSealer.seal (bench events)"),
        ("raw_read", "raw ordered SELECT"), ("ours_read", "ours iter_all (read_all pages)"),
        ("raw_read_hash", "raw ordered SELECT + SHA-256"), ("ours_verify", "ours chain.verify"),
    ]
    for key, label in labels:
        if key in r:
            x = r[key]
            raw.add_row(label, _fmt(x.events), f"{x.seconds:.2f}", _fmt(x.per_s), x.spread,
                        f"{1e6 / x.per_s:,.1f}" if x.per_s else "-")
    console.print(raw)

    t = harness.table("Ours against the baselines", ("comparison", "ours ev/s", "baseline ev/s", "ratio",
                                                     ("goal", "center"), ("", "center")))

    def cmp(label: str, ours: str, base: str, target: float | None) -> None:
        a, b = r[ours].per_s, r[base].per_s
        ratio = a / b if b else 0.0
        mark = "" if target is None else ("[green]✓[/]" if ratio >= target else "[red]✗[/]")
        t.add_row(label, _fmt(a), _fmt(b), f"{ratio:.2f}×", "-" if target is None else f"≥ {target:g}×", mark)

    cmp("single append vs raw INSERT", "ours_single", "raw_insert", 0.8)
    cmp("single append vs eventsourcing", "ours_single", "peer_single", 1.5)
    cmp(f"batched append ({BATCH}) vs COPY", "ours_batch", "copy", 0.5)
    cmp(f"batched append vs eventsourcing ({BATCH})", "ours_batch", "peer_batch", None)
    # The ceiling of a batched append on this machine: the same rows, no checks, one commit per call.
    cmp(f"batched append vs raw INSERT ... unnest ({BATCH}/tx)", "ours_batch", "raw_batch", None)
    cmp(f"raw INSERT ... unnest ({BATCH}/tx) vs COPY", "raw_batch", "copy", None)
    # What no append committing every BATCH events can beat here: COPY's cost per row plus a
    # commit shared by BATCH rows (a raw 1-row transaction is almost all commit: its WAL flush).
    if r["raw_insert"].per_s and r["copy"].per_s:
        copy_us, commit_us = 1e6 / r["copy"].per_s, 1e6 / r["raw_insert"].per_s
        ceiling = 1e6 / (copy_us + commit_us / BATCH)
        t.add_row(f"ceiling, 1 commit per {BATCH} events (COPY µs/row + raw 1-row tx µs / {BATCH}) vs COPY",
                  _fmt(ceiling), _fmt(r["copy"].per_s), f"{ceiling / r['copy'].per_s:.2f}×", "-", "")
    cmp(f"{WRITERS} writers vs our 1 writer", "ours_w4", "ours_w1", 2.0)
    cmp(f"{WRITERS} writers: ours vs raw INSERT", "ours_w4", "raw_w4", None)
    cmp(f"{WRITERS} writers: raw INSERT vs its 1 writer", "raw_w4", "raw_w1", None)
    cmp(f"{WRITERS} writers: ours vs eventsourcing", "ours_w4", "peer_w4", None)
    cmp("iter_all vs raw SELECT", "ours_read", "raw_read", None)
    cmp("verify vs raw SELECT + SHA-256", "ours_verify", "raw_read_hash", 0.8)
    if len(res.memory) == 2:
        small, big = res.memory
        d_small, d_big = small["delta_kb"] / 1024, big["delta_kb"] / 1024
        # Flat: the larger log may cost at most 20% + 4 MiB more peak memory than the smaller one.
        flat = d_big <= d_small * 1.2 + 4
        t.add_row(f"verify peak memory {small['target']:,} → {big['target']:,} events",
                  f"{d_big:,.1f} MiB", f"{d_small:,.1f} MiB", f"{(d_big / d_small if d_small else 0):.2f}×",
                  "flat", "[green]✓[/]" if flat else "[red]✗[/]")
    console.print(t)

    if res.memory:
        mt = harness.table("verify memory (fresh subprocess; peak RSS minus RSS before the call)",
                           [("events", "right"), "sealed", "verify s", "verify ev/s", "RSS before", "peak RSS",
                            "Δ peak", "COPY fill s", "seal ev/s"])
        for mm in res.memory:
            mt.add_row(_fmt(mm["events"]), _fmt(mm["sealed"]), f"{mm['seconds']:.1f}",
                       _fmt(mm["events"] / mm["seconds"]), f"{harness.mib(mm['rss_before_kb'])} MiB",
                       f"{harness.mib(mm['peak_kb'])} MiB", f"{harness.mib(mm['delta_kb'])} MiB",
                       f"{mm['fill_s']:.1f}", _fmt(mm["seal_rate"]))
        console.print(mt)
    for k, v in res.notes.items():
        console.print(f"{k}: {v}")
    console.print(f"total wall time {wall:.0f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CI smoke run: short rates, 30k/100k memory test")
    mode.add_argument("--full", action="store_true", help="the real measurement (default)")
    ap.add_argument("--db", default="confide_test", help="database (default confide_test)")
    ap.add_argument("--seconds", type=float, default=0.0, help="override seconds per rate (all rounds)")
    ap.add_argument("--keep", action="store_true", help="keep the bench schemas (debugging)")
    ap.add_argument("--verify-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--schema", help=argparse.SUPPRESS)
    ap.add_argument("--app-dsn", help=argparse.SUPPRESS)
    ap.add_argument("--keys", help=argparse.SUPPRESS)
    ap.add_argument("--checkpoints", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.verify_child:
        verify_child(args)
        return 0

    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 130)
    harness.interrupt_on(signal.SIGTERM)  # so Scratch drops the schemas on SIGTERM as on Ctrl-C
    s = settings_from_args(args)
    ev = bench_event(7)
    assert _canon(dict(ev.data)) == canonical_json(dict(ev.data))
    t0 = time.perf_counter()
    # schemas bench_<random> and bench_<random>_mem, and the temp dir: released at the end, even on failure
    with harness.Scratch("bench", s.dbname, keep=args.keep,
                         log=lambda msg: console.print(f"[red]{msg}[/]")) as scratch:
        s.tmp = scratch.tmpdir("confide-bench-")
        harness.make_keys(s.keys)
        info = machine_info(s)
        s.schema = scratch.name
        console.log(f"schema {s.schema} in database {s.dbname}; temp dir {s.tmp}")
        scratch.schema()
        create_raw_tables(s, s.schema)
        res = run(s, scratch, console)
    report(res, info, s, console, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

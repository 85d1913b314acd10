"""Plumbing shared by the benches in this folder (eventstore_bench, disclosures_bench, audit_bench).

A bench imports it as ``harness`` (``python bench/<name>.py`` puts ``bench/`` first on
``sys.path``; the nameko processes disclosures_bench starts get ``bench/`` on PYTHONPATH).
It holds what every bench needs around its measurements and nothing that is measured:

* throw-away resources -- :class:`Scratch`: schemas ``<prefix>_<random><suffix>`` in a test
  database (never ``confide``), a RabbitMQ vhost and temp dirs, all released at the end, in
  reverse order, even on failure; :func:`make_keys` (a fresh key dir, to pass to services AND
  in-process calls); :func:`dsns`, :func:`free_port`, :func:`rabbit_mgmt`, :func:`quote`;
* processes -- :func:`interrupt_on` (a signal becomes KeyboardInterrupt, so ``finally`` blocks
  clean up), :func:`stop_processes`, :func:`run_json_child` (a measurement in a fresh
  subprocess that prints one JSON line);
* memory -- :func:`rss_kb` and :class:`PeakRss` (peak RSS minus RSS before, in a fresh process);
* the machine -- :func:`machine_info`, :func:`loadavg`;
* synthetic event rows -- :func:`canon`, :func:`copy_events` (binary COPY into ``events``-shaped
  tables), :func:`set_position`;
* output -- :func:`table`, :func:`kv_table`, :func:`num`, :func:`mib` (rich tables and numbers).

Heavier imports (rich, confide.eventstore.install, confide.keys) happen inside the functions
that need them.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Sequence

import psycopg
from psycopg import sql

from confide import config

TEST_DB = "confide_test"
RABBIT_MGMT = "http://127.0.0.1:15672"
RABBIT_USER, RABBIT_PASSWORD = "guest", "guest"


# -- connections and ports -----------------------------------------------------------------------

def dsns(db: str = TEST_DB) -> tuple[str, str]:
    """(superuser DSN, services' role DSN), both pointing at database ``db`` (from confide.config)."""
    return config.with_dbname(config.admin_dsn(), db), config.with_dbname(config.db_dsn(), db)


def projector_dsn(db: str = TEST_DB) -> str:
    """The audit service's own role (chain, checkpoints, projections), pointed at database ``db``."""
    return config.with_dbname(config.projector_dsn(), db)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rabbit_mgmt(method: str, path: str, body=None, timeout: float = 10):
    """Call RabbitMQ's management API (``/api/...``) as guest; returns the decoded JSON reply or None.
    Raises urllib.error.HTTPError / URLError."""
    req = urllib.request.Request(RABBIT_MGMT + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    token = base64.b64encode(f"{RABBIT_USER}:{RABBIT_PASSWORD}".encode()).decode()
    req.add_header("Authorization", "Basic " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def quote(name: str) -> str:
    """``name`` as one path segment of a management API URL (``/`` too is escaped)."""
    return urllib.parse.quote(name, safe="")


# -- throw-away resources ------------------------------------------------------------------------

class Scratch:
    """The throw-away resources of one bench run, released in reverse order by :meth:`close`
    (or on leaving ``with``), even on failure; a failed release is reported through ``log`` and
    the others are still released.

    ``name`` is ``<prefix>_<tag>``, ``tag`` 8 random hex digits; schemas and the vhost are named after it.
    ``admin_dsn``/``app_dsn``/``projector_dsn`` point at database ``db``. With ``keep=True`` schemas and the vhost
    are left in place (debugging); temp dirs are removed all the same.
    """

    def __init__(self, prefix: str, db: str = TEST_DB, *, keep: bool = False,
                 log: Callable[[str], None] = print):
        if db == config.DEFAULT_DB_NAME:
            raise ValueError(f"refusing to run a bench in the production database {db!r}")
        self.db, self.keep, self.log = db, keep, log
        self.tag = secrets.token_hex(4)  # also for names the run makes elsewhere (patients, app names)
        self.name = f"{prefix}_{self.tag}"
        self.admin_dsn, self.app_dsn = dsns(db)
        self.projector_dsn = projector_dsn(db)
        self._undo: list[tuple[str, Callable[[], None]]] = []

    def schema(self, suffix: str = "") -> str:
        """Install the event store (and projections) in a new schema ``<name><suffix>``; dropped at close."""
        from confide.eventstore.install import drop_schema, install_schema

        schema = self.name + suffix
        self._undo.append((f"schema {schema}", lambda: self.keep or drop_schema(self.admin_dsn, self.db, schema)))
        install_schema(self.admin_dsn, self.db, schema)
        return schema

    def vhost(self) -> str:
        """Create RabbitMQ vhost ``<name>`` with all rights for guest; returns its AMQP URI. Deleted at close.
        (Exchanges and queues are the caller's: ``confide.broker.declare_topology(uri)``.)"""
        vhost = self.name
        self._undo.append((f"vhost {vhost}", lambda: self.keep or rabbit_mgmt("DELETE", f"/api/vhosts/{quote(vhost)}")))
        rabbit_mgmt("PUT", f"/api/vhosts/{quote(vhost)}", {})
        rabbit_mgmt("PUT", f"/api/permissions/{quote(vhost)}/{RABBIT_USER}",
                    {"configure": ".*", "write": ".*", "read": ".*"})
        return f"amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@127.0.0.1:5672/{vhost}"

    def tmpdir(self, prefix: str = "confide-bench-") -> Path:
        """A new temporary directory, removed at close."""
        path = Path(tempfile.mkdtemp(prefix=prefix))
        self._undo.append((f"temp dir {path}", lambda: shutil.rmtree(path, ignore_errors=True)))
        return path

    def on_close(self, label: str, fn: Callable[[], None]) -> None:
        """Run ``fn`` at close, before everything registered earlier is released."""
        self._undo.append((label, fn))

    def close(self) -> None:
        while self._undo:
            label, undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:  # noqa: BLE001 - report, keep releasing the others
                self.log(f"could not release {label}: {type(exc).__name__}: {exc}")

    def __enter__(self) -> "Scratch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_keys(directory: Path) -> Path:
    """``directory`` with a fresh chain key, decision key and audit signing pair (confide.keys).
    Pass this directory to services (CONFIDE_KEY_DIR) AND to every in-process call taking ``key_dir``:
    a call left to default reads ``config.key_dir()``, the installation's keys."""
    from confide.keys import ensure_keys

    ensure_keys(directory)
    return Path(directory)


# -- processes -----------------------------------------------------------------------------------

def interrupt_on(*signums: int) -> None:
    """Make each signal raise KeyboardInterrupt in the main thread, so ``finally`` blocks release
    the bench's resources on SIGTERM too (and on SIGINT when started in the background with it ignored)."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in signums:
        signal.signal(signum, handler)


def stop_processes(procs: Iterable[subprocess.Popen], sig: int = signal.SIGINT, grace: float = 15.0) -> None:
    """Send ``sig`` to every process still running, wait up to ``grace`` s in all, then kill the rest."""
    procs = list(procs)
    for p in procs:
        if p.poll() is None:
            p.send_signal(sig)
    deadline = time.time() + grace
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def run_json_child(script: str | Path, args: Sequence[str], *, timeout: float = 1800,
                   what: str = "child") -> dict:
    """Run ``python <script> <args>`` in a fresh interpreter and return the JSON object on the last
    line of its stdout. The child is killed if this call is left early (timeout, Ctrl-C, SIGTERM
    made KeyboardInterrupt). Raises RuntimeError with the end of its stderr if it exits non-zero."""
    cmd = [sys.executable, str(Path(script).resolve()), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {stderr[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


# -- memory --------------------------------------------------------------------------------------

def rss_kb(field_name: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the process started) of this process, in KiB, from
    /proc/self/status; where that has no such line, ru_maxrss (KiB on Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class PeakRss:
    """Wall time and peak memory of the code inside ``with PeakRss() as m:``.

    On entry: RSS now; on exit: the seconds taken and the process's peak RSS (VmHWM). The peak
    is the process's since it started, so use it in a fresh subprocess (:func:`run_json_child`)
    that has done its imports and opened its connections before entering. :meth:`fields` gives
    ``seconds``, ``rss_before_kb``, ``peak_kb`` and ``delta_kb`` (peak minus before, at least 0).
    """

    def __enter__(self) -> "PeakRss":
        self.rss_before_kb = rss_kb("VmRSS")
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.peak_kb = rss_kb("VmHWM")
        self.delta_kb = max(0, self.peak_kb - self.rss_before_kb)

    def fields(self) -> dict:
        return {"seconds": self.seconds, "rss_before_kb": self.rss_before_kb, "peak_kb": self.peak_kb,
                "delta_kb": self.delta_kb}


# -- the machine ---------------------------------------------------------------------------------

def machine_info(admin_dsn: str, settings: Sequence[str] = ("server_version",)) -> dict:
    """``nproc``, ``cpu`` (model name), ``python``, ``psycopg`` (version and implementation) and the
    value of each PostgreSQL setting in ``settings`` (``SHOW``), for the report's machine table."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        show = {k: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(k))).fetchone()[0] for k in settings}
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": sys.version.split()[0],
            "psycopg": f"{psycopg.__version__} ({psycopg.pq.__impl__})", **show}


def loadavg() -> str:
    """/proc/loadavg as it reads (1, 5, 15 min load, runnable/total tasks, last pid), or ``?``."""
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "?"


# -- synthetic event rows ------------------------------------------------------------------------

EVENT_COLUMNS = ("global_position", "stream_name", "stream_version", "event_id", "type",
                 "data", "metadata", "recorded_at", "hash")
EVENT_COPY_TYPES = ("int8", "text", "int8", "uuid", "text", "text", "text", "timestamptz", "bytea")


def canon(value) -> str:
    """RFC 8785 text of JSON made of ASCII-keyed dicts, lists, str, int, bool and None (no floats).

    For such values sorted-key compact ``json.dumps`` is byte-identical to RFC 8785 (keys sort the
    same in UTF-16 and code points below U+10000), and much faster; each bench checks a sample
    against ``confide.envelope.canonical_json`` or ``rfc8785``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def copy_events(conn: psycopg.Connection, schema: str, rows: Iterable[tuple], table: str = "events") -> None:
    """Binary COPY of ``rows`` (tuples in :data:`EVENT_COLUMNS` order) into ``schema.table``, a table
    of the event store's shape. Runs in the caller's transaction (wrap it in ``conn.transaction()``
    on an autocommit connection to commit it as one)."""
    query = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(schema), sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, EVENT_COLUMNS)))
    with conn.cursor() as cur, cur.copy(query) as cp:
        cp.set_types(list(EVENT_COPY_TYPES))
        for row in rows:
            cp.write_row(row)


def set_position(conn: psycopg.Connection, schema: str, position: int) -> None:
    """Move ``schema``'s global position sequence to ``position`` after COPYing rows up to it, so the
    store's next append continues after them."""
    conn.execute("SELECT setval(%s::regclass, %s)", (f"{schema}.events_position_seq", position))


# -- output --------------------------------------------------------------------------------------

def table(title: str, columns: Sequence[str | tuple[str, str]], **kwargs):
    """A rich Table with ``columns``: a name, or (name, justify). A bare name is left-justified
    when it is the first column and right-justified otherwise (labels, then numbers)."""
    from rich.table import Table

    t = Table(title=title, **kwargs)
    for k, col in enumerate(columns):
        name, justify = col if isinstance(col, tuple) else (col, "left" if k == 0 else "right")
        t.add_column(name, justify=justify)
    return t


def kv_table(title: str, rows: dict | Iterable[tuple[str, object]]):
    """A two-column table without header, key in bold (machine, settings)."""
    from rich.table import Table

    t = Table(title=title, show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for k, v in (rows.items() if isinstance(rows, dict) else rows):
        t.add_row(str(k), str(v))
    return t


def num(v: float, digits: int = 0) -> str:
    """``v`` with thousands separators and ``digits`` decimals; NaN is ``-``, infinity ``∞``."""
    if v != v:
        return "-"
    return "∞" if v == float("inf") else f"{v:,.{digits}f}"


def mib(kb: float) -> str:
    """KiB as MiB with one decimal (``1,234.5``)."""
    return f"{kb / 1024:,.1f}"

"""Disclosure benchmark (issue 5, point 7): the decision engine alone, then the stack under fixed offered loads.

Usage::

    .venv/bin/python bench/disclosures_bench.py            # full run (~4-5 min): 20, 50, 100 and 200/s
    .venv/bin/python bench/disclosures_bench.py --loads 200 --no-profile   # issue 14's row alone
    .venv/bin/python bench/disclosures_bench.py --cprofile --loads 50      # the services under cProfile
    .venv/bin/python bench/disclosures_bench.py --quick    # smoke run (~1-1.5 min)

Everything is measured in ONE run and each number is printed beside its baseline
measured in the same run:

1. **Pure engine** -- ``confide.hipaa.engine.decide`` over the 20 published example
   cases of ``shared/cases/examples.json`` (cycled), in decisions per second, beside
   ``json.loads(json.dumps(case))`` of the same cases (a deep copy through the JSON
   codec: the cheapest thing a caller must do with a case anyway).

2. **Through the stack** -- insurer ``POST /disclosure-requests`` (payment, progress
   notes, March 2026) through gateway -> RabbitMQ -> disclosures -> event store, with
   the release fetched from notes (``release_fields``), at FIXED OFFERED LOADS
   (open loop), beside two baselines defined in this file and started the same way
   (``nameko run --config <yml> disclosures_bench:<Service>``):

   * ``ping via HTTP``: ``POST /ping`` (same body) on ``bench_ping_gateway`` whose
     ``@http`` entrypoint makes ONE nameko RPC to ``bench_ping.ping`` in another
     process and returns 201 -- the framework floor of the same shape as the real path
     (HTTP parse, one RPC hop, JSON reply) with no work;
   * ``ping via RPC``: ``bench_ping.ping`` called directly from the load generator with
     nameko standalone ``ServiceRpcProxy`` clients -- the bare RPC round trip.

   The load generator is a pool of OS threads (64 for HTTP, 32 for RPC), each with its
   own persistent connection (``http.client.HTTPConnection`` keep-alive, or one
   standalone RPC proxy per thread). Request ``i`` is scheduled at ``t0 + i/rate``; a
   free thread claims the next index, sleeps until its scheduled start and sends it;
   latency is measured from the SCHEDULED start, so a request that waited for a free
   thread (because earlier ones were slow) is charged that wait: coordinated omission
   does not hide queueing. Each load runs a warm-up (discarded) then the measured
   window. Per load: achieved rate, p50, p99, max, errors, plus CPU milliseconds per
   request of every process involved (from /proc), so the ceiling on this 2-core
   machine can be read off directly.

   Target: p99 < 25 ms at 200 requests/s with no errors (printed with a check mark).

3. **Where the time goes** -- (a) the disclosures handler run in-process on the same
   schema (with the real notes service over RPC), timing each phase (schema load,
   appends, stream loads, note index scan, authorization scan, engine, release RPC to
   notes) and counting store calls; the gateway's own steps (token verify, body
   schema, reply) timed in-process; (b) py-spy (``--py-spy`` path, default
   ``/tmp/pyspy/bin/py-spy`` or ``py-spy`` on PATH; skipped if absent) sampling
   gateway, disclosures and notes during a load run; (c) the note index scan timed
   again after adding more progress notes, because it reads whole categories.

Set-up and clean-up: a throw-away schema ``bench_<random>`` in ``confide_test``
(``install_schema``), a fresh RabbitMQ vhost created through the management API with
the topology declared in it (``declare_topology``), keys/checkpoints in a temp dir, the
gateway on a free port. The services (notes, disclosures, audit, gateway -- audit is
not on the request path but runs in production and competes for the same 2 cores;
``--no-audit`` leaves it out) and the two ping services run as ``nameko run``
subprocesses with ``CONFIDE_*`` environment overrides. Everything is stopped and the
schema and vhost dropped at the end, even on failure.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from nameko.rpc import RpcProxy, rpc
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.web.handlers import http as http_entrypoint
from rich.console import Console

import harness
from confide import config
from confide.testing.notes import progress_content
from harness import TEST_DB
from harness import num as fmt

# --------------------------------------------------------------------------------------
# Baseline services (imported by `nameko run ... disclosures_bench:<Service>`)
# --------------------------------------------------------------------------------------


class PingService:
    """The bare RPC target: no store, no schema, no work."""

    name = "bench_ping"

    @rpc
    def ping(self, payload=None):
        return {"pong": True, "patient_id": (payload or {}).get("patient_id")}


class PingGatewayService:
    """``POST /ping``: parse the JSON body, one RPC to ``bench_ping``, reply 201 JSON (the gateway's shape)."""

    name = "bench_ping_gateway"

    ping_rpc = RpcProxy("bench_ping")

    @http_entrypoint("POST", "/ping")
    def http_ping(self, request):
        from werkzeug.wrappers import Response

        body = json.loads(request.get_data(as_text=True) or "{}")
        return Response(json.dumps(self.ping_rpc.ping(body)), status=201, mimetype="application/json")

    @http_entrypoint("GET", "/health")
    def health(self, request):
        from werkzeug.wrappers import Response

        return Response('{"status": "ok"}', status=200, mimetype="application/json")


# --------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
TARGET_RATE, TARGET_P99_MS = 200, 25.0
AUTHOR = {"id": "clin-a", "name": "Bench clinician", "credentials": "PhD"}
AUDITOR = "bench-auditor"
PRACTICE = "practice"
SESSION_DATES = ("2026-03-02", "2026-03-09", "2026-03-16")
INSURER_ORG = "Acme Health Plan"
INSURER_ROLE = "insurer_health_plan"


def request_body(patient: str, i: int) -> dict:
    return {"patient_id": patient, "purpose": "payment", "note_kind": "progress",
            "date_from": "2026-03-01", "date_to": "2026-03-31", "claim_id": f"C-{i}"}


def pct(sorted_values: list, q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


# -- CPU accounting from /proc ---------------------------------------------------------

CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            parts = fh.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / CLK  # utime + stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return 0.0


def _comm_cpu(names: tuple[str, ...]) -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as fh:
                comm = fh.read().strip()
        except OSError:
            continue
        if comm in names:
            total += _proc_cpu(int(entry))
    return total


def _listener_pids(port: int) -> set[int]:
    """The processes holding the socket that listens on TCP ``port`` (the broker the bench uses), and
    their children (Erlang's erl_child_setup, inet_gethost): not every beam.smp on the machine, since
    other sessions' brokers and each rabbitmqctl are beam.smp too, and one ending made the total go back."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                for line in fh.readlines()[1:]:
                    f = line.split()
                    if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":  # 0A: LISTEN
                        inodes.add(f"socket:[{f[9]}]")
        except OSError:
            continue
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{entry}/fd")):
                found.add(int(entry))
        except OSError:
            continue
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as fh:
                if int(fh.read().rsplit(")", 1)[1].split()[1]) in found:
                    found.add(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as fh:
        vals = [int(v) for v in fh.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return (sum(vals) - idle) / CLK, sum(vals) / CLK


class CpuMeter:
    """CPU seconds of the bench's processes between two snapshots, from /proc.

    The services' PostgreSQL backends are found by ``application_name`` (the services run
    with ``PGAPPNAME`` set to a bench-unique name), so other sessions on the same server
    (other engineers' tests) land in "other", not in ours. RabbitMQ is the whole broker
    that listens on the bench's AMQP port (its process and children), not every beam.smp on the machine.
    """

    def __init__(self, pids: dict, appname: str, admin_dsn: str, amqp_port: int = 5672):
        import psycopg

        self.pids, self.appname = pids, appname
        self.conn = psycopg.connect(admin_dsn, autocommit=True)
        self.broker = _listener_pids(amqp_port)

    def _backends(self) -> dict:
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                 (self.appname,)).fetchall()
        return {r[0]: _proc_cpu(r[0]) for r in rows}

    def snapshot(self) -> dict:
        snap = {name: _proc_cpu(pid) for name, pid in self.pids.items()}
        snap["_pg"] = self._backends()
        snap["rabbitmq (whole broker)"] = (sum(_proc_cpu(pid) for pid in self.broker) if self.broker else
                                           _comm_cpu(("beam.smp", "erl_child_setup", "inet_gethost", "epmd")))
        snap["client (bench)"] = _proc_cpu(os.getpid())
        snap["_busy"], snap["_all"] = _machine_busy()
        return snap

    @staticmethod
    def delta(a: dict, b: dict) -> dict:
        d = {k: b[k] - a[k] for k in a if not k.startswith("_")}
        d["postgres (our backends)"] = sum(cpu - a["_pg"].get(pid, 0.0) for pid, cpu in b["_pg"].items())
        d["_busy"], d["_all"] = b["_busy"] - a["_busy"], b["_all"] - a["_all"]
        d["other (not this bench)"] = max(0.0, d["_busy"] - sum(v for k, v in d.items() if not k.startswith("_")))
        return d

    def close(self):
        self.conn.close()


# -- the open-loop load generator --------------------------------------------------------

class HttpClient:
    """One keep-alive connection; ``call(i)`` -> (ok, error_label)."""

    def __init__(self, host, port, path, headers, body_fn, check):
        self.host, self.port, self.path, self.headers = host, port, path, headers
        self.body_fn, self.check = body_fn, check
        self.reconnects = 0
        self.conn = http.client.HTTPConnection(host, port, timeout=15)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, body):
        self.conn.request("POST", self.path, body=body, headers=self.headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def call(self, i):
        body = json.dumps(self.body_fn(i))
        try:
            status, raw = self._send(body)
        except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError, http.client.CannotSendRequest):
            self.reconnects += 1
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
            status, raw = self._send(body)
        return self.check(status, raw)

    def close(self):
        self.conn.close()


class RpcClient:
    def __init__(self, amqp_uri, service, method, payload_fn):
        from nameko.standalone.rpc import ServiceRpcProxy

        self.ctx = ServiceRpcProxy(service, {"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=15)
        self.proxy = self.ctx.__enter__()
        self.method, self.payload_fn = getattr(self.proxy, method), payload_fn
        self.reconnects = 0

    def call(self, i):
        reply = self.method(self.payload_fn(i))
        return (True, None) if reply.get("pong") else (False, "bad reply")

    def close(self):
        try:
            self.ctx.__exit__(None, None, None)
        except Exception:
            pass


@dataclass
class LoadResult:
    target: str
    offered: float
    n: int = 0
    ok: int = 0
    achieved: float = 0.0
    p50: float = float("nan")
    p90: float = float("nan")
    p99: float = float("nan")
    max: float = float("nan")
    errors: Counter = field(default_factory=Counter)
    late_p99: float = float("nan")  # how late the client started requests (ms, p99)
    service_p99: float = float("nan")  # p99 of (end - actual start): what a closed-loop tool would report
    cpu: dict = field(default_factory=dict)
    reconnects: int = 0


def open_loop(target: str, make_client, rate: float, warmup: float, duration: float, threads: int,
              cpu: "CpuMeter", drain: float = 5.0) -> LoadResult:
    """Offer ``rate`` requests/s for ``warmup + duration`` seconds; measure the last ``duration``.

    A request still unsent ``drain`` seconds after the schedule ends is not sent (it would be
    at least that late): it counts as an error ("backlog at end, not sent"). Percentiles count
    every failed or unsent request as infinitely late, so p99 is finite only if >= 99% succeeded.
    """
    n = int(round(rate * (warmup + duration)))
    clients = [make_client() for _ in range(threads)]
    results: list = [None] * n
    counter = itertools.count()
    t0 = time.perf_counter() + 0.3
    give_up = t0 + warmup + duration + drain

    def worker(client):
        while True:
            i = next(counter)
            if i >= n:
                return
            ts = t0 + i / rate
            delay = ts - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            start = time.perf_counter()
            if start > give_up:
                results[i] = (ts, start, start, False, "backlog at end, not sent")
                continue
            try:
                ok, err = client.call(i)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, by class
                ok, err = False, type(exc).__name__
            results[i] = (ts, start, time.perf_counter(), ok, err)

    pool = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
    for t in pool:
        t.start()
    measure_from = t0 + warmup
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    before = cpu.snapshot()
    for t in pool:
        t.join(max(0.1, give_up + 20 - time.perf_counter()))
    after = cpu.snapshot()
    for c in clients:
        c.close()

    res = LoadResult(target, rate, reconnects=sum(c.reconnects for c in clients))
    lat, late, svc, last_end = [], [], [], measure_from
    for i in range(int(round(rate * warmup)), n):
        res.n += 1
        r = results[i]
        if r is None:
            res.errors["not finished"] += 1
            lat.append(float("inf"))
            continue
        ts, start, end, ok, err = r
        if not ok:
            res.errors[err] += 1
            lat.append(float("inf"))
            continue
        last_end = max(last_end, end)
        res.ok += 1
        lat.append((end - ts) * 1000)
        late.append((start - ts) * 1000)
        svc.append((end - start) * 1000)
    lat.sort(), late.sort(), svc.sort()
    res.achieved = res.ok / max(1e-9, last_end - measure_from)
    if lat:
        res.p50, res.p90, res.p99, res.max = pct(lat, .5), pct(lat, .9), pct(lat, .99), lat[-1]
    if late:
        res.late_p99, res.service_p99 = pct(late, .99), pct(svc, .99)
    res.cpu = cpu.delta(before, after)
    return res


# -- the environment: schema, vhost, services ----------------------------------------------

class Bench:
    def __init__(self, console, with_audit: bool):
        self.console = console
        self.with_audit = with_audit
        # schema and vhost bench_<random>, the temp dir: released by teardown()
        self.scratch = harness.Scratch("bench", TEST_DB, log=console.print)
        self.suffix = self.scratch.tag
        self.schema = self.vhost = self.scratch.name
        self.tmp = self.scratch.tmpdir("confide-disclosures-bench-")
        # The services get this directory as CONFIDE_KEY_DIR; everything this process does in their
        # place (tokens, the in-process handler of part 3) must use it too, never config.key_dir().
        self.key_dir = self.tmp / "keys"
        self.admin_dsn, self.app_dsn = self.scratch.admin_dsn, self.scratch.app_dsn
        self.amqp_uri = ""  # set by setup()
        self.gw_port, self.ping_port = harness.free_port(), harness.free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.patients: list[str] = []
        self.inst = None  # confide_app.identities.Installation: who the bench acts as (set by setup())
        self.payer_key = None
        self._token: tuple[str, float] = ("", 0.0)
        self.appname = f"confide-bench-{self.suffix}"
        self.cpu: CpuMeter | None = None
        self.cprofile = False  # --cprofile: the services run under cProfile (profile_services)

    # set-up ------------------------------------------------------------------------
    def setup(self):
        from confide.broker import declare_topology

        self.scratch.schema()
        self.amqp_uri = self.scratch.vhost()
        declare_topology(self.amqp_uri)
        harness.make_keys(self.key_dir)
        (self.tmp / "checkpoints").mkdir()
        self.start_services()
        self.set_up_people()

    def set_up_people(self):
        """Who the bench acts as (confide_app.identities, as the demo): the practice admin (enrolled
        first as the cli service), the clinician who writes the notes, an auditor, and the payer,
        registered with its JWKS in the directory (the one payer registry; the gateway reads it there)."""
        from confide.eventstore.store import PostgresEventStore
        from confide_app.identities import Installation, enrol_members, practice_admin, register_payers
        from gateway import client

        self.inst = Installation(self.key_dir, {"AMQP_URI": self.amqp_uri, "serializer": "json"}, timeout=30)
        store = PostgresEventStore(self.app_dsn, schema=self.schema, pool_size=1)
        try:
            self.admin = practice_admin(self.inst, store, PRACTICE)
        finally:
            store.close()
        enrol_members(self.inst, self.admin, [{"member_id": AUTHOR["id"], "name": AUTHOR["name"],
                                               "credentials": AUTHOR["credentials"]}], "clinician")
        enrol_members(self.inst, self.admin, [{"member_id": AUDITOR, "name": "Bench auditor",
                                               "credentials": "auditor"}], "auditor")
        self.payer_key = client.new_key()
        jwks = client.public_jwks(self.payer_key)
        register_payers(self.inst, self.admin, [{"org": INSURER_ORG, "name": INSURER_ORG, "engine_role": INSURER_ROLE,
                                                 "jwks": jwks}])

    @property
    def clinician(self):
        from confide_app.identities import Who

        return Who(AUTHOR["id"], ("clinician",), PRACTICE)

    @property
    def auditor(self):
        from confide_app.identities import Who

        return Who(AUDITOR, ("auditor",), PRACTICE)

    @property
    def payer(self):
        """The payer as the gateway presents it to the services."""
        from confide_app.identities import Who

        return Who(INSURER_ORG, ("insurer",), INSURER_ORG, issuer="confide-gateway", amr=("swk",))

    @property
    def token(self) -> str:
        """The payer's access token from the gateway's /oauth/token (SMART Backend Services, 300 s),
        fetched again when it has less than a minute left."""
        from gateway import client

        token, until = self._token
        if time.monotonic() > until - 60:
            status, body = client.request_token(f"http://127.0.0.1:{self.gw_port}/oauth/token", INSURER_ORG,
                                                self.payer_key)
            if status != 200:
                raise RuntimeError(f"/oauth/token answered {status}: {body}")
            token, until = body["access_token"], time.monotonic() + int(body["expires_in"])
            self._token = (token, until)
        return token

    def env(self) -> dict:
        return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore",
                config.DB_DSN_KEY: self.app_dsn, config.DB_SCHEMA_KEY: self.schema,
                config.PROJECTOR_DSN_KEY: self.scratch.projector_dsn,  # read by the audit service alone
                config.AMQP_URI_KEY: self.amqp_uri, config.KEY_DIR_KEY: str(self.key_dir),
                # each service's config.yml reads its own broker URI: all of them on the bench vhost
                **{config.amqp_uri_key(name): self.amqp_uri for name in self.CONFIDE_SERVICES},
                config.CHECKPOINT_DIR_KEY: str(self.tmp / "checkpoints"),
                "CONFIDE_GATEWAY_ADDRESS": f"127.0.0.1:{self.gw_port}", "PGAPPNAME": self.appname,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")]))}

    def _ping_config(self, web: bool) -> Path:
        path = self.tmp / ("ping_gateway.yml" if web else "ping.yml")
        lines = ["AMQP_URI: ${CONFIDE_AMQP_URI}", "serializer: json", "max_workers: 10"]
        if web:
            lines.append(f"WEB_SERVER_ADDRESS: 127.0.0.1:{self.ping_port}")
        lines += ["LOGGING:", "  version: 1", "  handlers:", "    console:", "      class: logging.StreamHandler",
                  "  root:", "    level: INFO", "    handlers: [console]"]
        path.write_text("\n".join(lines) + "\n")
        return path

    CONFIDE_SERVICES = ("directory", "notes", "disclosures", "gateway", "audit")

    def restart_confide_services(self, extra_env: dict):
        """Stop notes/disclosures/gateway/audit and start them again with ``extra_env`` (pings keep running)."""
        mine = {k: p for k, p in self.procs.items() if k in self.CONFIDE_SERVICES}
        self.stop_services(mine)
        for k in mine:
            del self.procs[k]
        self.start_services(extra_env, pings=False)

    def start_services(self, extra_env: dict | None = None, pings: bool = True):
        nameko = str(Path(sys.executable).parent / "nameko")
        services = ["directory", "notes", "disclosures", "gateway"] + (["audit"] if self.with_audit else [])
        specs = {name: [nameko, "run", "--config", str(REPO / "services" / name / "config.yml"), f"{name}.service"]
                 for name in services}
        if pings:
            specs["ping"] = [nameko, "run", "--config", str(self._ping_config(False)), "disclosures_bench:PingService"]
            specs["ping_gateway"] = [nameko, "run", "--config", str(self._ping_config(True)),
                                     "disclosures_bench:PingGatewayService"]
        env = {**self.env(), **(extra_env or {})}
        if self.cprofile:  # each Confide service under cProfile; the profile is written when it stops
            for name in services:
                specs[name] = [sys.executable, "-m", "cProfile", "-o", str(self.tmp / f"{name}.prof"),
                               *specs[name]]
        for name, cmd in specs.items():
            log = open(self.tmp / f"{name}.log", "a")
            self.procs[name] = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        self.wait_ready()
        if self.cpu:
            self.cpu.pids = self.pids()
        else:
            from urllib.parse import urlsplit

            self.cpu = CpuMeter(self.pids(), self.appname, self.admin_dsn, urlsplit(self.amqp_uri).port or 5672)

    def wait_ready(self, timeout=90):
        """Each HTTP server answers /health 200 and each RPC service answers a call (not a queued message)."""
        from nameko.exceptions import RemoteError

        deadline = time.time() + timeout
        pending = {"gateway /health", "ping /health", "directory", "notes", "disclosures", "bench_ping"}
        # Anonymous probes: a refusal (NotAuthenticatedError) is an answer too.
        probes = {"directory": lambda rpc: rpc.directory.list_members(),
                  "notes": lambda rpc: rpc.notes.lint_text("Client slept well."),
                  "disclosures": lambda rpc: rpc.disclosures.get_disclosure_request(
                      "00000000-0000-0000-0000-000000000000"),
                  "bench_ping": lambda rpc: rpc.bench_ping.ping({})}
        while pending and time.time() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited ({p.returncode}); log:\n{self.log_tail(name)}")
            for q in list(pending):
                try:
                    if q in probes:
                        with ClusterRpcProxy({"AMQP_URI": self.amqp_uri, "serializer": "json"}, timeout=5) as rpc:
                            try:
                                probes[q](rpc)
                            except RemoteError:
                                pass  # a domain error is an answer
                        pending.discard(q)
                    else:
                        port = self.gw_port if q.startswith("gateway") else self.ping_port
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
                            if resp.status == 200:
                                pending.discard(q)
                except Exception:  # noqa: BLE001 - not up yet (unknown service, timeout, refused)
                    pass
            time.sleep(0.25)
        if pending:
            raise RuntimeError(f"services not ready after {timeout}s: {sorted(pending)}")

    def log_tail(self, name, lines=30) -> str:
        try:
            return "\n".join((self.tmp / f"{name}.log").read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def pids(self) -> dict:
        return {name: p.pid for name, p in self.procs.items()}

    def rpc(self, who=None):
        """A proxy carrying ``who``'s fresh assertion (confide_app.identities); open one per unit of work."""
        return self.inst.rpc(who)

    def register_patients(self, patient_ids):
        from confide_app.identities import register_patients

        register_patients(self.inst, self.admin, [{"patient_id": p, "name": f"Bench patient {p[-3:]}",
                                                   "date_of_birth": "1980-01-01"} for p in patient_ids])

    def seed(self, patients: int):
        from confide import transport

        ids = [f"P-BENCH-{self.suffix}-{p:02d}" for p in range(patients)]
        self.register_patients(ids)
        for patient in ids:
            with self.rpc(self.clinician) as rpc:  # the author is the caller
                for date in SESSION_DATES:
                    note = rpc.notes.write_progress_note({"patient_id": patient, "content": progress_content(date)})
                    rpc.notes.sign_note(note["note_id"])
                psych = rpc.notes.write_psychotherapy_note({
                    "patient_id": patient, "session_date": SESSION_DATES[0],
                    "sealed_text": transport.seal_for(
                        rpc.notes.transport_public_key(),
                        "Process note: my own reaction to the session, kept apart from the record.")})
                rpc.notes.sign_note(psych["note_id"])
            self.patients.append(patient)

    def add_background_notes(self, count: int, batch: int = 50):
        """More progress notes for other patients (drafts), to grow the categories the note index scans."""
        self.register_patients([f"P-BG-{self.suffix}-{k:03d}" for k in range(min(count, 500))])
        for start in range(0, count, batch):
            with self.rpc(self.clinician) as rpc:  # a fresh assertion per batch
                calls = [rpc.notes.write_progress_note.call_async(
                    {"patient_id": f"P-BG-{self.suffix}-{(start + k) % 500:03d}",
                     "content": progress_content(SESSION_DATES[(start + k) % 3])})
                    for k in range(min(batch, count - start))]
                for c in calls:
                    c.result()

    def wait_quiet(self, timeout: float = 25.0) -> float:
        """Wait (bounded) until audit has relayed every event and its queue is empty, so a load run
        does not pay for the previous run's audit backlog. Returns the seconds waited."""
        if "audit" not in self.procs:
            return 0.0
        t0 = time.time()
        with self.rpc(self.auditor) as rpc:  # audit.status: auditor (the assertion outlives the timeout)
            while time.time() - t0 < timeout:
                try:
                    st = rpc.audit.status()
                    q = harness.rabbit_mgmt("GET", f"/api/queues/{harness.quote(self.vhost)}/audit.events")
                    if st.get("relayed_position", 0) >= st.get("head_position", 0) and not q.get("messages"):
                        break
                except Exception:  # noqa: BLE001 - keep waiting until the deadline
                    pass
                time.sleep(0.5)
        return time.time() - t0

    # tear-down -----------------------------------------------------------------------
    def stop_services(self, procs: dict | None = None):
        harness.stop_processes((self.procs if procs is None else procs).values(), signal.SIGINT, grace=15)

    def teardown(self):
        try:
            if self.cpu:
                self.cpu.close()
            self.stop_services()
        finally:
            self.scratch.close()

    # clients -----------------------------------------------------------------------
    def stack_client(self):
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        patients = self.patients

        def check(status, raw):
            if status != 201:
                return False, f"HTTP {status}"
            body = json.loads(raw)
            if body.get("status") != "released" or (body.get("decision") or {}).get("decision") != \
                    "permit_minimum_necessary":
                return False, f"status {body.get('status')}"
            if len((body.get("content") or {}).get("notes") or []) != len(SESSION_DATES):
                return False, "wrong note count"
            return True, None

        return HttpClient("127.0.0.1", self.gw_port, "/disclosure-requests", headers,
                          lambda i: request_body(patients[i % len(patients)], i), check)

    def ping_http_client(self):
        patients = self.patients

        def check(status, raw):
            return (True, None) if status == 201 and json.loads(raw).get("pong") else (False, f"HTTP {status}")

        return HttpClient("127.0.0.1", self.ping_port, "/ping", {"Content-Type": "application/json"},
                          lambda i: request_body(patients[i % len(patients)], i), check)

    def ping_rpc_client(self):
        patients = self.patients
        return RpcClient(self.amqp_uri, "bench_ping", "ping", lambda i: request_body(patients[i % len(patients)], i))


# -- 1. the pure engine ------------------------------------------------------------------

def engine_bench(seconds: float) -> dict:
    from confide.hipaa.engine import decide

    cases = json.load(open(config.cases_dir() / "examples.json"))

    def rate(fn):
        for c in cases:  # warm-up
            fn(c)
        n, t0, errors = 0, time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            for c in cases:
                try:
                    fn(c)
                except ValueError:
                    errors += 1
            n += len(cases)
        return n / (time.perf_counter() - t0), errors

    engine, engine_errors = rate(decide)
    base, _ = rate(lambda c: json.loads(json.dumps(c)))
    return {"cases": len(cases), "engine": engine, "engine_errors": engine_errors, "baseline": base}


# -- 3a. phases, in-process ------------------------------------------------------------

class PhaseTimer:
    def __init__(self):
        self.total = defaultdict(float)
        self.count = Counter()

    def wrap(self, label, fn):
        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.total[label] += time.perf_counter() - t
                self.count[label] += 1
        return timed


class TimedProxy:
    """Wraps an RPC proxy so every call is timed under ``RPC notes.<method>``."""

    def __init__(self, proxy, timer: PhaseTimer, prefix: str):
        self._proxy, self._timer, self._prefix = proxy, timer, prefix

    def __getattr__(self, name):
        return self._timer.wrap(f"{self._prefix}.{name}", getattr(self._proxy, name))


INCLUSIVE_PROBES = (  # (module name, function): timed inclusively when present in the code under test
    ("facts", "case_as_of"), ("facts", "note_index"), ("facts", "authorization_for"),
    ("facts", "authorizations_for_patient"), ("handlers", "load_request"), ("handlers", "_append"),
    ("handlers", "_record_access_decision"), ("handlers", "_record"), ("handlers", "fetch_content"),
    ("handlers", "view_request"),
)


def phase_breakdown(bench: Bench, requests: int) -> dict:
    """Run the disclosures handler in this process on the bench schema, timing every phase.

    Exclusive leaves (they do not nest): each event-store method, the engine, each RPC to notes
    (the real notes service), the RPC payload schema load; the rest is Python in the handler.
    Inclusive probes (they nest and include store time) on whichever of INCLUSIVE_PROBES exist.
    """
    from contextlib import ExitStack
    from datetime import datetime as _dt
    from unittest import mock

    from nameko.standalone.rpc import ServiceRpcProxy

    from confide.contracts import casefile as facts
    from confide.eventstore.store import PostgresEventStore
    from confide.hipaa.engine import decide
    from confide.identity.assertions import verify as verify_assertion
    from confide.identity.gate import AUDIENCE
    from confide.identity.keys import load_trusted_assertion_keys
    from confide.identity.requester import decision_identity, requester_for
    from disclosures import handlers
    from disclosures import schemas as dschemas
    from disclosures import service as dservice
    from disclosures.domain import commands
    from gateway import schemas as gschemas
    from gateway import tokens as gtokens

    modules = {"facts": facts, "handlers": handlers}
    leaf, incl = PhaseTimer(), PhaseTimer()
    store = PostgresEventStore(bench.app_dsn, schema=bench.schema, pool_size=2)
    for meth in ("append", "multi_stream_append", "read_stream", "read_category", "stream_version"):
        if hasattr(store, meth):  # multi_stream_append: from issue 14's step 2 on
            setattr(store, meth, leaf.wrap(f"store.{meth}", getattr(store, meth)))
    pool = getattr(store, "_pool", None)
    if pool is not None and getattr(pool, "_reset", None):  # runs on every return of a connection
        pool._reset = incl.wrap("pool reset query on connection return (inside store.*)", pool._reset)
    # As the disclosures service sees the store: its requests and authorizations sealed with its key.
    from confide.identity.directory_seal import SealedDisclosures

    store = SealedDisclosures(store, bench.key_dir, sign=True)
    rpc_cfg = {"AMQP_URI": bench.amqp_uri, "serializer": "json"}
    public_key = gtokens.signing_key(bench.key_dir).public_key()
    # This process stands in for the disclosures service: its calls to notes carry the payer's
    # assertion (as the gateway mints it) and the disclosures service's own credential.
    payer_assertion = bench.inst.assertion(bench.payer)
    principal = verify_assertion(payer_assertion, public_keys=load_trusted_assertion_keys(bench.key_dir),
                                 audience=AUDIENCE, issuer=bench.payer.issuer, now=datetime.now(timezone.utc))
    requester, identity = requester_for(principal, INSURER_ROLE), decision_identity(principal)
    clock = lambda: _dt.now(timezone.utc)  # noqa: E731
    engine = leaf.wrap("engine decide()", decide)
    schema_load = leaf.wrap("RPC payload schema load (marshmallow)", dservice.load)
    walls, cpus, rtts = [], [], []
    gw_verify, gw_body, gw_reply = [], [], []
    header = f"Bearer {bench.token}"
    try:
        with ExitStack() as stack:
            notes_proxy = stack.enter_context(ServiceRpcProxy(
                "notes", rpc_cfg, timeout=30, context_data=bench.inst.context(bench.payer, "disclosures")))
            ping = stack.enter_context(ServiceRpcProxy("bench_ping", rpc_cfg, timeout=30))
            notes = TimedProxy(notes_proxy, leaf, "RPC notes")
            for mod, name in INCLUSIVE_PROBES:
                if hasattr(modules[mod], name):
                    stack.enter_context(mock.patch.object(
                        modules[mod], name, incl.wrap(f"{mod}.{name}", getattr(modules[mod], name))))
            for i in range(requests + 5):
                warm = i < 5
                t = time.perf_counter()
                gtokens.verify_access_token(gtokens.bearer(header), public_key, _dt.now(timezone.utc))
                t1 = time.perf_counter()
                body = json.dumps(request_body(bench.patients[i % len(bench.patients)], i))
                data = gschemas.DisclosureRequestBodySchema().load(json.loads(body))
                t2 = time.perf_counter()
                payload = {"patient_id": data["patient_id"], "purpose": data["purpose"],
                           "note_kind": data["note_kind"], "authorization_id": data["authorization_id"],
                           "date_from": data["date_from"].isoformat(), "date_to": data["date_to"].isoformat(),
                           "channel": {"standard": "json", "claim": data["claim_id"]}}
                if i == 5:  # the warm-up requests are not counted
                    for tm in (leaf, incl):
                        tm.total.clear(), tm.count.clear()
                c3, t3 = time.process_time(), time.perf_counter()
                loaded = schema_load(dschemas.RequestDisclosureSchema(), payload)
                loaded["request_id"] = None
                loaded.pop("external_requester", None)  # the service's: an outside party's request (none here)
                # key_dir as the disclosures service gets it (its DecisionKeyDir): without it the handler
                # seals with config.key_dir()'s decision.key, which the notes service does not accept
                cmd = commands.RequestDisclosure(requester=requester, received_from=identity, **loaded)
                view = handlers.request_disclosure(cmd, store, clock, notes, engine, key_dir=bench.key_dir,
                                                   decided_for=identity)
                t4, c4 = time.perf_counter(), time.process_time()
                json.dumps(view)  # nameko serialises the reply
                json.dumps(gschemas.reply_from_view(view))
                t5 = time.perf_counter()
                p0 = time.perf_counter()
                ping.ping({"patient_id": "x"})
                rtt = time.perf_counter() - p0
                if view.get("status") != "released":
                    raise RuntimeError(f"in-process request not released: {view.get('status')}")
                if not warm:
                    walls.append(t4 - t3)
                    cpus.append(c4 - c3)
                    gw_verify.append(t1 - t)
                    gw_body.append(t2 - t1)
                    gw_reply.append(t5 - t4)
                    rtts.append(rtt)
            n = len(walls)
            leaf_out = {k: (v / n * 1000, leaf.count[k] / n) for k, v in leaf.total.items()}
            incl_out = {k: (v / n * 1000, incl.count[k] / n) for k, v in incl.total.items()}
            probe = []
            for _ in range(20):
                t = time.perf_counter()
                idx = facts.note_index(store, clock())
                probe.append(time.perf_counter() - t)
    finally:
        store.close()
    return {
        "n": n, "total_ms": statistics.mean(walls) * 1000, "cpu_ms": statistics.mean(cpus) * 1000,
        "leaf": leaf_out, "inclusive": incl_out,
        "gateway": {"token verify (JWT)": statistics.mean(gw_verify) * 1000,
                    "JSON + body schema load": statistics.mean(gw_body) * 1000,
                    "reply_from_view + JSON dumps": statistics.mean(gw_reply) * 1000},
        "rpc_rtt_ms": statistics.mean(rtts) * 1000,
        "note_index_ms": statistics.median(probe) * 1000, "notes_indexed": len(idx),
    }


# -- 3b. py-spy ------------------------------------------------------------------------

def find_py_spy(explicit: str | None) -> str | None:
    for cand in [explicit, os.environ.get("PY_SPY"), "/tmp/pyspy/bin/py-spy", shutil.which("py-spy")]:
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


# Each on-CPU sample is attributed to ONE phase: the OUTERMOST frame matching a phase marker
# (so psycopg under note_index counts as note_index); samples matching no marker go to the
# library of their innermost frame. Separately, LIBRARIES are reported inclusively.
PHASES = (
    ("schema load (marshmallow)", lambda f, p: (f in ("load", "_load") and any(
        x in p for x in ("disclosures/service", "gateway/service", "notes/schemas"))) or "marshmallow/" in p),
    ("token verify (JWT)", lambda f, p: f in ("verify_token", "bearer")),
    ("note index scan (facts.note_index)", lambda f, p: f == "note_index"),
    ("authorization scan", lambda f, p: f in ("authorization_for", "authorizations_for_patient",
                                              "_authorization_for")),
    ("load_request (read_stream + fold)", lambda f, p: f == "load_request"),
    ("appends (request events, AccessDecided)", lambda f, p: "disclosures/" in p and f in (
        "_append", "_record", "_record_access_decision", "_record_accounting_entry")),
    ("release RPC to notes (fetch_content)", lambda f, p: f == "fetch_content"),
    ("engine decide()", lambda f, p: "confide/hipaa" in p),
    ("view / reply building", lambda f, p: f in ("view_request", "reply_from_view", "_json")),
    ("notes: load_decision", lambda f, p: f == "load_decision"),
    ("notes: load_note (read_stream + fold)", lambda f, p: f == "load_note"),
    ("notes: views.release", lambda f, p: f == "release" and "notes/views" in p),
    ("RPC client call (publish + reply)", lambda f, p: "nameko/rpc.py" in p and f in ("__call__", "call_async")),
    ("audit: chain seal", lambda f, p: f == "seal" and "eventstore/chain" in p),
    ("audit: outbox relay (publish with confirms)", lambda f, p: f == "relay" and "confide/relay" in p),
    ("audit: projections (apply_event)", lambda f, p: f == "apply_event"),
)
LIBRARIES = (
    ("psycopg (+pool)", lambda f, p: "psycopg" in p),
    ("kombu/amqp", lambda f, p: "kombu/" in p or "/amqp/" in p),
    ("eventlet (hub, green I/O)", lambda f, p: "eventlet/" in p),
    ("json", lambda f, p: "/json/" in p),
    ("logging", lambda f, p: "/logging/" in p),
    ("marshmallow", lambda f, p: "marshmallow/" in p),
    ("werkzeug / wsgi", lambda f, p: "werkzeug/" in p or "eventlet/wsgi" in p),
    ("nameko", lambda f, p: "nameko/" in p),
)


def _frame(text: str) -> tuple[str, str]:
    # py-spy raw frames: "function (path/file.py:123)"
    if text.endswith(")") and " (" in text:
        func, _, loc = text[:-1].rpartition(" (")
        return func, loc.rsplit(":", 1)[0]
    return text, ""


def parse_collapsed(path: Path) -> dict:
    samples, phases, libs, self_time = 0, Counter(), Counter(), Counter()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {"samples": 0}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        try:
            c = int(count)
        except ValueError:
            continue
        full = [_frame(x) for x in stack.split(";")]
        frames = [(f.rsplit(".", 1)[-1] if "<locals>" not in f else f, loc) for f, loc in full]  # Class.method -> method
        samples += c
        phase = None
        for func, loc in frames:  # outermost first
            phase = next((label for label, pred in PHASES if pred(func, loc)), None)
            if phase:
                break
        if phase is None:
            func, loc = frames[-1]
            lib = next((label for label, pred in LIBRARIES if pred(func, loc)), "other")
            phase = f"(outside the phases) {lib}"
        phases[phase] += c
        for label, pred in LIBRARIES:
            if any(pred(func, loc) for func, loc in frames):
                libs[label] += c
        func, loc = full[-1]
        self_time[f"{func} ({'/'.join(loc.split('/')[-2:])})"] += c
    return {"samples": samples, "phases": phases, "libs": libs, "self": self_time}


def py_spy_profile(bench: Bench, py_spy: str, rate: float, seconds: float) -> dict:
    out = {}
    procs = {}
    for name in [n for n in ("gateway", "disclosures", "notes", "directory", "audit") if n in bench.procs]:
        path = bench.tmp / f"{name}.{rate:g}.pyspy.txt"
        procs[name] = (subprocess.Popen([py_spy, "record", "--nonblocking", "-r", "100", "-d", str(int(seconds + 2)),
                                         "-f", "raw", "-o", str(path), "-p", str(bench.procs[name].pid)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True), path)
    time.sleep(0.5)
    load = open_loop("stack (profiled)", bench.stack_client, rate, 0.5, seconds, 64, bench.cpu, drain=1.0)
    for name, (p, path) in procs.items():
        try:
            _, err = p.communicate(timeout=seconds + 20)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        prof = parse_collapsed(path)
        if not prof.get("samples"):
            prof["error"] = (err or "").strip().splitlines()[-1:] or ["no samples"]
        out[name] = prof
    out["_load"] = load
    return out


# -- reporting --------------------------------------------------------------------------

def print_engine(console, e):
    t = harness.table("1. Pure engine: confide.hipaa.engine.decide over the published example cases (cycled)",
                      ("measure", "ops/s", "µs/op", "ratio to baseline"))
    t.add_row(f"decide(case) over {e['cases']} cases from examples.json", fmt(e["engine"], 0),
              fmt(1e6 / e["engine"], 1), f"{e['engine'] / e['baseline']:.2f}×")
    t.add_row("baseline: json.loads(json.dumps(case)), same cases", fmt(e["baseline"], 0),
              fmt(1e6 / e["baseline"], 1), "1.00×")
    console.print(t)
    if e["engine_errors"]:
        console.print(f"[red]{e['engine_errors']} CaseFileErrors from decide()[/red]")


def print_loads(console, results: list[LoadResult], quick: bool):
    t = harness.table("2. Through the stack at fixed offered loads (open loop; latency from the scheduled start, ms)",
                      ("target", "offered/s", "achieved/s", "p50", "p90", "p99", "max", "errors", "p50 ÷ ping-HTTP",
                       "p99 ÷ ping-HTTP", "client late p99", "closed-loop p99*"))
    ping_http = {r.offered: r for r in results if r.target == "ping via HTTP"}
    for r in results:
        base = ping_http.get(r.offered)

        def ratio(a, b, base=base):
            if not base or a != a or b != b or b <= 0:
                return "-"
            return "∞" if a == float("inf") else f"{a / b:.1f}×"

        errs = sum(r.errors.values())
        err_text = "0" if not errs else f"{errs} ({', '.join(f'{k}: {v}' for k, v in r.errors.most_common(3))})"
        t.add_row(r.target, fmt(r.offered, 0), fmt(r.achieved, 1), fmt(r.p50, 2), fmt(r.p90, 2), fmt(r.p99, 2),
                  fmt(r.max, 2), err_text, ratio(r.p50, base.p50 if base else 0),
                  ratio(r.p99, base.p99 if base else 0), fmt(r.late_p99, 2), fmt(r.service_p99, 2))
    console.print(t)
    console.print("  Percentiles count failed and unsent requests as infinitely late (∞ = more than 1% failed). "
                  "Ratios are to 'ping via HTTP' at the same offered load.")
    console.print("  * closed-loop p99 = p99 of (response - actual send) of the successful requests: what a tool "
                  "ignoring coordinated omission would report. 'client late' = how long after its scheduled start a request was sent (waiting "
                  "for a free client thread, i.e. queueing behind slow responses, plus timer jitter).")

    comps = ["gateway", "disclosures", "notes", "audit", "postgres (our backends)", "rabbitmq (whole broker)",
             "ping_gateway", "ping", "client (bench)"]
    t = harness.table("CPU per request in the measured window (ms of CPU per successful request, from /proc)",
                      ["target", "offered/s", *comps, "sum", "cores used by bench", "other load on machine"])
    for r in results:
        ok, wall = max(1, r.ok), r.cpu.get("_all", 0) / max(1, os.cpu_count() or 1)
        row, total = [r.target, fmt(r.offered, 0)], 0.0
        for c in comps:
            v = r.cpu.get(c)
            if v is None:
                row.append("-")
                continue
            total += v
            row.append(fmt(v * 1000 / ok, 2))
        row += [fmt(total * 1000 / ok, 2), f"{total / max(1e-9, wall):.2f}",
                f"{r.cpu.get('other (not this bench)', 0) / max(1e-9, wall):.2f} cores"]
        t.add_row(*row)
    console.print(t)
    console.print(f"  the measured window (incl. drain) is wall time; this machine has {os.cpu_count()} cores, so "
                  f"'sum' ms/request caps throughput at about {os.cpu_count()}000 / sum requests/s.")

    stack = {r.offered: r for r in results if r.target == "stack POST /disclosure-requests"}
    r = stack.get(TARGET_RATE)
    if r is None:
        console.print(f"Target: p99 < {TARGET_P99_MS:.0f} ms at {TARGET_RATE} requests/s on this "
                      f"{os.cpu_count()}-core machine: not measured in this run"
                      + (" (--quick runs lower loads)" if quick else ""))
    else:
        met = r.p99 < TARGET_P99_MS and not sum(r.errors.values()) and r.achieved >= 0.95 * r.offered
        console.print(f"Target: p99 < {TARGET_P99_MS:.0f} ms at {TARGET_RATE} requests/s on this "
                      f"{os.cpu_count()}-core machine: {'✓ met' if met else '✗ missed'} — measured p99 "
                      f"{fmt(r.p99, 2)} ms, achieved {fmt(r.achieved, 1)}/s, {sum(r.errors.values())} errors")


CPU_COMPONENTS = ("gateway", "disclosures", "notes", "audit", "postgres (our backends)", "rabbitmq (whole broker)",
                  "ping_gateway", "ping", "client (bench)")
#: issue 14's goals: p99 of the stack at most this many times the ping's at TARGET_RATE, and CPU per
#: request (every process) at most this many times the ping's.
GOAL_P99_RATIO, GOAL_CPU_RATIO = 3.0, 2.0


def cpu_per_request(r: LoadResult) -> float:
    """ms of CPU per successful request, summed over every process the bench accounts."""
    return sum(r.cpu.get(c, 0.0) for c in CPU_COMPONENTS) * 1000 / max(1, r.ok)


def print_issue_rows(console, results: list[LoadResult]):
    """Issue 14's rows: the stack beside the HTTP->RPC ping measured in the same run, with the goals."""
    stack = {r.offered: r for r in results if r.target == "stack POST /disclosure-requests"}
    ping = {r.offered: r for r in results if r.target == "ping via HTTP"}
    t = harness.table("Issue 14: the disclosure round trip beside the HTTP→RPC ping of the same run",
                      ("path", "now", "baseline in the same run", "ratio", "goal", "met"))
    for rate in sorted(stack):
        r, b = stack[rate], ping.get(rate)
        if b is None:
            continue
        served = "" if r.achieved >= 0.95 * r.offered else f", {r.achieved:.1f}/s served"
        ratio = (r.p99 / b.p99) if b.p99 > 0 else float("nan")
        goal = f"≤ {GOAL_P99_RATIO:g}×" if rate == TARGET_RATE else ""
        met = "" if not goal else ("✓" if ratio <= GOAL_P99_RATIO and not sum(r.errors.values()) else "✗")
        t.add_row(f"insurer POST /disclosure-requests, p99 at {rate:.0f}/s offered", f"{fmt(r.p99, 2)} ms{served}",
                  f"ping {fmt(b.p99, 2)} ms", "∞" if ratio == float("inf") else f"{ratio:.1f}×", goal, met)
    for rate in sorted(stack):
        r, b = stack[rate], ping.get(rate)
        if b is None:
            continue
        a, base = cpu_per_request(r), cpu_per_request(b)
        ratio = a / base if base > 0 else float("nan")
        t.add_row(f"CPU per request, all processes, at {rate:.0f}/s", f"{a:.1f} ms", f"ping {base:.1f} ms",
                  f"{ratio:.1f}×", f"≤ {GOAL_CPU_RATIO:g}×", "✓" if ratio <= GOAL_CPU_RATIO else "✗")
    console.print(t)
    console.print("  the machine's other load (other sessions' tests) lands in 'other' in the CPU table, not here; "
                  "a saturated load's CPU per request includes the work of requests that failed.")


def print_phases(console, ph: dict, title: str):
    t = harness.table(title, ("exclusive phase (no nesting)", "ms / request", "calls / request", "share"))
    total = ph["total_ms"]
    accounted = 0.0
    for label, (ms, calls) in sorted(ph["leaf"].items(), key=lambda kv: -kv[1][0]):
        accounted += ms
        t.add_row(label, fmt(ms, 3), fmt(calls, 1), f"{ms / total * 100:.0f}%")
    t.add_row("Python in the handler (folds, events, view, build_case, ...)", fmt(total - accounted, 3), "",
              f"{(total - accounted) / total * 100:.0f}%")
    t.add_row("[b]request_disclosure total (wall, mean)[/b]", f"[b]{fmt(total, 3)}[/b]", "", "100%")
    t.add_row("  of which CPU in this process", fmt(ph["cpu_ms"], 3), "", f"{ph['cpu_ms'] / total * 100:.0f}%")
    console.print(t)
    t = harness.table("inclusive probes (nest; include the store time above)",
                      ("function", "ms / request", "calls / request"))
    for label, (ms, calls) in sorted(ph["inclusive"].items(), key=lambda kv: -kv[1][0]):
        t.add_row(label, fmt(ms, 3), fmt(calls, 1))
    console.print(t)
    console.print("  gateway steps in-process, ms: " + ", ".join(f"{k} {v:.3f}" for k, v in ph["gateway"].items())
                  + f"; bare RPC round trip (bench_ping) {ph['rpc_rtt_ms']:.2f} ms")
    console.print(f"  facts.note_index alone (median of 20): {ph['note_index_ms']:.2f} ms for {ph['notes_indexed']} "
                  f"notes indexed")


def print_profile(console, prof: dict, rate: float, seconds: float):
    load = prof.get("_load")
    if load is not None:
        console.print(f"3b. py-spy (100 Hz, --nonblocking) on gateway, disclosures, notes, audit during {seconds:g} s at "
                      f"{rate:.0f}/s offered: achieved {load.achieved:.1f}/s, p50 {fmt(load.p50, 2)} ms, p99 "
                      f"{fmt(load.p99, 2)} ms (the samplers cost CPU too; these latencies are not the result)")
    for name in ("gateway", "disclosures", "notes", "directory", "audit"):
        if name not in prof:
            continue
        p = prof.get(name) or {}
        if not p.get("samples"):
            console.print(f"  {name}: no py-spy samples ({p.get('error')})")
            continue
        busy = p["samples"] / (100 * (seconds + 2))
        t = harness.table(f"py-spy {name}: {p['samples']} on-CPU samples (≈{busy:.2f} of one core)",
                          ("phase (outermost match; exclusive)", "share"))
        for label, c in p["phases"].most_common():
            t.add_row(label, f"{c / p['samples'] * 100:.1f}%")
        console.print(t)
        console.print("   libraries, inclusive: " + ", ".join(
            f"{label} {c / p['samples'] * 100:.0f}%" for label, c in p["libs"].most_common()))
        console.print("   top self: " + ", ".join(
            f"{label} {c / p['samples'] * 100:.1f}%" for label, c in p["self"].most_common(6)))


def print_whatif(console, base: list[LoadResult], rows: list[LoadResult]):
    t = harness.table("3d. What-if: the same services with psycopg's C implementation (psycopg-binary, PSYCOPG_IMPL="
                      "binary) instead of the pure-Python ctypes one installed now",
                      ("psycopg", "offered/s", "achieved/s", "p50", "p99", "max", "errors", "disclosures CPU ms/req",
                       "notes CPU ms/req", "gateway CPU ms/req", "postgres CPU ms/req", "sum CPU ms/req"))
    stack = {r.offered: r for r in base if r.target == "stack POST /disclosure-requests"}
    comps = ("gateway", "disclosures", "notes", "audit", "postgres (our backends)", "rabbitmq (whole broker)",
             "client (bench)")

    def row(label, r):
        ok = max(1, r.ok)
        total = sum(r.cpu.get(c, 0) for c in comps)
        t.add_row(label, fmt(r.offered, 0), fmt(r.achieved, 1), fmt(r.p50, 2), fmt(r.p99, 2), fmt(r.max, 2),
                  str(sum(r.errors.values())), fmt(r.cpu.get("disclosures", 0) * 1000 / ok, 2),
                  fmt(r.cpu.get("notes", 0) * 1000 / ok, 2), fmt(r.cpu.get("gateway", 0) * 1000 / ok, 2),
                  fmt(r.cpu.get("postgres (our backends)", 0) * 1000 / ok, 2), fmt(total * 1000 / ok, 2))

    for r in rows:
        if r.offered in stack:
            row("python (ctypes), part 2", stack[r.offered])
        row("binary (C)", r)
    console.print(t)


# -- cProfile of the services (when py-spy is not installed) ------------------------------

def print_cprofile(console, name: str, path: Path, top: int = 30):
    import io
    import pstats

    if not path.exists():
        console.print(f"  {name}: no profile written ({path})")
        return
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(str(path), stream=out)
        stats.strip_dirs().sort_stats(key).print_stats(top)
        text = out.getvalue()
        body = text[text.find("ncalls"):] if "ncalls" in text else text
        console.print(f"[b]cProfile {name}, by {key}[/b] (eventlet: cumulative times include other greenlets' "
                      f"time while this one waited; tottime is reliable)")
        console.print(body, markup=False, highlight=False)


def cprofile_main(args) -> int:
    console = Console(width=220)
    logging.getLogger("amqp").setLevel(logging.ERROR)
    logging.getLogger("kombu").setLevel(logging.ERROR)
    rate = float(args.loads.split(",")[0]) if args.loads else 50.0
    seconds = args.seconds or 10.0
    bench = Bench(console, with_audit=not args.no_audit)
    bench.cprofile = True
    harness.interrupt_on(signal.SIGTERM)
    try:
        bench.setup()
        bench.seed(args.patients)
        c = bench.stack_client()
        ok, err = c.call(0)
        c.close()
        if not ok:
            raise RuntimeError(f"smoke request failed: {err}\n{bench.log_tail('disclosures')}")
        bench.wait_quiet()
        r = open_loop("stack POST /disclosure-requests", bench.stack_client, rate, args.warmup or 2.0, seconds, 64,
                      bench.cpu, 5.0)
        ok_n = max(1, r.ok)
        console.print(f"under cProfile at {rate:.0f}/s: achieved {r.achieved:.1f}/s, p50 {fmt(r.p50, 2)} ms, "
                      f"p99 {fmt(r.p99, 2)} ms, errors {sum(r.errors.values())}; CPU ms/request: " + ", ".join(
                          f"{k} {v * 1000 / ok_n:.2f}" for k, v in r.cpu.items() if not k.startswith("_")))
        bench.wait_quiet()
        harness.stop_processes([p for k, p in bench.procs.items() if k in bench.CONFIDE_SERVICES], signal.SIGINT,
                               grace=60)  # cProfile writes its file on a clean exit
        for name in ("gateway", "disclosures", "notes", "audit", "directory"):
            print_cprofile(console, name, bench.tmp / f"{name}.prof")
        if args.cprofile_out:
            out = Path(args.cprofile_out)
            out.mkdir(parents=True, exist_ok=True)
            for prof in bench.tmp.glob("*.prof"):
                shutil.copy(prof, out / prof.name)
    finally:
        bench.teardown()
    return 0


# -- main -------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: loads 20/50, 2 s each")
    ap.add_argument("--loads", type=str, default=None, help="comma-separated offered loads (requests/s)")
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per load")
    ap.add_argument("--warmup", type=float, default=None, help="warm-up seconds per load (discarded)")
    ap.add_argument("--patients", type=int, default=5)
    ap.add_argument("--no-audit", action="store_true", help="do not start the audit service (relay, projections)")
    ap.add_argument("--no-profile", action="store_true", help="skip part 3 (phases, py-spy, index growth)")
    ap.add_argument("--py-spy", default=None, help="py-spy executable (default /tmp/pyspy/bin/py-spy or PATH)")
    ap.add_argument("--profile-loads", type=str, default=None,
                    help="comma-separated offered loads for the py-spy run 3b (default: --loads' last)")
    ap.add_argument("--py-spy-out", default=None, help="copy the raw (collapsed) py-spy profiles into this directory")
    ap.add_argument("--psycopg-binary", default="/tmp/psycopg_binary",
                    help="a --target dir holding psycopg-binary (same version as psycopg) for the what-if run "
                         "3d with psycopg's C implementation; skipped if absent")
    ap.add_argument("--cprofile", action="store_true",
                    help="instead of the tables: run the Confide services under cProfile during one load "
                         "(--loads' first, default 50/s) and print each one's top functions (py-spy absent)")
    ap.add_argument("--cprofile-out", default=None, help="keep the .prof files in this directory")
    args = ap.parse_args(argv)
    if args.cprofile:
        return cprofile_main(args)

    loads = [float(x) for x in args.loads.split(",")] if args.loads else \
        ([20, 50] if args.quick else [20, 50, 100, 200])
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    warmup = args.warmup or (1.0 if args.quick else 2.0)
    drain = 3.0 if args.quick else 5.0
    console = Console(width=200)
    logging.getLogger("amqp").setLevel(logging.ERROR)  # "Received method ... during closing channel" noise
    logging.getLogger("kombu").setLevel(logging.ERROR)
    started = time.time()
    console.print(f"[b]Confide disclosures benchmark[/b] {'(quick)' if args.quick else '(full)'} — "
                  f"{os.cpu_count()} cores, python {sys.version.split()[0]}, loads {loads}/s, "
                  f"{warmup:g} s warm-up + {seconds:g} s measured each, {datetime.now(timezone.utc):%Y-%m-%d %H:%M}Z")

    e = engine_bench(0.5 if args.quick else 2.0)
    print_engine(console, e)

    bench = Bench(console, with_audit=not args.no_audit)
    harness.interrupt_on(signal.SIGTERM)
    try:
        t = time.time()
        bench.setup()
        bench.seed(args.patients)
        console.print(f"stack up in {time.time() - t:.1f} s: schema {bench.schema} in {TEST_DB}, vhost {bench.vhost}, "
                      f"gateway :{bench.gw_port}, services {', '.join(bench.procs)}; seeded {len(bench.patients)} "
                      f"patients × {len(SESSION_DATES)} signed progress notes + 1 psychotherapy note")
        # smoke check one request end to end
        c = bench.stack_client()
        ok, err = c.call(0)
        c.close()
        if not ok:
            raise RuntimeError(f"smoke request failed: {err}\n{bench.log_tail('gateway')}\n{bench.log_tail('disclosures')}")

        targets = [("ping via RPC", bench.ping_rpc_client, 32),
                   ("ping via HTTP", bench.ping_http_client, 64),
                   ("stack POST /disclosure-requests", bench.stack_client, 64)]
        results = []
        # the baselines first (a saturated stack run leaves an audit backlog that would load the machine),
        # then the stack, each load after the audit side has caught up with the previous one
        for name, make, threads in targets:
            for rate in loads:
                waited = bench.wait_quiet()
                r = open_loop(name, make, rate, warmup, seconds, threads, bench.cpu, drain)
                results.append(r)
                console.print(f"  {name:<32} {rate:>5.0f}/s → {r.achieved:7.1f}/s p50 {fmt(r.p50, 2):>7} "
                              f"p99 {fmt(r.p99, 2):>8} max {fmt(r.max, 2):>8} errors {sum(r.errors.values())}"
                              f"  (waited {waited:.1f} s for audit to catch up first)")
        order = {t[0]: k for k, t in enumerate(targets)}
        results.sort(key=lambda r: (r.offered, order[r.target]))
        print_loads(console, results, args.quick)
        print_issue_rows(console, results)

        if not args.no_profile:
            console.rule("3. Where the time goes")
            ph = phase_breakdown(bench, 40 if args.quick else 200)
            print_phases(console, ph, f"3a. In-process phases, {ph['n']} sequential requests, "
                                      f"{ph['notes_indexed']} notes on file (mean ms)")
            py_spy = find_py_spy(args.py_spy)
            if py_spy:
                prof_rates = [float(x) for x in args.profile_loads.split(",")] if args.profile_loads else loads[-1:]
                prof_secs = 3.0 if args.quick else 8.0
                for prof_rate in prof_rates:
                    bench.wait_quiet()
                    prof = py_spy_profile(bench, py_spy, prof_rate, prof_secs)
                    print_profile(console, prof, prof_rate, prof_secs)
                if args.py_spy_out:
                    out = Path(args.py_spy_out)
                    out.mkdir(parents=True, exist_ok=True)
                    for raw in bench.tmp.glob("*.pyspy.txt"):
                        shutil.copy(raw, out / raw.name)
            else:
                console.print("py-spy not found (pip install --target /tmp/pyspy py-spy); sampling profile skipped")
            binary_dir = Path(args.psycopg_binary) if args.psycopg_binary else None
            if binary_dir and (binary_dir / "psycopg_binary").is_dir():
                whatif_loads = loads[:2]
                bench.restart_confide_services({"PSYCOPG_IMPL": "binary", "PYTHONPATH": os.pathsep.join(
                    [str(binary_dir), bench.env()["PYTHONPATH"]])})
                rows = []
                for rate in whatif_loads:
                    bench.wait_quiet()
                    rows.append(open_loop("stack, psycopg binary", bench.stack_client, rate, warmup, seconds, 64,
                                          bench.cpu, drain))
                print_whatif(console, results, rows)
                bench.restart_confide_services({})
            else:
                console.print(f"3d skipped: no psycopg_binary under {binary_dir} (pip install --target "
                              f"/tmp/psycopg_binary psycopg-binary==<psycopg's version>)")
            extra = 500 if args.quick else 1000
            t = time.time()
            bench.add_background_notes(extra)
            console.print(f"added {extra} draft progress notes for {min(extra, 500)} other patients "
                          f"in {time.time() - t:.1f} s")
            ph2 = phase_breakdown(bench, 20 if args.quick else 60)
            print_phases(console, ph2, f"3c. Same phases with {ph2['notes_indexed']} notes on file (mean ms)")
            bench.wait_quiet()
            r = open_loop("stack POST /disclosure-requests", bench.stack_client, loads[0], warmup,
                          min(seconds, 5.0), 64, bench.cpu, drain)
            console.print(f"stack at {loads[0]:.0f}/s with {ph2['notes_indexed']} notes on file: achieved "
                          f"{r.achieved:.1f}/s, p50 {fmt(r.p50, 2)} ms, p99 {fmt(r.p99, 2)} ms, max {fmt(r.max, 2)} "
                          f"ms, errors {sum(r.errors.values())}; disclosures CPU "
                          f"{r.cpu.get('disclosures', 0) * 1000 / max(1, r.ok):.2f} ms/request, postgres "
                          f"{r.cpu.get('postgres (our backends)', 0) * 1000 / max(1, r.ok):.2f} ms/request")
    finally:
        bench.teardown()
    console.print(f"done in {time.time() - started:.0f} s; schema and vhost dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Replicated services under load (issue 15, part 3): ``confide run --replicas N`` killed one replica
at a time, the sealer's lease taken over, and the throughput of 1 against 2 replicas per service.

Usage::

    .venv/bin/python bench/cluster_replicas.py                # throughput 1 vs 2, then the faults
    .venv/bin/python bench/cluster_replicas.py --faults-only  # the faults with 2 replicas only
    .venv/bin/python bench/cluster_replicas.py --json out.json

The stack runs on the PostgreSQL and RabbitMQ it is given (:class:`Servers`; by default the
machine's own on 5432 and 5672, with a scratch schema in ``confide_test``, a RabbitMQ vhost and a
web database of its own, all removed at the end); ``make cluster`` points it at the Patroni and
RabbitMQ clusters instead (``CONFIDE_CLUSTER_*`` below). Load and its bookkeeping are those of
``bench/chaos.py`` (insurers' disclosure requests with an Idempotency-Key, retried until answered
and polled until final; an author writing, signing and reading notes; another clinician reading):
every acknowledged operation is then looked for in the event store.

Faults, with 2 replicas of notes, disclosures, audit, gateway and web: SIGKILL one replica of each
in turn (the audit one being the holder of the sealer-relay lease), under load. Per fault it
records how long the service went unanswered (its other replica carries on: this should be ~0),
how long until the killed replica was back (the supervisor's backoff), and for the audit kill how
long until the other replica held the lease and sealing went on (the takeover). At the end: lost,
duplicated and half-done counts (``chaos.audit_store``), ``confide audit verify`` and ``replay``,
events dead-lettered. Every count must be 0.

Environment (all optional): ``CONFIDE_CLUSTER_ADMIN_DSN`` (a superuser on the PostgreSQL to use),
``CONFIDE_CLUSTER_AMQP_ADMIN`` (the RabbitMQ management URI with an administrator), as for
``confide.config.admin_dsn`` / ``rabbit_admin_uri``.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import chaos  # noqa: E402  (the load, its ledger and the store's counts)

TEST_DB = "confide_test"
REPLICATED = ("notes", "disclosures", "audit", "gateway", "web")
PYTHONPATH = os.pathsep.join(str(REPO / p) for p in (
    "shared", "app", "services/notes", "services/disclosures", "services/audit", "services/gateway",
    "services/directory", "services/web"))
#: The takeover of the sealer-relay lease must take at most this long after its holder is killed.
TAKEOVER_LIMIT = 5.0


def log(msg: str) -> None:
    print(f"[replicas {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(replicas: int) -> tuple[int, int, int]:
    """(gateway port, web port, replica port offset) with every replica's port free too."""
    for _ in range(200):
        gateway, web = random.randint(20000, 40000), random.randint(20000, 40000)
        offset = random.randint(1000, 9000)
        ports = {gateway, web} | {p + offset + i for p in (gateway, web) for i in range(replicas)}
        if len(ports) == 2 + 2 * replicas and all(_port_free(p) for p in ports):
            return gateway, web, offset
    raise RuntimeError("no free ports for the front doors and their replicas")


# -- the servers: a schema, a vhost and a web database of our own ------------------------------------

class Servers:
    """A scratch event-store schema in ``confide_test``, a RabbitMQ vhost and a web database on the
    PostgreSQL and RabbitMQ given (the machine's own by default); ``close()`` removes all three."""

    def __init__(self):
        from confide import config
        from confide.broker import declare_topology
        from confide.eventstore import install
        from web import dbsetup

        self.admin_dsn = os.environ.get("CONFIDE_CLUSTER_ADMIN_DSN") or config.admin_dsn()
        self.rabbit_admin = os.environ.get("CONFIDE_CLUSTER_AMQP_ADMIN") or config.rabbit_admin_uri()
        self.schema = "t_rep_" + uuid.uuid4().hex[:10]
        self.vhost = "confide-rep-" + uuid.uuid4().hex[:10]
        self.web_db = "confide_web_rep_" + uuid.uuid4().hex[:10]
        self._made: list[str] = []
        try:
            install.install_schema(self.admin_dsn, TEST_DB, self.schema)
            self._made.append("schema")
            install.ensure_projector_password(self.admin_dsn)
            self.db_dsn = config.with_dbname(config.db_dsn(), TEST_DB)
            self.projector_dsn = config.with_dbname(config.projector_dsn(), TEST_DB)
            self.auditor_dsn = config.with_dbname(config.auditor_dsn(), TEST_DB)
            admin = urllib.parse.urlparse(self.rabbit_admin)
            self._rabbit("PUT", f"/api/vhosts/{self.vhost}")
            self._made.append("vhost")
            self._rabbit("PUT", f"/api/permissions/{self.vhost}/{admin.username}",
                         {"configure": ".*", "write": ".*", "read": ".*"})
            self.amqp = f"amqp://{admin.username}:{admin.password}@{admin.hostname}:5672/{self.vhost}"
            declare_topology(self.amqp)
            password = dbsetup._secret(config.key_dir() / "web-db.secret", lambda: secrets.token_urlsafe(24))
            dbsetup.ensure_database(self.admin_dsn, self.web_db, password)
            self._made.append("web_db")
            self.web_dsn = dbsetup.dsn(self.web_db, password)
            env = {**os.environ, "PYTHONPATH": PYTHONPATH, "CONFIDE_WEB_SECRET_KEY": "migrate-only",
                   "CONFIDE_WEB_DB_DSN": self.web_dsn}
            subprocess.run([sys.executable, "-m", "web", "migrate", "--noinput", "-v", "0"], env=env, check=True,
                           cwd=REPO, timeout=300)
        except BaseException:
            self.close()
            raise

    def _rabbit(self, method: str, path: str, body: dict | None = None) -> None:
        admin = urllib.parse.urlparse(self.rabbit_admin)
        url = f"{admin.scheme}://{admin.hostname}:{admin.port}{path}"
        req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", "Basic " + base64.b64encode(
            f"{admin.username}:{admin.password}".encode()).decode())
        urllib.request.urlopen(req, timeout=15).close()

    def dead_lettered(self) -> int:
        from kombu import Connection

        from confide.broker import AUDIT_DLQ_NAME

        with Connection(self.amqp, connect_timeout=5) as conn:
            _, count, _ = conn.channel().queue_declare(queue=AUDIT_DLQ_NAME, passive=True)
        return count

    def close(self) -> None:
        import psycopg
        from psycopg import sql

        from confide.eventstore import install

        if "vhost" in self._made:
            try:
                self._rabbit("DELETE", f"/api/vhosts/{self.vhost}")
            except OSError as exc:
                log(f"could not delete vhost {self.vhost}: {exc}")
        if "schema" in self._made:
            install.drop_schema(self.admin_dsn, TEST_DB, self.schema)
        if "web_db" in self._made:
            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.web_db)))
        self._made.clear()


# -- the stack: `confide run --replicas N` -------------------------------------------------------------

class ReplicaStack:
    """``confide run --replicas N`` on ``servers``; shaped like ``chaos.Installation`` for its load."""

    def __init__(self, servers: Servers, base: Path, replicas: int):
        from confide import config
        from confide.keys import ensure_keys

        self.servers, self.base, self.replicas = servers, base, replicas
        self.proc: subprocess.Popen | None = None
        self.key_dir = base / "keys"
        ensure_keys(self.key_dir)
        gateway, web, offset = free_ports(replicas)
        self.gateway_url, self.web_url = f"http://127.0.0.1:{gateway}", f"http://127.0.0.1:{web}"
        self.offset = offset
        self.env = {
            **os.environ, "PYTHONPATH": PYTHONPATH, "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1",
            "CONFIDE_ADMIN_DSN": servers.admin_dsn, "CONFIDE_DB_DSN": servers.db_dsn,
            "CONFIDE_PROJECTOR_DSN": servers.projector_dsn, "CONFIDE_AUDITOR_DSN": servers.auditor_dsn,
            "CONFIDE_DB_SCHEMA": servers.schema, "CONFIDE_KEY_DIR": str(self.key_dir),
            "CONFIDE_CHECKPOINT_DIR": str(base / "checkpoints"), "CONFIDE_AMQP_URI": servers.amqp,
            **{config.amqp_uri_key(u): servers.amqp for u in config.BROKER_USERS},
            "CONFIDE_GATEWAY_ADDRESS": f"127.0.0.1:{gateway}", "CONFIDE_GATEWAY_URL": self.gateway_url,
            "CONFIDE_WEB_ADDRESS": f"127.0.0.1:{web}", "CONFIDE_WEB_DB_DSN": servers.web_dsn,
            "CONFIDE_WEB_SECRET_KEY": secrets.token_urlsafe(40), "CONFIDE_WEB_SECURE_COOKIES": "0",
            "CONFIDE_REPLICAS": str(replicas), "CONFIDE_REPLICA_PORT_OFFSET": str(offset),
        }
        for key in ("CONFIDE_WEB_DIRECTORY", "CONFIDE_WEB_OIDC_ISSUER", "CONFIDE_WEB_BASE_URL", "CONFIDE_INSTANCE"):
            self.env.pop(key, None)
        self.config = {"AMQP_URI": servers.amqp, "serializer": "json"}
        self.log_path = base / "run.log"

    def store(self, pool_size: int = 4):
        from confide.eventstore.store import PostgresEventStore

        return PostgresEventStore(self.servers.db_dsn, schema=self.servers.schema, pool_size=pool_size)

    def start(self) -> None:
        with open(self.log_path, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from confide_app.cli import main; main()", "run", "--replicas",
                 str(self.replicas)], env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    def expected(self) -> set[str]:
        from confide import replicas as rep

        names = {r.name for r in rep.plan(chaos.SERVICES, self.replicas, self.env)}
        return names | ({"haproxy"} if self.replicas > 1 else set())

    def instances(self) -> dict[str, int]:
        """{instance name: pid} of the supervisor's children (their ``CONFIDE_INSTANCE``; HAProxy's argv)."""
        found: dict[str, int] = {}
        if self.proc is None:
            return found
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) != self.proc.pid:
                    continue
                environ = (entry / "environ").read_bytes().split(b"\0")
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError):
                continue
            name = next((v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"CONFIDE_INSTANCE=")), None)
            if name is None and argv and argv[0].endswith(b"haproxy"):
                name = "haproxy"
            if name:
                found[name] = int(entry.name)
        return found

    def service_pids(self) -> dict[str, int]:
        """{service: pid of one of its instances} (chaos's probes ask per service)."""
        out: dict[str, int] = {}
        for name, pid in sorted(self.instances().items()):
            out.setdefault(name.rsplit("-", 1)[0] if name[-1].isdigit() else name, pid)
        return out

    def lease_holder(self) -> str | None:
        """The instance holding the sealer-relay lease now (its session's application_name), or None."""
        import psycopg

        from confide import config
        from confide.eventstore.lease import LEASE_CLASS

        with psycopg.connect(config.with_dbname(self.servers.admin_dsn, TEST_DB), autocommit=True) as conn:
            row = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::int4::oid "
                "AND l.objid = hashtext(%s)::oid AND l.objsubid = 2",
                (LEASE_CLASS, f"{self.servers.schema}:sealer-relay")).fetchone()
        return row[0].removeprefix("confide-lease ") if row else None

    def sealed_index(self) -> int:
        from confide.eventstore.chain import sealed_index

        store = self.store(pool_size=1)
        try:
            return sealed_index(store) or -1
        finally:
            store.close()

    def wait_up(self, timeout: float = 240) -> float:
        """Seconds until every instance runs and both front doors answer /health 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"confide run exited {self.proc.returncode}:\n{self.tail()}")
            if self.expected() <= set(self.instances()) and all(
                    chaos.http(u + "/health", timeout=5)[0] == 200 for u in (self.gateway_url, self.web_url)):
                return time.monotonic() - started
            time.sleep(0.5)
        raise RuntimeError(f"the stack did not come up in {timeout:g} s:\n{self.tail()}")

    def tail(self, n: int = 8000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def close(self) -> None:
        if self.proc is not None:
            from confide.testing.browser import stop

            stop(self.proc, grace=15)
            self.proc = None


# -- faults --------------------------------------------------------------------------------------------

@dataclass
class ReplicaFault:
    fault: str
    killed: str
    unanswered: float | None  # seconds the service did not answer (its other replica should: ~0)
    replica_back: float | None  # seconds until the killed replica ran again (a new process)
    takeover: float | None = None  # the sealer-relay lease: seconds until another instance held it
    sealing_resumed: float | None = None  # seconds until the chain grew again after the kill
    others_restarted: list = field(default_factory=list)


def answer_gap(stack: ReplicaStack, people, service: str, timeout: float) -> float | None:
    """Seconds from now until ``service`` answers a probe (0 when at once)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if chaos.probe(stack, people, service):
            return round(time.monotonic() - started, 2)
        time.sleep(0.1)
    return None


def kill_replica(stack: ReplicaStack, people, service: str, timeout: float = 120) -> ReplicaFault:
    """SIGKILL one replica of ``service`` (for audit: the lease holder) and measure the recovery."""
    before = stack.instances()
    victim = f"{service}-1"
    sealed_before = None
    if service == "audit":
        holder = stack.lease_holder()
        victim = holder if holder in before else victim
        sealed_before = stack.sealed_index()
    killed_at = time.monotonic()
    os.kill(before[victim], signal.SIGKILL)
    result = ReplicaFault(f"kill -9 {victim}", victim, answer_gap(stack, people, service, timeout), None)
    if service == "audit":
        while time.monotonic() - killed_at < timeout:
            holder = stack.lease_holder()
            if holder and holder != victim:
                result.takeover = round(time.monotonic() - killed_at, 2)
                break
            time.sleep(0.05)
        while time.monotonic() - killed_at < timeout:
            if stack.sealed_index() > (sealed_before or -1):
                result.sealing_resumed = round(time.monotonic() - killed_at, 2)
                break
            time.sleep(0.1)
    while time.monotonic() - killed_at < timeout:
        now = stack.instances()
        if now.get(victim) not in (None, before[victim]):
            result.replica_back = round(time.monotonic() - killed_at, 1)
            break
        time.sleep(0.2)
    after = stack.instances()
    result.others_restarted = sorted(n for n in before if n != victim and after.get(n) != before[n])
    return result


# -- runs ----------------------------------------------------------------------------------------------

def throughput(replicas: int, seconds: float, plan: chaos.Plan) -> dict:
    """Acknowledged operations per second under ``plan``'s load for ``seconds`` on a fresh stack of
    ``replicas`` replicas (a schema, vhost and web database of its own)."""
    base = Path(tempfile.mkdtemp(prefix=f"confide-rep{replicas}-"))
    servers = stack = people = load = None
    try:
        servers = Servers()
        stack = ReplicaStack(servers, base, replicas)
        people = chaos.People(stack)
        stack.start()
        up = stack.wait_up()
        log(f"{replicas} replica(s) up in {up:.0f} s; load for {seconds:g} s")
        load = chaos.Load(stack, people, plan)
        load.start()
        time.sleep(5)  # warm-up: tokens, connections, caches
        with load.ledger.lock:
            start_acks = load.ledger.acknowledged()
        started = time.monotonic()
        time.sleep(seconds)
        with load.ledger.lock:
            acks = load.ledger.acknowledged() - start_acks
        elapsed = time.monotonic() - started
        return {"replicas": replicas, "seconds": round(elapsed, 1), "operations": acks,
                "per_second": round(acks / elapsed, 2)}
    finally:
        if load is not None:
            load.stopping.set()
            load.stop_polling.set()
        if stack is not None:
            stack.close()
        if people is not None:
            people.close()
        if servers is not None:
            servers.close()
        shutil.rmtree(base, ignore_errors=True)


def faults(plan: chaos.Plan, keep: bool = False) -> dict:
    """Two replicas of each, under load: kill one replica of each service (audit: the lease holder);
    then the counts. Every count must be 0."""
    base = Path(tempfile.mkdtemp(prefix="confide-rep-faults-"))
    servers = stack = people = load = None
    started = time.monotonic()
    try:
        servers = Servers()
        stack = ReplicaStack(servers, base, 2)
        people = chaos.People(stack)
        stack.start()
        log(f"2 replicas up in {stack.wait_up():.0f} s (log {stack.log_path})")
        load = chaos.Load(stack, people, plan)
        load.start()
        time.sleep(plan.warmup)
        results: list[ReplicaFault] = []
        for service in REPLICATED:
            log(f"kill -9 one replica of {service}")
            results.append(kill_replica(stack, people, service))
            log(f"  {results[-1]}")
            if results[-1].replica_back is not None:
                stack.wait_up(120)
            time.sleep(plan.pause)
        last_fault = time.monotonic()
        log("faults done; load stops")
        load.stop()
        while time.monotonic() < last_fault + plan.final_after:
            with load.ledger.lock:
                if all(r in load.ledger.final for r in load.ledger.requests):
                    break
            time.sleep(1)
        found = chaos.audit_store(stack, load.ledger)
        load.stop_poller()
        not_final = sorted(r for r in load.ledger.requests if found["status"].get(r) not in chaos.FINAL)
        problems = chaos.verify_and_replay(stack)
        led = load.ledger
        unanswered = [f for f in results if f.unanswered is None]
        takeover = next((f.takeover for f in results if f.killed.startswith("audit")), None)
        return {
            "seconds": round(time.monotonic() - started, 1),
            "acknowledged": {"disclosure requests": len(led.requests), "notes written": len(led.written),
                             "notes signed": len(led.signed), "reads": len(led.reads)},
            "requests by status": dict(Counter(found["status"].get(r, "missing") for r in led.requests)),
            "attempts": dict(led.attempts), "unanswered attempts": dict(led.failures), "events": found["events"],
            "faults": [f.__dict__ for f in results],
            "takeover": takeover,
            "counts": {
                "acknowledged but not recorded": sum(len(v) for v in found["lost"].values()),
                "releases without a prior decision": len(found["unbacked"]),
                "duplicate decisions": len(found["duplicate_decisions"]),
                "duplicate releases": len(found["duplicate_releases"]),
                f"requests not final {plan.final_after:g} s after the last fault": len(not_final),
                "services unanswered after a replica was killed": len(unanswered),
                "killed replicas not restarted": len([f for f in results if f.replica_back is None]),
                "other instances restarted by a kill": sum(len(f.others_restarted) for f in results),
                f"lease takeover missing or over {TAKEOVER_LIMIT:g} s": int(takeover is None or takeover > TAKEOVER_LIMIT),
                "events dead-lettered by the audit consumer": servers.dead_lettered(),
                "verify or replay failures": len(problems),
            },
            "details": {"lost": found["lost"], "unbacked": found["unbacked"][:20],
                        "duplicate decisions": found["duplicate_decisions"][:20],
                        "duplicate releases": found["duplicate_releases"][:20], "not final": not_final[:20],
                        "problems": problems},
        }
    except BaseException:
        if stack is not None:
            log("run log tail:\n" + stack.tail())
        raise
    finally:
        if load is not None:
            load.stopping.set()
            load.stop_polling.set()
        if stack is not None:
            stack.close()
        if people is not None:
            people.close()
        if servers is not None:
            servers.close()
        if keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


FAULT_PLAN = chaos.Plan(rounds=1, kills=REPLICATED, warmup=8, pause=4, db_down=0, broker_down=0, back_timeout=120,
                        final_after=60, payers=3, authors=2, others=1)
THROUGHPUT_PLAN = chaos.Plan(rounds=0, kills=(), warmup=5, pause=0, db_down=0, broker_down=0, back_timeout=0,
                             final_after=0, payers=6, authors=4, others=2)


def report(result: dict) -> str:
    lines = []
    if "throughput" in result:
        lines.append("Throughput (acknowledged operations per second, same load):")
        for t in result["throughput"]:
            lines.append(f"  {t['replicas']} replica(s) per service: {t['per_second']:>7} /s "
                         f"({t['operations']} in {t['seconds']} s)")
    if "faults" in result:
        f = result["faults"]
        lines.append(f"Faults under load ({f['seconds']} s, {f['events']} events): acknowledged {f['acknowledged']}")
        lines.append(f"  {'fault':<24} {'unanswered (s)':>15} {'replica back (s)':>17} {'lease takeover (s)':>19} "
                     f"{'sealing on (s)':>15}")
        for x in f["faults"]:
            lines.append(f"  {x['fault']:<24} {_s(x['unanswered']):>15} {_s(x['replica_back']):>17} "
                         f"{_s(x['takeover']):>19} {_s(x['sealing_resumed']):>15}")
        lines.append("  must all be 0:")
        for k, v in f["counts"].items():
            lines.append(f"    {k:<60} {v}")
    return "\n".join(lines)


def _s(v) -> str:
    return "-" if v is None else f"{v:g}"


def main(argv=None) -> int:
    import logging

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults-only", action="store_true")
    parser.add_argument("--seconds", type=float, default=30, help="load per throughput run")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    result: dict = {}
    if not args.faults_only:
        result["throughput"] = [throughput(n, args.seconds, THROUGHPUT_PLAN) for n in (1, 2)]
    result["faults"] = faults(FAULT_PLAN, keep=args.keep)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    failed = {k: v for k, v in result["faults"]["counts"].items() if v}
    if failed:
        print(json.dumps(result["faults"]["details"], indent=1, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

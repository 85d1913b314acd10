"""The whole cluster topology under load, each part killed in turn (issue 15; ``make test-cluster``).

``confide cluster``'s :class:`LocalCluster` on ports and a directory of its own: PostgreSQL under
Patroni (a primary, a synchronous standby, 1 etcd member, HAProxy), three RabbitMQ nodes with quorum
queues, and ``confide run`` with 1, then 2 replicas of notes, disclosures, audit, gateway and web.
The load and its bookkeeping are ``bench/chaos.py``'s (insurers' disclosure requests with an
Idempotency-Key, polled until final; an author writing, signing and reading notes; another clinician
reading), the replica kills ``bench/cluster_replicas.py``'s. In order, under load, with 2 replicas:

1. kill -9 the PostgreSQL primary (postmaster and backends): Patroni promotes the synchronous
   standby; the services reconnect through HAProxy; the old primary rejoins as the standby;
2. kill -9 the RabbitMQ node every client connected to first: they move to the next node;
3. kill -9 one replica of notes, disclosures, gateway and web: the other answers;
4. kill -9 the audit replica holding the sealer-relay lease: the other takes it within
   ``TAKEOVER_LIMIT`` seconds and sealing goes on.

Then: every acknowledged operation recorded, no duplicate decision or release, every request final
within ``FINAL_AFTER`` seconds of the last fault, ``confide audit verify`` and ``replay`` OK, nothing
dead-lettered. It prints the table (counts and recovery time per fault) and the throughput with 1 and
2 replicas per service on this machine. Everything is stopped and removed in ``finally``.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import chaos  # noqa: E402
import cluster_replicas as cr  # noqa: E402
from confide_app.cluster_cli import DATABASE, SCHEMA, LocalCluster  # noqa: E402

#: Patroni must have promoted the standby (and it take writes through HAProxy) within this long.
FAILOVER_LIMIT = 30.0
#: The sealer-relay lease must move to the other audit replica within this long of its holder's death.
TAKEOVER_LIMIT = cr.TAKEOVER_LIMIT
#: Every service answers again within this long of a fault.
BACK_TIMEOUT = 150.0
#: Every acknowledged disclosure request is final within this long of the last fault.
FINAL_AFTER = 90.0
#: Seconds of load measured for the throughput (after WARMUP seconds).
THROUGHPUT_SECONDS, WARMUP = 20.0, 6.0
PLAN = chaos.Plan(rounds=1, kills=(), warmup=WARMUP, pause=3, db_down=0, broker_down=0, back_timeout=BACK_TIMEOUT,
                  final_after=FINAL_AFTER, payers=3, authors=2, others=1)
REPLICA_KILLS = ("notes", "disclosures", "gateway", "web")


class ClusterStack(cr.ReplicaStack):
    """``confide run --replicas N`` on the :class:`LocalCluster`, shaped as ``bench/chaos.py`` and
    ``bench/cluster_replicas.py`` expect (their load, probes and replica kills run on it)."""

    def __init__(self, cluster: LocalCluster, replicas: int, base: Path):  # no super(): no scratch servers
        self.cluster, self.replicas, self.base = cluster, replicas, base
        self.proc = None
        self.key_dir = cluster.key_dir
        self.gateway_url, self.web_url = cluster.gateway_url, cluster.web_url
        self.env = {**cluster.cli_env(), "CONFIDE_REPLICAS": str(replicas)}
        self.config = {"AMQP_URI": cluster.rabbit.failover_uri("cli"), "serializer": "json"}
        self.log_path = base / f"run-{replicas}.log"

    def store(self, pool_size: int = 4):
        from confide.eventstore.store import PostgresEventStore

        return PostgresEventStore(self.cluster.app_dsn(), schema=SCHEMA, pool_size=pool_size)

    def start(self) -> None:
        self._log = open(self.log_path, "w")
        self.proc = self.cluster.start_services(self.replicas, stdout=self._log)

    def lease_holder(self) -> str | None:
        import psycopg

        from confide import config
        from confide.eventstore.lease import LEASE_CLASS

        try:
            with psycopg.connect(config.with_dbname(self.cluster.pg.admin_dsn, DATABASE), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::int4::oid "
                    "AND l.objid = hashtext(%s)::oid AND l.objsubid = 2",
                    (LEASE_CLASS, f"{SCHEMA}:sealer-relay")).fetchone()
        except psycopg.OperationalError:
            return None
        return row[0].removeprefix("confide-lease ") if row else None

    def close(self) -> None:
        self.cluster.services = self.proc
        self.cluster.stop_services()
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()


def _acked(load: chaos.Load) -> int:
    with load.ledger.lock:
        return load.ledger.acknowledged()


def measure(load: chaos.Load) -> dict:
    """Acknowledged operations per second over THROUGHPUT_SECONDS of ``load``, after WARMUP seconds."""
    time.sleep(WARMUP)  # tokens, connections, caches
    start, started = _acked(load), time.monotonic()
    time.sleep(THROUGHPUT_SECONDS)
    done, elapsed = _acked(load) - start, time.monotonic() - started
    return {"operations": done, "seconds": round(elapsed, 1), "per_second": round(done / elapsed, 2)}


def _back(stack, people, since: float) -> tuple[float | None, list[str]]:
    """(seconds from ``since`` until every service answered, services that did not in BACK_TIMEOUT)."""
    waited_from = time.monotonic()
    back = chaos.wait_back(stack, people, chaos.SERVICES, BACK_TIMEOUT)
    missing = [n for n, v in back.items() if v is None]
    return (None if missing else round(waited_from - since + max(back.values()), 1)), missing


def postgres_primary_killed(cluster: LocalCluster, stack, people) -> dict:
    before = stack.instances()
    killed_at = time.monotonic()
    old = cluster.pg.kill_primary()
    failover = cluster.pg.wait_for_failover(FAILOVER_LIMIT * 2)
    recovery, missing = _back(stack, people, killed_at)
    rejoined = cluster.pg.restart_node(old)  # the old primary back as the synchronous standby
    after = stack.instances()
    return {"fault": f"kill -9 PostgreSQL primary ({old})", "failover": round(failover, 2), "recovery": recovery,
            "not_back": missing, "rejoined": round(rejoined, 1), "new_primary": cluster.pg.primary(),
            "exited": sorted(n for n in before if after.get(n) != before[n])}


def rabbitmq_node_killed(cluster: LocalCluster, stack, people, index: int = 0) -> dict:
    before = stack.instances()
    killed_at = time.monotonic()
    cluster.rabbit.kill_node(index)
    recovery, missing = _back(stack, people, killed_at)
    started = time.monotonic()
    cluster.rabbit.restart_node(index)
    after = stack.instances()
    return {"fault": f"kill -9 RabbitMQ node {index + 1}", "failover": None, "recovery": recovery,
            "not_back": missing, "rejoined": round(time.monotonic() - started, 1),
            "exited": sorted(n for n in before if after.get(n) != before[n])}


def replica_killed(stack, people, service: str) -> dict:
    fault = cr.kill_replica(stack, people, service, timeout=BACK_TIMEOUT)
    if fault.replica_back is not None:
        stack.wait_up(BACK_TIMEOUT)
    return {"fault": fault.fault, "failover": fault.takeover, "recovery": fault.unanswered,
            "not_back": [] if fault.unanswered is not None else [service], "rejoined": fault.replica_back,
            "sealing_resumed": fault.sealing_resumed, "exited": fault.others_restarted}


def table(result: dict) -> str:
    def s(v) -> str:
        return "-" if v is None else f"{v:g}"

    lines = [f"Whole cluster under load ({result['seconds']:g} s, {result['events']} events): "
             f"acknowledged {result['acknowledged']}",
             f"  requests by status: {result['requests by status']}",
             f"  {'fault':<38} {'failover/takeover (s)':>21} {'all answer (s)':>15} {'part back (s)':>14} "
             f"{'restarted':>10}"]
    for f in result["faults"]:
        lines.append(f"  {f['fault']:<38} {s(f['failover']):>21} {s(f['recovery']):>15} {s(f['rejoined']):>14} "
                     f"{', '.join(f['exited']) or '0':>10}")
    lines.append("  must all be 0:")
    lines += [f"    {k:<62} {v}" for k, v in result["counts"].items()]
    lines.append("Throughput (acknowledged operations per second, same load, 2 cores shared):")
    for n, t in sorted(result["throughput"].items()):
        lines.append(f"  {n} replica(s) per service: {t['per_second']:>6} /s ({t['operations']} in {t['seconds']} s)")
    return "\n".join(lines)


def test_every_part_killed_under_load_loses_nothing():
    base = Path(tempfile.mkdtemp(prefix="confide-wholecluster-"))
    base.chmod(0o755)  # run as root, PostgreSQL runs as postgres and must reach its directories
    cluster = LocalCluster(base / "cluster")
    people = load = stack = None
    started = time.monotonic()
    try:
        cluster.up(prefer_default_ports=False, replicas=2)
        throughput = {}
        # -- 1 replica of each: throughput only ---------------------------------------------------
        stack = ClusterStack(cluster, 1, base)
        people = chaos.People(stack)
        stack.start()
        stack.wait_up()
        load = chaos.Load(stack, people, PLAN)
        load.start()
        throughput[1] = measure(load)
        load.stop()
        load.stop_poller()
        stack.close()
        # -- 2 replicas of each: throughput, then the faults under load --------------------------
        stack = ClusterStack(cluster, 2, base)
        stack.start()
        stack.wait_up()
        load = chaos.Load(stack, people, PLAN)
        load.start()
        throughput[2] = measure(load)
        assert stack.lease_holder() is not None, stack.tail()
        faults = [postgres_primary_killed(cluster, stack, people)]
        chaos.log(f"  {faults[-1]}")
        faults.append(rabbitmq_node_killed(cluster, stack, people))
        chaos.log(f"  {faults[-1]}")
        for service in (*REPLICA_KILLS, "audit"):
            faults.append(replica_killed(stack, people, service))
            chaos.log(f"  {faults[-1]}")
        last_fault = time.monotonic()
        load.stop()
        while time.monotonic() < last_fault + FINAL_AFTER:  # the payers poll until final
            with load.ledger.lock:
                if all(r in load.ledger.final for r in load.ledger.requests):
                    break
            time.sleep(1)
        found = chaos.audit_store(stack, load.ledger)
        load.stop_poller()
        not_final = sorted(r for r in load.ledger.requests if found["status"].get(r) not in chaos.FINAL)
        problems = chaos.verify_and_replay(stack)
        from kombu import Connection

        from confide.broker import AUDIT_DLQ_NAME

        with Connection(cluster.rabbit.failover_uri("audit"), connect_timeout=5) as conn:
            _, dead, _ = conn.channel().queue_declare(queue=AUDIT_DLQ_NAME, passive=True)
        led = load.ledger
        audit = faults[-1]
        result = {
            "seconds": round(time.monotonic() - started, 1), "events": found["events"],
            "acknowledged": {"disclosure requests": len(led.requests), "notes written": len(led.written),
                             "notes signed": len(led.signed), "reads": len(led.reads)},
            "requests by status": dict(Counter(found["status"].get(r, "missing") for r in led.requests)),
            "faults": faults, "throughput": throughput,
            "counts": {
                "acknowledged but not recorded (lost)": sum(len(v) for v in found["lost"].values()),
                "releases without a prior decision": len(found["unbacked"]),
                "duplicate decisions": len(found["duplicate_decisions"]),
                "duplicate releases": len(found["duplicate_releases"]),
                f"requests half-done {FINAL_AFTER:g} s after the last fault": len(not_final),
                "faults after which a service did not answer again": sum(1 for f in faults if f["not_back"]),
                f"PostgreSQL failover missing or over {FAILOVER_LIMIT:g} s": int(
                    faults[0]["failover"] is None or faults[0]["failover"] > FAILOVER_LIMIT),
                f"lease takeover missing or over {TAKEOVER_LIMIT:g} s": int(
                    audit["failover"] is None or audit["failover"] > TAKEOVER_LIMIT),
                "sealing not resumed after the takeover": int(audit["sealing_resumed"] is None),
                "events dead-lettered by the audit consumer": dead,
                "verify or replay failures": len(problems),
            },
        }
        print("\n" + table(result))
        details = {"lost": found["lost"], "unbacked": found["unbacked"][:10],
                   "duplicate decisions": found["duplicate_decisions"][:10],
                   "duplicate releases": found["duplicate_releases"][:10], "not final": not_final[:10],
                   "problems": problems}
        assert led.requests and led.written and led.reads, "the load did not run"
        assert all(v == 0 for v in result["counts"].values()), (result["counts"], details, stack.tail())
        assert faults[0]["new_primary"] is not None
        assert all(t["operations"] > 0 for t in throughput.values()), throughput
    except BaseException:
        if stack is not None:
            chaos.log("run log tail:\n" + stack.tail())
        raise
    finally:
        if load is not None:
            load.stopping.set()
            load.stop_polling.set()
        if stack is not None:
            stack.close()
        if people is not None:
            people.close()
        cluster.down()
        shutil.rmtree(base, ignore_errors=True)

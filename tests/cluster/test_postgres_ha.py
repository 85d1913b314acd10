"""Failover of the event store's PostgreSQL under load: Patroni promotes the synchronous standby,
clients reconnect by themselves, and no acknowledged append is lost (issue 15, part 1).

Writers append through one PostgresEventStore (a service's pool) while a sealer extends the keyed
chain; the primary is killed with SIGKILL mid-load. Every append that was answered must be stored at
the position it was answered with, nothing half-written, nothing twice, commit order kept, and the
chain must verify. Recovery times are printed (``pytest -s``) and kept in the test report.
"""
import os
import signal
import subprocess
import threading
import time

import psycopg
import pytest

from confide import config
from confide.cluster.postgres_ha import descendants
from confide.envelope import NewEvent
from confide.eventstore.chain import ChainSealer, load_chain_key, verify
from confide.eventstore.errors import EventStoreUnavailableError
from confide.eventstore.store import PostgresEventStore
from confide.keys import ensure_keys, load_public_key, load_signing_key
from confide.testing.append_load import AppendLoad
from confide.testing.polling import wait_for


class Sealer(threading.Thread):
    """Seals the chain every 0.2 s as the audit service does, riding out an unavailable store."""

    def __init__(self, store, keys, checkpoints):
        super().__init__(daemon=True)
        self.sealer = ChainSealer(store, load_chain_key(keys), load_signing_key(keys), checkpoints, batch=500)
        self.stopping = threading.Event()
        self.errors: list[str] = []

    def run(self):
        while not self.stopping.is_set():
            try:
                self.sealer.seal()
            except EventStoreUnavailableError:
                pass
            except Exception as exc:  # noqa: BLE001 - the test asserts there were none
                self.errors.append(f"{type(exc).__name__}: {exc}")
                return
            self.stopping.wait(0.2)


def _seal_until_done(store, keys, checkpoints, timeout=60):
    sealer = ChainSealer(store, load_chain_key(keys), load_signing_key(keys), checkpoints)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if sealer.seal().sealed == 0:
                return
        except EventStoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize("via", ["haproxy", "multihost"])
@pytest.mark.parametrize("whole_node", [False, True], ids=["postgres-killed", "node-lost"])
def test_kill_primary_under_load_loses_no_acknowledged_append(cluster, ha_schema, via, whole_node, tmp_path,
                                                              record_property):
    keys, checkpoints = tmp_path / "keys", tmp_path / "checkpoints"
    ensure_keys(keys)
    app = PostgresEventStore(cluster.role_dsn(config.APP_ROLE, "confide", via), ha_schema, pool_size=8)
    projector = PostgresEventStore(cluster.role_dsn(config.PROJECTOR_ROLE, "confide", via), ha_schema, pool_size=2)
    load = AppendLoad(app, writers=4, batch_sizes=(1, 1, 10, 10), category="haProbe")
    sealer = Sealer(projector, keys, checkpoints)
    try:
        load.start()
        sealer.start()
        started = time.monotonic()
        wait_for(lambda: load.writers_acked_since(started) == 4 and load.acked_since(started) >= 40, timeout=60)

        old = cluster.kill_primary(whole_node=whole_node)
        killed_at = time.monotonic()
        failover = cluster.wait_for_failover(timeout=90)
        new = cluster.primary()
        # Every writer has appends answered after the failover, through its pool's new connections.
        wait_for(lambda: load.writers_acked_since(killed_at + failover) == 4
                 and load.acked_since(killed_at + failover) >= 40, timeout=90)
        clients_back = load.first_answer_after(killed_at)
    finally:
        load.stop()
        sealer.stopping.set()
        sealer.join(60)

    rejoin = cluster.restart_node(old)
    report = load.check()
    _seal_until_done(projector, keys, checkpoints)
    verified = verify(projector, load_chain_key(keys), load_public_key(keys), checkpoints)
    line = (f"[{via}, {'node lost' if whole_node else 'postgres killed'}] {old} -> {new}: failover {failover:.2f} s, "
            f"every client writing again after {clients_back:.2f} s, {old} back as synchronous standby in "
            f"{rejoin:.2f} s; {report.acknowledged_appends} appends ({report.acknowledged_events} events) acknowledged, "
            f"{report.in_doubt} in doubt ({report.in_doubt_committed} had been committed), lost {report.lost}, "
            f"duplicated {report.duplicated}, half-done {report.half_done}, unacknowledged {report.unacknowledged}, "
            f"out of order {report.out_of_order}")
    print("\n" + line)
    record_property("failover", line)
    app.close()
    projector.close()

    assert new is not None and new != old, f"Patroni did not promote the standby: {cluster.members()}"
    assert report.clean, report.problems
    assert report.lost == 0 and report.duplicated == 0 and report.half_done == 0
    assert not sealer.errors, sealer.errors
    assert verified.ok, verified.problems
    assert verified.events == verified.sealed == report.acknowledged_events
    assert cluster.sync_standby() == old


def _signal(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def test_append_waiting_for_the_standby_fails_when_the_primary_dies(cluster, ha_schema):
    """An append whose commit the synchronous standby has not confirmed is never answered as a success:
    with the standby frozen (SIGSTOP: it holds the connection but flushes nothing) the append waits; the
    primary is killed; the append fails with EventStoreUnavailableError. A retry with the same event
    ids then settles it: exactly one copy, whichever way the first attempt went."""
    standby = cluster.node(cluster.sync_standby())
    app = PostgresEventStore(cluster.role_dsn(config.APP_ROLE, "confide"), ha_schema, pool_size=2)
    app.append("haWait-0", [NewEvent("LoadProbeAppended", {"n": 0})], expected_version=-1)
    frozen = [standby.postmaster_pid(), *descendants(standby.postmaster_pid())]
    outcome: dict = {}
    event = NewEvent("LoadProbeAppended", {"n": 1})

    def append():
        try:
            outcome["result"] = app.append("haWait-0", [event], expected_version=0)
        except Exception as exc:  # noqa: BLE001 - the test asserts which
            outcome["error"] = exc

    writer = threading.Thread(target=append, daemon=True)
    try:
        _signal(frozen, signal.SIGSTOP)
        writer.start()
        with psycopg.connect(config.with_dbname(cluster.admin_dsn, "confide")) as conn:
            # The commit is written on the primary and waits for the standby's flush.
            wait_for(lambda: conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep' "
                                          "AND usename = %s", (config.APP_ROLE,)).fetchone()[0] == 1, timeout=30)
        assert outcome == {}, "the append was answered before its commit reached the standby"
        cluster.kill_primary()
        writer.join(30)
        assert isinstance(outcome.get("error"), EventStoreUnavailableError), outcome
    finally:
        _signal(frozen, signal.SIGCONT)
    # Patroni either fails over or, the frozen standby having been unhealthy, restarts the primary in place.
    cluster.wait_ready(120)
    retried = app.append("haWait-0", [event], expected_version=0)
    events = app.read_stream("haWait-0")
    app.close()
    assert [e.event_id for e in events].count(event.event_id) == 1
    assert retried.stream_versions == (1,)


def _etcdctl(cluster, *args, user=None):
    endpoints = ",".join(f"http://127.0.0.1:{m['client_port']}" for m in cluster.etcd)
    argv = ["etcdctl", f"--endpoints={endpoints}", *(["--user", user] if user else []), *args]
    return subprocess.run(argv, env={**os.environ, "ETCDCTL_API": "3"}, capture_output=True, text=True, timeout=30)


def test_etcd_refuses_writes_without_patronis_login_and_outside_its_namespace(cluster):
    """Anyone on the host can reach etcd's port: without a login nobody may write the leader key
    (a forced failover or a split brain), and Patroni's login reaches its own namespace only."""
    leader = f"/confide/{cluster.scope}/leader"
    anonymous = _etcdctl(cluster, "put", leader, "intruder")
    said = (anonymous.stderr + anonymous.stdout).lower()
    assert anonymous.returncode != 0 and ("user name is empty" in said or "permission denied" in said), anonymous
    patroni = f"patroni:{cluster.etcd_password}"
    elsewhere = _etcdctl(cluster, "put", "/elsewhere/key", "x", user=patroni)
    assert elsewhere.returncode != 0 and "permission denied" in elsewhere.stderr.lower(), elsewhere
    read = _etcdctl(cluster, "get", leader, "--print-value-only", user=patroni)
    assert read.returncode == 0 and read.stdout.strip() == cluster.primary()

"""What synchronous replication costs the event store: appends on Patroni's cluster, synchronous and
asynchronous, against one standalone PostgreSQL, in the same run (issue 15, part 1).

Usage::

    .venv/bin/python bench/cluster_replication.py             # ~4 min
    .venv/bin/python bench/cluster_replication.py --seconds 3 # shorter

It starts, on this machine, a standalone PostgreSQL of its own (:class:`confide.testing.nodes.OwnPostgres`:
fsync on, the same shared_buffers as the cluster's nodes) and the HA cluster
(:class:`confide.cluster.postgres_ha.HaPostgres`: etcd, two nodes under Patroni, HAProxy), installs the
event store in each, and measures ``PostgresEventStore.append`` (validation, canonical JSON and hashing
included, as a service pays it):

* one event per call, one writer (the latency of a commit: a synchronous commit waits for the standby's
  flush as well as its own);
* 100 events per call, one writer (one commit per batch);
* one event per call, 4 writers (threads sharing one pool, as a service's workers do).

The cluster is measured through HAProxy (what the services use) with ``synchronous_mode`` on, then off
(``PATCH /config``, same nodes), and synchronous through the libpq multi-host DSN (no proxy), so the
proxy's share is visible. Ratios are to the standalone node. Nothing outside the processes it starts
is touched; all of them are stopped at the end, even on failure.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import uuid

import harness
from confide import config
from confide.cluster.postgres_ha import HaPostgres
from confide.envelope import NewEvent
from confide.eventstore import install
from confide.eventstore.store import PostgresEventStore
from confide.testing.nodes import OwnPostgres

SCHEMA = "bench_ha"
SHAPES = (("1 event / call, 1 writer", 1, 1), ("100 events / call, 1 writer", 100, 1),
          ("1 event / call, 4 writers", 1, 4))


def measure(store: PostgresEventStore, batch: int, writers: int, seconds: float) -> float:
    """Events per second appended by ``writers`` threads, ``batch`` events per call, over ``seconds``
    (after a one-second warm-up). Raises what append raises."""
    stop, counts, errors = threading.Event(), [0] * writers, []

    def write(i: int) -> None:
        stream, version = f"benchHa-{uuid.uuid4().hex}", -1
        try:
            while not stop.is_set():
                events = [NewEvent("BenchProbeAppended", {"writer": i, "n": version + 1 + k}) for k in range(batch)]
                store.append(stream, events, expected_version=version)
                version += batch
                counts[i] += batch
        except Exception as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(writers)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # warm-up: connections made, statements prepared
    begin, start = list(counts), time.perf_counter()
    time.sleep(seconds)
    done, elapsed = list(counts), time.perf_counter() - start
    stop.set()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]
    return (sum(done) - sum(begin)) / elapsed


def run_all(label: str, dsn: str, seconds: float, results: dict) -> None:
    store = PostgresEventStore(dsn, SCHEMA, pool_size=8)
    try:
        for shape, batch, writers in SHAPES:
            results[(label, shape)] = measure(store, batch, writers, seconds)
            print(f"  {label:<34} {shape:<28} {results[(label, shape)]:>10,.0f} events/s", flush=True)
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per shape (default 8)")
    args = parser.parse_args()
    harness.interrupt_on(signal.SIGTERM)
    results: dict[tuple[str, str], float] = {}
    standalone = cluster = None
    try:
        print("starting a standalone PostgreSQL and the HA cluster (etcd, 2 x Patroni, HAProxy)", flush=True)
        standalone = OwnPostgres()
        install.ensure_database(standalone.admin_dsn, "confide")
        install.install_schema(standalone.admin_dsn, "confide", SCHEMA)
        cluster = HaPostgres(synchronous=True).start()
        cluster.install_event_store("confide", SCHEMA)

        labels = ("standalone node", "cluster, synchronous (HAProxy)", "cluster, synchronous (multi-host)",
                  "cluster, asynchronous (HAProxy)")
        run_all(labels[0], config.with_dbname(standalone.admin_dsn.replace("postgres@", f"{config.APP_ROLE}@"),
                                              "confide"), args.seconds, results)
        run_all(labels[1], cluster.role_dsn(config.APP_ROLE, "confide", "haproxy"), args.seconds, results)
        run_all(labels[2], cluster.role_dsn(config.APP_ROLE, "confide", "multihost"), args.seconds, results)
        cluster.set_synchronous(False)
        run_all(labels[3], cluster.role_dsn(config.APP_ROLE, "confide", "haproxy"), args.seconds, results)

        from rich.console import Console

        t = harness.table(f"Appends per second, {args.seconds:g} s each (ratio to the standalone node; "
                          "sync / async on the same cluster)", ["", *[s for s, _, _ in SHAPES]])
        for label in labels:
            t.add_row(label, *[f"{harness.num(results[(label, s)])}  ({results[(label, s)] / results[(labels[0], s)]:.2f}x)"
                               for s, _, _ in SHAPES])
        t.add_row("synchronous / asynchronous", *[f"{results[(labels[1], s)] / results[(labels[3], s)]:.2f}x"
                                                   for s, _, _ in SHAPES])
        Console(width=160).print(t)
        print(f"load average: {harness.loadavg()}")
    finally:
        if cluster is not None:
            cluster.stop()
        if standalone is not None:
            standalone.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

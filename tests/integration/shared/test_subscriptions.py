"""Catch-up subscriptions survive a crash at any point: nothing skipped, nothing applied twice."""
import os
import signal
import subprocess
import sys
import textwrap

import eventlet
import psycopg
import pytest
from psycopg import sql

from confide import config
from confide.envelope import NewEvent
from confide.eventstore.store import PostgresEventStore
from confide.subscriptions import CatchUpSubscription
from confide.testing.polling import wait_for

SUBSCRIBER = textwrap.dedent("""
    import sys, time
    from psycopg import sql
    from confide.eventstore.store import PostgresEventStore
    from confide.subscriptions import CatchUpSubscription

    dsn, schema, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    store = PostgresEventStore(dsn, schema=schema, pool_size=2)

    def handler(conn, events):
        for ev in events:  # slow, row by row: the parent kills us mid-batch
            conn.execute(sql.SQL("INSERT INTO {}.applied (global_position) VALUES (%s)").format(
                sql.Identifier(schema)), (ev.global_position,))
            print("inserted", ev.global_position, flush=True)  # uncommitted: tells the parent where we are
            # Not a wait for a result: the delay is the slow handler under test; it keeps a
            # batch open long enough for the parent to kill us inside it.
            time.sleep(delay)

    sub = CatchUpSubscription(store, "test-projection", handler, batch=50)
    print("ready", flush=True)
    sub.catch_up()
    print("caught-up", flush=True)
""")


@pytest.fixture
def projection_store(test_db_dsn, projector_db_dsn, scratch_schema):
    """The subscriber's store, as the projector's login (the one that moves checkpoints), with an
    ``appender`` beside it as the services' login (the one that appends events)."""
    with psycopg.connect(config.with_dbname(config.admin_dsn(), "confide_test"), autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{scratch_schema}".applied (global_position bigint NOT NULL)')
        conn.execute(f'GRANT SELECT, INSERT ON "{scratch_schema}".applied TO confide_projector')
    store = PostgresEventStore(projector_db_dsn, schema=scratch_schema, pool_size=2)
    store.appender = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=1)
    yield store
    store.appender.close()
    store.close()


def applied(store):
    with psycopg.connect(config.with_dbname(config.admin_dsn(), "confide_test")) as conn:
        return [r[0] for r in conn.execute(sql.SQL(
            "SELECT global_position FROM {}.applied ORDER BY global_position").format(
                sql.Identifier(store.schema))).fetchall()]


def test_killed_subscriber_neither_skips_nor_double_applies(projection_store, projector_db_dsn, tmp_path):
    store = projection_store
    positions = []
    for i in range(120):
        positions += store.appender.append(f"sub-{i % 7}", [NewEvent("Counted", {"i": i})]).global_positions
    script = tmp_path / "subscriber.py"
    script.write_text(SUBSCRIBER)
    proc = subprocess.Popen([sys.executable, str(script), projector_db_dsn, store.schema, "0.01"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    # Kill once the first batch has committed and the next is half done: its rows are inserted, not committed.
    wait_for(lambda: store.read_checkpoint("test-projection") >= positions[49], timeout=20, interval=0.05)
    with eventlet.Timeout(20, AssertionError("the subscriber never got into its second batch")):
        while True:
            line = proc.stdout.readline()
            assert line, "the subscriber exited before its second batch"
            if int(line.split()[1]) >= positions[74]:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = store.read_checkpoint("test-projection")
    assert positions[49] <= done_before < positions[-1], "the kill landed mid-run"
    assert applied(store) == [p for p in positions if p <= done_before]  # the torn batch rolled back

    proc = subprocess.run([sys.executable, str(script), projector_db_dsn, store.schema, "0"],
                          capture_output=True, text=True, timeout=60)
    assert "caught-up" in proc.stdout
    assert applied(store) == positions  # every event exactly once
    assert store.read_checkpoint("test-projection") == positions[-1]


def test_subscription_switches_to_live(projection_store):
    store = projection_store
    seen = []
    sub = CatchUpSubscription(store, "live-test", lambda conn, evs: seen.extend(e.global_position for e in evs),
                              batch=10)
    first = store.appender.append("live-1", [NewEvent("A", {}) for _ in range(25)]).global_positions
    assert sub.catch_up() == 25
    later = store.appender.append("live-2", [NewEvent("B", {})]).global_positions
    assert sub.run_once() == 1
    assert seen == list(first + later)


def test_handler_failure_rolls_back_rows_and_checkpoint(projection_store):
    store = projection_store
    store.appender.append("fail-1", [NewEvent("A", {}) for _ in range(3)])

    def handler(conn, events):
        conn.execute(sql.SQL("INSERT INTO {}.applied VALUES (%s)").format(sql.Identifier(store.schema)),
                     (events[0].global_position,))
        raise RuntimeError("projection bug")

    with pytest.raises(RuntimeError):
        CatchUpSubscription(store, "failing", handler).run_once()
    assert applied(store) == [] and store.read_checkpoint("failing") == 0

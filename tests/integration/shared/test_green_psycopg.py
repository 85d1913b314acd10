"""psycopg under eventlet: a slow query in one green thread does not stall the others.

White-box: these drive the store's own pool (``_connection``, private to the store package).
"""
import time

import eventlet


def test_slow_query_does_not_stall_other_green_threads(pg_store):
    ticks = []

    def slow():
        with pg_store._connection() as conn:
            conn.execute("SELECT pg_sleep(1.0)")

    def ticker():
        for _ in range(10):
            ticks.append(time.monotonic())
            # This sleep is the thing under test, not a wait for a result: a green thread
            # that yields on a timer must keep ticking while the other one waits on pg_sleep.
            eventlet.sleep(0.05)

    started = time.monotonic()
    slow_thread = eventlet.spawn(slow)
    tick_thread = eventlet.spawn(ticker)
    tick_thread.wait()
    slow_thread.wait()
    # All ten ticks happened while the 1 s query was still running.
    assert len(ticks) == 10
    assert ticks[-1] - started < 0.9


def test_pool_is_shared_safely_by_many_green_threads(pg_store):
    def work(i):
        with pg_store._connection() as conn:
            return conn.execute("SELECT %s::int, pg_backend_pid()", (i,)).fetchone()

    pool = eventlet.GreenPool(40)
    results = list(pool.imap(work, range(200)))
    assert [r[0] for r in results] == list(range(200))
    assert len({r[1] for r in results}) <= 8  # never more connections than the pool's size

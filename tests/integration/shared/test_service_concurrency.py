"""Under nameko, a slow query in one worker does not stall the service's other workers.

The service uses the real EventStore dependency provider (pooled psycopg 3,
waiting through eventlet's green select), as every Confide service does; its
RPCs drive the store's own pool (``_connection``, private to the store package).
"""
import time
import uuid

import eventlet
import psycopg
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy
from psycopg import sql

from confide.eventstore.provider import EventStore
from confide.testing.polling import wait_for


class SlowAndFastService:
    name = "slow_and_fast"
    store = EventStore()

    @rpc
    def slow(self, seconds, tag):
        # pg_sleep is the slow query under test. ``tag`` names its result column, so the
        # test can see this very query running in pg_stat_activity (other runs share the server).
        with self.store._connection() as conn:
            conn.execute(sql.SQL("SELECT pg_sleep(%s) AS {}").format(sql.Identifier(tag)), (seconds,))
        return time.monotonic()

    @rpc
    def fast(self):
        with self.store._connection() as conn:
            conn.execute("SELECT 1")
        return time.monotonic()


def test_slow_query_in_one_worker_does_not_stall_the_others(container_factory, service_config):
    container = container_factory(SlowAndFastService, service_config)
    container.start()

    def call(method, *args):
        with ServiceRpcProxy("slow_and_fast", service_config) as proxy:  # one proxy per green thread
            return getattr(proxy, method)(*args)

    tag = f"slow_{uuid.uuid4().hex}"
    slow = eventlet.spawn(call, "slow", 1.5, tag)
    with psycopg.connect(service_config["DB_DSN"], autocommit=True) as watcher:  # same role: sees the query text
        wait_for(lambda: watcher.execute(  # the slow query is now running on the server
            "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND position(%s in query) > 0",
            (tag,)).fetchone(), timeout=20, interval=0.02)
    fast_done = [eventlet.spawn(call, "fast") for _ in range(5)]
    fast_times = [g.wait() for g in fast_done]
    slow_time = slow.wait()
    assert max(fast_times) < slow_time - 0.5  # every fast call finished well before the slow one

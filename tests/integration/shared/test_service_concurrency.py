"""Under nameko, a slow query in one worker does not stall the service's other workers.

The service uses the real EventStore dependency provider (pooled psycopg 3,
waiting through eventlet's green select), as every Confide service does; its
RPCs drive the store's own pool (``_connection``, private to the store package).
"""
import time

import eventlet
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy

from confide.eventstore.provider import EventStore


class SlowAndFastService:
    name = "slow_and_fast"
    store = EventStore()

    @rpc
    def slow(self, seconds):
        with self.store._connection() as conn:
            conn.execute("SELECT pg_sleep(%s)", (seconds,))
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

    slow = eventlet.spawn(call, "slow", 1.5)
    eventlet.sleep(0.2)  # the slow query is now running on the server
    fast_done = [eventlet.spawn(call, "fast") for _ in range(5)]
    fast_times = [g.wait() for g in fast_done]
    slow_time = slow.wait()
    assert max(fast_times) < slow_time - 0.5  # every fast call finished well before the slow one

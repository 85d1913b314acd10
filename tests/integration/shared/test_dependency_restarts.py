"""A service keeps serving through a restart of its database or broker, without the supervisor.

- The event store's pool hands out no connection a killed PostgreSQL left dead: the first call after
  the server is back succeeds (before, each idle connection failed the one call it was handed to).
  The cluster is one of this test's own (:class:`confide.testing.nodes.OwnPostgres`), so it may kill it.
- A call a service makes waits at most ``RPC_TIMEOUT`` for its reply (nameko waits for ever: every
  reply lost to a broker restart held a worker until none was left), then raises RpcTimeout.
"""
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from confide import config
from confide.eventstore import install
from confide.eventstore.errors import EventStoreUnavailableError
from confide.eventstore.store import PostgresEventStore
from confide.rpc import RpcProxy, rpc
from confide.testing.nodes import OwnPostgres


@pytest.fixture
def own_postgres():
    pg = OwnPostgres()
    try:
        yield pg
    finally:
        pg.close()


def test_no_dead_connection_is_handed_out_after_the_database_restarts(own_postgres):
    from confide.envelope import NewEvent

    install.ensure_database(own_postgres.admin_dsn, "confide")
    install.install_schema(own_postgres.admin_dsn, "confide", "confide")
    dsn = config.with_dbname(own_postgres.admin_dsn, "confide")
    store = PostgresEventStore(dsn, schema="confide", pool_size=4, min_size=4)
    try:
        with store._connection() as a, store._connection() as b, store._connection() as c, store._connection() as d:
            assert len({id(x) for x in (a, b, c, d)}) == 4  # four connections, idle in the pool from here on
        store.append("chaos-one", [NewEvent("Tested", {"n": 0})])

        own_postgres.kill()
        with pytest.raises(EventStoreUnavailableError):
            store.ping(timeout=2)
        own_postgres.start()

        # Every call succeeds the first time: none is handed a connection the dead server left behind.
        for n in range(1, 9):
            store.append("chaos-one", [NewEvent("Tested", {"n": n})])
            assert store.stream_version("chaos-one") == n
        assert [e.stream_version for e in store.read_stream("chaos-one")] == list(range(9))
    finally:
        store.close()


class SilentService:
    name = "silent_target"

    @rpc
    def wait(self, seconds):
        import eventlet

        eventlet.sleep(seconds)
        return "late"


class CallerService:
    name = "patient_caller"
    target = RpcProxy("silent_target")

    @rpc
    def ask(self, seconds):
        return self.target.wait(seconds)


def test_a_call_a_service_makes_gives_up_after_rpc_timeout(runner_factory, rabbit_config):
    runner = runner_factory({**rabbit_config, "RPC_TIMEOUT": 1}, SilentService, CallerService)
    runner.start()
    with ServiceRpcProxy("patient_caller", rabbit_config, timeout=30) as caller:
        with pytest.raises(RemoteError) as timed_out:
            caller.ask(5)
        assert timed_out.value.exc_type == "RpcTimeout"
        assert "silent_target.wait" in timed_out.value.value
        assert caller.ask(0) == "late"  # a reply in time still arrives

"""The sealer-relay lease (``confide.eventstore.lease``): one holder at a time, verified on each
``hold()``, taken over once the holder's database session ends."""
import time
import uuid

import psycopg

from confide.eventstore.lease import AdvisoryLease


def _lease(dsn, key, who):
    return AdvisoryLease(dsn, key, "sealer-relay", identity=who)


def _backend_pid(lease):
    return lease._conn.info.backend_pid


def test_one_holder_then_the_other_once_its_session_ends(test_db_dsn, admin_dsn):
    key = "t_" + uuid.uuid4().hex[:10]
    a, b = _lease(test_db_dsn, key, "audit-1"), _lease(test_db_dsn, key, "audit-2")
    try:
        assert a.hold() and a.held
        assert not b.hold() and not b.held  # one holder
        assert a.hold()  # verified again on its own session: still granted
        with psycopg.connect(admin_dsn, autocommit=True) as admin:  # the holder's session dies
            admin.execute("SELECT pg_terminate_backend(%s)", (_backend_pid(a),))
        started = time.monotonic()
        deadline = started + 10
        while not b.hold():
            assert time.monotonic() < deadline, "the standby never took the lease over"
            time.sleep(0.05)
        takeover = time.monotonic() - started
        assert takeover < 2.0, takeover
        assert not a.hold() and not a.held  # the old holder learns it lost the lease, never works on
        assert b.hold()
    finally:
        a.release()
        b.release()


def test_released_on_stop_and_separate_per_schema(test_db_dsn):
    key = "t_" + uuid.uuid4().hex[:10]
    a, b = _lease(test_db_dsn, key, "audit-1"), _lease(test_db_dsn, key, "audit-2")
    other = _lease(test_db_dsn, key + "x", "audit-3")
    try:
        assert a.hold() and other.hold()  # another schema's lease is its own
        a.release()
        assert not a.held and b.hold()
    finally:
        for lease in (a, b, other):
            lease.release()


def test_an_unreachable_database_is_no_lease():
    lease = AdvisoryLease("postgresql://nobody@127.0.0.1:1/none", "s", "sealer-relay", identity="audit-x")
    assert not lease.hold() and not lease.held

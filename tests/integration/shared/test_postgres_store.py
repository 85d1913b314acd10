"""The event-store contract against PostgreSQL, plus what only a real database can show."""
import uuid

import eventlet
import psycopg
import pytest
from psycopg import sql

from confide.envelope import NewEvent
from confide.eventstore.errors import WrongExpectedVersionError
from confide.eventstore.store import PostgresEventStore
from confide.testing.eventstore_contract import EventStoreContract, events, new_stream


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, pg_store):
        return pg_store


def _q(store, template: str) -> sql.Composed:
    """SQL with ``{s}`` for the store's schema (these tests drive the database on their own connections)."""
    return sql.SQL(template).format(s=sql.Identifier(store.schema))


@pytest.fixture
def scratch_store(test_db_dsn, scratch_schema):
    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=12)
    yield store
    store.close()


@pytest.mark.parametrize("wrote_first", [False, True], ids=["append-only-txn", "txn-that-wrote-before"])
def test_lower_position_committing_last_is_not_skipped(scratch_store, test_db_dsn, wrote_first):
    """Writer A reserves the lower position but commits after writer B; a reader never skips A."""
    s = scratch_store
    base = s.append(new_stream(), events(1), -1).last_position
    seen = []

    def read_new():
        page = s.read_all(seen[-1] + 1 if seen else base + 1, 100)
        seen.extend(e.global_position for e in page)

    slow = psycopg.connect(test_db_dsn)
    if wrote_first:  # the append is not the transaction's first write: it holds a transaction id already
        slow.execute("SELECT pg_current_xact_id()")  # (the services' login writes no table but events)
    q = _q(s, "SELECT out_position FROM {s}.append_events(%s, -1, %s, %s, %s, %s, %s, %s)")
    from confide.eventstore.store import prepare

    rows = prepare("slowWriter-1", [NewEvent("Slow", {})], 0)
    (pos_a,) = slow.execute(q, ("slowWriter-1", [rows[0][0]], [rows[0][1]], [rows[0][2]], [rows[0][3]],
                                [rows[0][4]], [rows[0][5]])).fetchone()
    pos_b = s.append(new_stream(), events(1), -1).last_position
    assert pos_a < pos_b
    read_new()
    assert seen == []  # B is committed but not yet visible: A (lower) is still in flight
    slow.commit()
    slow.close()
    read_new()
    assert seen == [pos_a, pos_b]


def test_concurrent_writers_one_wins_per_version(pg_store):
    stream = new_stream()
    pg_store.append(stream, events(1), -1)

    def attempt(i):
        try:
            pg_store.append(stream, [NewEvent("Raced", {"writer": i})], expected_version=0)
            return "won"
        except WrongExpectedVersionError:
            return "lost"

    pool = eventlet.GreenPool(10)
    outcomes = list(pool.imap(attempt, range(10)))
    assert outcomes.count("won") == 1 and outcomes.count("lost") == 9
    stored = pg_store.read_stream(stream)
    assert [e.stream_version for e in stored] == [0, 1]


def test_concurrent_retries_of_one_append_store_it_once(pg_store):
    stream = new_stream()
    batch = events(3)
    pool = eventlet.GreenPool(8)
    results = list(pool.imap(lambda _: pg_store.append(stream, batch, -1), range(8)))
    assert len({r.global_positions for r in results}) == 1
    assert sum(not r.duplicate for r in results) <= 1
    assert len(pg_store.read_stream(stream)) == 3


@pytest.mark.parametrize("statement", [
    "INSERT INTO confide.events (global_position, stream_name, stream_version, event_id, type, data, metadata,"
    " recorded_at, hash) VALUES (-1, 'forged-1', 0, gen_random_uuid(), 'AccessDecided', '{}', '{}', now(),"
    " sha256(''))",
    "UPDATE confide.events SET type = 'Tampered'",
    "DELETE FROM confide.events",
    "TRUNCATE confide.events",
    "UPDATE confide.event_chain SET mac = mac",
    "DELETE FROM confide.event_chain",
])
def test_services_role_cannot_change_history(pg_store, test_db_dsn, statement):
    pg_store.append(new_stream(), events(1), -1)
    with psycopg.connect(test_db_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_even_the_owner_cannot_update_or_delete_events(pg_store, admin_dsn):
    from confide import config

    pg_store.append(new_stream(), events(1), -1)
    with psycopg.connect(config.with_dbname(admin_dsn, "confide_test"), autocommit=True) as conn:
        conn.execute("SET ROLE confide_owner")
        for statement in ("UPDATE confide.events SET type = 'X'", "DELETE FROM confide.events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        # TRUNCATE is refused too (by the trigger, or first by the chain's foreign key).
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.FeatureNotSupported)):
            conn.execute("TRUNCATE confide.events")


def test_unreachable_database_is_reported_clearly():
    from confide.eventstore.errors import EventStoreUnavailableError

    with pytest.raises(EventStoreUnavailableError, match="unreachable"):
        PostgresEventStore("postgresql://confide_app:confide@127.0.0.1:1/none?connect_timeout=1", min_size=1)


def test_an_unrelated_long_transaction_does_not_hold_readers_back(scratch_store, test_db_dsn):
    """Only in-flight appends bound the frontier, not every open transaction of the cluster."""
    other = psycopg.connect(test_db_dsn)
    other.execute("SELECT pg_current_xact_id()")  # holds a transaction id, open
    try:
        pos = scratch_store.append(new_stream(), events(1), -1).last_position
        assert [e.global_position for e in scratch_store.read_all(pos, 10)] == [pos]
    finally:
        other.rollback()
        other.close()


def test_an_aborted_append_leaves_a_hole_readers_pass(scratch_store, test_db_dsn):
    from confide.eventstore.store import prepare

    aborted = psycopg.connect(test_db_dsn)
    rows = prepare("aborted-1", [NewEvent("Lost", {})], 0)
    q = _q(scratch_store, "SELECT out_position FROM {s}.append_events(%s, -1, %s, %s, %s, %s, %s, %s)")
    (hole,) = aborted.execute(q, ("aborted-1", [rows[0][0]], [rows[0][1]], [rows[0][2]], [rows[0][3]],
                                  [rows[0][4]], [rows[0][5]])).fetchone()
    aborted.rollback()
    aborted.close()
    after = scratch_store.append(new_stream(), events(1), -1).last_position
    assert after > hole
    assert [e.global_position for e in scratch_store.read_all(hole, 10)] == [after]


def test_many_writers_appending_at_any_version_all_land(pg_store):
    """expected_version=None retries with backoff: 16 contending writers, every event stored once."""
    stream = new_stream()
    pool = eventlet.GreenPool(16)
    results = list(pool.imap(lambda i: pg_store.append(stream, [NewEvent("Counted", {"i": i})]), range(48)))
    versions = sorted(v for r in results for v in r.stream_versions)
    assert versions == list(range(48))


def test_any_version_retries_are_bounded(pg_store, monkeypatch):
    """An any-version append that loses every race gives up after ANY_VERSION_ATTEMPTS reads."""
    from confide.eventstore.errors import WrongExpectedVersionError

    stream = new_stream()
    pg_store.append(stream, events(1), -1)
    reads = []

    def stale_version(name):  # another writer always got there first
        reads.append(name)
        return -1

    monkeypatch.setattr(pg_store, "stream_version", stale_version)
    with pytest.raises(WrongExpectedVersionError):
        pg_store.append(stream, events(1))
    assert len(reads) == pg_store.ANY_VERSION_ATTEMPTS + 1  # one read per attempt, one for the error
    monkeypatch.undo()
    assert pg_store.stream_version(stream) == 0  # nothing half-written


def test_an_append_in_flight_in_another_schema_does_not_hold_readers_back(scratch_store, admin_dsn, test_db_dsn):
    """In-flight marks are scoped to their schema: an open append in one event store of the
    database does not bound the frontier of another (the benches and tests share a database)."""
    from confide.eventstore import install
    from confide.eventstore.store import prepare

    for _ in range(5):  # this store's positions run past the other store's first one
        before = scratch_store.append(new_stream(), events(1), -1).last_position
    other_schema = "t_" + uuid.uuid4().hex[:12]
    install.install_schema(admin_dsn, "confide_test", other_schema)
    other = PostgresEventStore(test_db_dsn, schema=other_schema, pool_size=1)
    held = psycopg.connect(test_db_dsn)  # an append at position 1 of the other store, left open
    try:
        rows = prepare("held-1", [NewEvent("Held", {})], 0)
        q = _q(other, "SELECT out_position FROM {s}.append_events(%s, -1, %s, %s, %s, %s, %s, %s)")
        (held_at,) = held.execute(q, ("held-1", [rows[0][0]], [rows[0][1]], [rows[0][2]], [rows[0][3]],
                                      [rows[0][4]], [rows[0][5]])).fetchone()
        assert held_at < before
        after = scratch_store.append(new_stream(), events(1), -1).last_position
        assert [e.global_position for e in scratch_store.read_all(before, 10)] == [before, after]
    finally:
        held.rollback()
        held.close()
        other.close()
        install.drop_schema(admin_dsn, "confide_test", other_schema)


def test_a_write_refused_by_a_standby_is_unavailability_and_its_connection_is_dropped(test_db_dsn):
    """After a failover a proxy or a multi-host DSN may for a moment reach a node that is still (or
    again) a standby: the append fails as EventStoreUnavailableError, nothing is written, and the pool
    drops that connection so the next call connects afresh. (A read-only session stands in for the
    standby: PostgreSQL refuses the write with the same error, 25006.)"""
    from confide.eventstore.errors import EventStoreUnavailableError

    read_only = PostgresEventStore(test_db_dsn + " options='-c default_transaction_read_only=on'", schema="confide",
                                   pool_size=1)
    stream = new_stream()
    try:
        with pytest.raises(EventStoreUnavailableError, match="standby"):
            read_only.append(stream, events(1), expected_version=-1)
        assert read_only._pool.get_stats().get("connections_lost", 0) + read_only._pool.get_stats().get(
            "returns_bad", 0) >= 1
        assert read_only.stream_version(stream) == -1
    finally:
        read_only.close()


# -- multi-stream appends: one transaction, several append_events calls ---------------------------------------


def _append_events(conn, store, stream, new_events, expected):
    """One append_events call on ``conn`` (in its open transaction) → its positions."""
    from confide.eventstore.store import prepare

    cols = list(zip(*prepare(stream, new_events, expected + 1)))
    q = _q(store, "SELECT out_position FROM {s}.append_events(%s, %s, %s, %s, %s, %s, %s, %s)")
    return [r[0] for r in conn.execute(q, (stream, expected, *map(list, cols))).fetchall()]


def test_a_transaction_of_several_appends_holds_readers_below_its_first_position(scratch_store, test_db_dsn):
    """What multi_stream_append does (several append_events calls in one transaction, each taking its
    in-flight mark) with a single append committing between its calls: readers see none of them until
    the transaction commits, then all, in order, skipping nothing."""
    s = scratch_store
    base = s.append(new_stream(), events(1), -1).last_position
    seen = []

    def read_new():
        page = s.read_all(seen[-1] + 1 if seen else base + 1, 100)
        seen.extend(e.global_position for e in page)

    multi = psycopg.connect(test_db_dsn)
    try:
        first = _append_events(multi, s, new_stream("multiA"), events(2), -1)
        between = s.append(new_stream(), events(1), -1).last_position  # commits while the batch is open
        second = _append_events(multi, s, new_stream("multiB"), events(1), -1)
        after = s.append(new_stream(), events(1), -1).last_position
        assert first[-1] < between < second[0] < after
        read_new()
        assert seen == []  # committed events above the open batch's first position wait for it
        multi.commit()
    finally:
        multi.close()
    read_new()
    assert seen == sorted(first + [between] + second + [after])


def test_readers_never_see_part_of_a_multi_stream_append_nor_skip_one(scratch_store):
    """Writers making multi-stream appends (and single ones) while readers look: a read of a batch's
    streams shows all of it or none of it (one transaction, one snapshot), and a reader following the
    log from its checkpoint ends with every event, each once, in order (it never skips; like the
    events of one append, a batch may straddle two of its pages, the rest coming in the next)."""
    s = scratch_store
    base = s.append(new_stream(), events(1), -1).last_position
    batches = [[(new_stream("multiA"), events(2, batch=i), -1), (new_stream("multiB"), events(1, batch=i), -1),
                (new_stream("multiC"), events(1, batch=i), -1)] for i in range(40)]

    def write(i):
        if i % 4 == 3:
            return [s.append(new_stream("single"), events(1), -1).global_positions]
        return [r.global_positions for r in s.multi_stream_append(batches[i])]

    pool = eventlet.GreenPool(8)
    writers = [pool.spawn(write, i) for i in range(len(batches))]
    seen_in_streams = set()
    pages, position, done = [], base + 1, False
    while not done:
        done = all(w.dead for w in writers)  # then one more read sees everything
        for i, batch in enumerate(batches):
            if i % 4 != 3:
                found = len(s.read_streams([name for name, _, _ in batch]))
                assert found in (0, 4), f"batch {i}: {found} of its 4 events visible"
                seen_in_streams.update([i] if found else [])
        page = s.read_all(position, 10000)
        if page:
            pages.append(page)
            position = page[-1].global_position + 1
        eventlet.sleep(0)
    written = [w.wait() for w in writers]
    assert len(seen_in_streams) == 30
    seen = [e.global_position for page in pages for e in page]
    assert seen == sorted(set(seen))
    expected = sorted(p for batch in written for stream in batch for p in stream)
    assert [p for p in seen if p in set(expected)] == expected


def test_concurrent_retries_of_one_multi_stream_append_store_it_once(pg_store):
    batch = [(new_stream(), events(2), -1), (new_stream(), events(1), -1)]
    pool = eventlet.GreenPool(8)
    results = list(pool.imap(lambda _: pg_store.multi_stream_append(batch), range(8)))
    assert len({tuple(r.global_positions for r in rs) for rs in results}) == 1
    assert sum(not rs[0].duplicate for rs in results) <= 1
    assert all(rs[0].duplicate == rs[1].duplicate for rs in results)
    assert len(pg_store.read_stream(batch[0][0])) == 2 and len(pg_store.read_stream(batch[1][0])) == 1


def test_multi_stream_appends_contending_on_an_any_version_stream_all_land(pg_store):
    """Each batch opens its own stream and appends to a shared one at any version: the store retries
    the whole transaction when the shared stream moved on; every batch lands once."""
    shared = new_stream("sharedLedger")
    pool = eventlet.GreenPool(12)
    results = list(pool.imap(lambda i: pg_store.multi_stream_append(
        [(new_stream("own"), events(1, i=i), -1), (shared, [NewEvent("Counted", {"i": i})], None)]), range(36)))
    assert sorted(v for rs in results for v in rs[1].stream_versions) == list(range(36))
    assert sorted(e.data["i"] for e in pg_store.read_stream(shared)) == list(range(36))


def test_a_multi_stream_append_is_checked_per_stream_by_append_events(pg_store):
    """Each stream's part goes through append_events: a hash that is not its event's canonical record
    (here: a stream whose events were prepared for another version) refuses the whole transaction."""
    from confide.eventstore import store as store_module
    from confide.eventstore.errors import InvalidEventError

    a, b = new_stream(), new_stream()
    real = store_module.prepare

    def wrong_version_for_b(stream_name, new_events, first_version, now=None):
        return real(stream_name, new_events, first_version + (1 if stream_name == b else 0), now)

    store_module.prepare = wrong_version_for_b
    try:
        with pytest.raises(InvalidEventError, match="hashes"):
            pg_store.multi_stream_append([(a, events(1), -1), (b, events(1), -1)])
    finally:
        store_module.prepare = real
    assert pg_store.read_stream(a) == [] and pg_store.read_stream(b) == []

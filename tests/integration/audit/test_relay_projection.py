"""The relay applies each page's audit projections in one transaction before it publishes the page;
the consumer in the same process acks what that relay already applied without touching the
database, and applies everything else (above the watermark, relayed elsewhere, or a page whose
relay-side apply failed) as before. Every event is still published to ``audit.events``.

Each test gets its own RabbitMQ vhost and event-store schema.
"""
import logging
import uuid

import psycopg
import pytest
from nameko.testing.services import entrypoint_waiter, worker_factory

from audit.dependencies import PageProjector, Projector, Relay, RelayWorker
from audit.replay import replay
from audit.service import AuditService
from confide.broker import ConfirmingPublisher, audit_queue
from confide.envelope import NewEvent
from confide.eventstore.errors import EventStoreUnavailableError
from confide.eventstore.store import PostgresEventStore
from confide.relay import RELAY_CHECKPOINT, OutboxRelay
from confide.testing.audit_feed import access_decided, drain
from confide.testing.polling import wait_for


@pytest.fixture
def store(scratch_store):
    """The services' login on this test's scratch schema (the audit tier's ``projector`` shares it)."""
    return scratch_store


decision_event = access_decided


def disclosure_event(patient):
    request_id = str(uuid.uuid4())
    return f"disclosureRequest-{request_id}", NewEvent("DisclosureRequested", {
        "request_id": request_id, "patient_id": patient, "requester": {"id": "I-1", "role": "insurer", "org": "Acme"},
        "purpose": "payment", "note_kind": "progress"})


def append_mixed(store, patient, n):
    """n events alternating an access decision and a disclosure request (rows in two tables)."""
    positions = []
    for i in range(n):
        stream, event = (decision_event if i % 2 == 0 else disclosure_event)(patient=patient)
        positions.append(store.append(stream, [event], -1).last_position)
    return positions


def xmins(dsn, schema, table):
    """The transaction ids that wrote the rows of ``table`` (a row's ``xmin``)."""
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute(psycopg.sql.SQL("SELECT xmin::text FROM {}.{}").format(
            psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table))).fetchall()}


def rows_of(store, table, patient):
    return store.projections.select(table, where={"patient_id": patient})


class Counting:
    """Wraps a projection store, counting its writing calls (and failing them when told)."""

    def __init__(self, inner, fail=None):
        self.inner, self.fail, self.calls = inner, fail, []

    def apply_rows(self, rows):
        self.calls.append("apply_rows")
        return self.inner.apply_rows(rows)

    def apply_page(self, rows_by_table, **kw):
        self.calls.append("apply_page")
        if self.fail is not None:
            raise self.fail
        return self.inner.apply_page(rows_by_table, **kw)


class RowsAtPublish(ConfirmingPublisher):
    """Records, at each batch publish, which positions already have an access-log row."""

    def __init__(self, uri, store):
        super().__init__(uri)
        self.store, self.seen = store, []

    def publish_batch(self, batch):
        live = {r["global_position"] for r in self.store.projections.select("access_log_view")}
        self.seen.append([(b[3]["global_position"], b[3]["global_position"] in live) for b in batch])
        return super().publish_batch(batch)


def test_a_relayed_page_is_projected_in_one_transaction_before_it_is_published(store, projector, rabbit_config,
                                                                                test_db_dsn):
    positions = append_mixed(store, "P-page", 8)
    publisher = RowsAtPublish(rabbit_config["AMQP_URI"], store)
    pages = PageProjector(projector.projections)
    counted = Counting(projector.projections)
    pages.projections = counted
    assert OutboxRelay(projector, publisher, before_publish=pages).relay() == 8
    publisher.close()
    # One apply_page, one transaction: every row of the page, in both tables, has the same xmin.
    assert counted.calls == ["apply_page"]
    access, disclosure = rows_of(store, "access_log_view", "P-page"), rows_of(store, "disclosure_log_view", "P-page")
    assert [r["global_position"] for r in access] == positions[0::2]
    assert [r["global_position"] for r in disclosure] == positions[1::2]
    written_by = xmins(test_db_dsn, store.schema, "access_log_view") | xmins(test_db_dsn, store.schema,
                                                                               "disclosure_log_view")
    assert len(written_by) == 1
    # The decisions' rows were committed before the page went out; every event is still published.
    assert publisher.seen == [[(p, i % 2 == 0) for i, p in enumerate(positions)]]
    assert [b["global_position"] for b in drain(rabbit_config["AMQP_URI"], audit_queue(), 8)] == positions
    assert pages.watermark == (1, positions[-1]) and store.read_checkpoint(RELAY_CHECKPOINT) == positions[-1]
    assert replay(store).matches


def test_the_consumer_skips_the_database_for_what_its_relay_applied_and_applies_what_is_above(
        store, projector, rabbit_config, tmp_path):
    positions = append_mixed(store, "P-skip", 4)
    worker = RelayWorker(projector, rabbit_config["AMQP_URI"], tmp_path / "keys", tmp_path / "cp")
    try:
        assert worker.run_once() == (4, 4)
    finally:
        worker.close()
    stream, event = decision_event(patient="P-skip")
    later = store.append(stream, [event], -1).last_position  # not relayed yet
    counted = Counting(projector.projections)
    service = worker_factory(AuditService, relay=worker, projections=counted)
    for body in drain(rabbit_config["AMQP_URI"], audit_queue(), 4):
        service.handle_event(body)
    assert counted.calls == []  # no transaction, no statement for an event its relay applied
    (above,) = store.read_all(later, 1)
    assert not worker.projected(later)
    service.handle_event(above.to_message())
    assert counted.calls == ["apply_rows"]
    assert [r["global_position"] for r in rows_of(store, "access_log_view", "P-skip")] == positions[0::2] + [later]
    assert replay(store).matches


@pytest.mark.parametrize("failure", [EventStoreUnavailableError("connection refused"), RuntimeError("boom")])
def test_a_failed_relay_apply_is_logged_published_and_left_to_the_consumer(store, projector, rabbit_config, caplog,
                                                                           failure):
    positions = append_mixed(store, "P-fail", 6)
    publisher = ConfirmingPublisher(rabbit_config["AMQP_URI"])
    pages = PageProjector(Counting(projector.projections, fail=failure))
    with caplog.at_level(logging.WARNING, logger="confide.relay"):
        assert OutboxRelay(projector, publisher, batch=3, before_publish=pages).relay() == 6
    publisher.close()
    assert pages.watermark is None and not any(pages.applied(p) for p in positions)
    assert not rows_of(store, "access_log_view", "P-fail")
    warnings = [r.getMessage() for r in caplog.records if r.name == "confide.relay"]
    assert warnings == [f"before-publish step failed for global positions {a}..{b} ({type(failure).__name__}); "
                        f"publishing the page all the same" for a, b in ((1, positions[2]), (positions[2] + 1,
                                                                                              positions[5]))]
    assert all("P-fail" not in w and "permit" not in w and "deny" not in w for w in warnings)
    # The consumer gets every event and, finding none under a watermark, applies them all.
    counted = Counting(projector.projections)
    service = worker_factory(AuditService, relay=type("R", (), {"projected": staticmethod(pages.applied)})(),
                             projections=counted)
    bodies = drain(rabbit_config["AMQP_URI"], audit_queue(), 6)
    assert [b["global_position"] for b in bodies] == positions
    for body in bodies:
        service.handle_event(body)
    assert counted.calls == ["apply_rows"] * 6
    assert [r["global_position"] for r in rows_of(store, "access_log_view", "P-fail")] == positions[0::2]
    assert replay(store).matches


class FlakyProjections:
    """Fails the pages named, applies the others."""

    def __init__(self, inner, failing_pages):
        self.inner, self.failing, self.n = inner, set(failing_pages), 0

    def apply_page(self, rows_by_table, **kw):
        self.n += 1
        if self.n in self.failing:
            raise EventStoreUnavailableError("down")
        return self.inner.apply_page(rows_by_table, **kw)


def test_the_watermark_never_covers_a_page_whose_apply_failed(store, projector, rabbit_config):
    positions = append_mixed(store, "P-mark", 9)
    publisher = ConfirmingPublisher(rabbit_config["AMQP_URI"])
    pages = PageProjector(FlakyProjections(projector.projections, failing_pages={2}))
    assert OutboxRelay(projector, publisher, batch=3, before_publish=pages).relay() == 9
    publisher.close()
    # pages 1-3, 4-6 (failed), 7-9: the watermark restarts after the gap, never spans it (one range is
    # kept: 1-3, applied, are then applied again by the consumer if it still has them, idempotently)
    assert [pages.applied(p) for p in positions] == [False] * 6 + [True] * 3
    assert pages.watermark == (positions[5] + 1, positions[8])
    # A pass that re-reads from an earlier checkpoint (a publish that failed) extends the range it overlaps.
    pages(positions[7], store.read_all(positions[7], 2), [e.to_message() for e in store.read_all(positions[7], 2)])
    assert pages.watermark == (positions[5] + 1, positions[8])
    # A page read again whose apply fails uncovers everything from its start (a log restored to an
    # earlier point re-uses positions: what this process applied before is no proof of the new events).
    pages.projections = Counting(projector.projections, fail=EventStoreUnavailableError("down"))
    with pytest.raises(EventStoreUnavailableError):
        pages(positions[7], store.read_all(positions[7], 2), [e.to_message() for e in store.read_all(positions[7], 2)])
    assert pages.watermark == (positions[5] + 1, positions[6])
    assert [pages.applied(p) for p in positions[6:]] == [True, False, False]
    pages.projections = projector.projections
    pages(positions[7], store.read_all(positions[7], 2), [e.to_message() for e in store.read_all(positions[7], 2)])
    assert pages.watermark == (positions[5] + 1, positions[8])
    more = append_mixed(store, "P-mark", 2)
    page = store.read_all(positions[8] + 1, 10)
    pages(positions[8] + 1, page, [e.to_message() for e in page])
    assert pages.watermark == (positions[5] + 1, more[-1])


def test_a_page_waits_no_longer_than_its_lock_timeout_while_a_rebuild_holds_the_tables(
        store, projector, rabbit_config, admin_dsn, test_db_dsn, caplog):
    """``confide audit replay --apply`` locks the live tables; the relay does not write under it: its
    page gives up after the lock timeout and is published; the consumer waits for the lock as before."""
    from psycopg.conninfo import conninfo_to_dict

    from confide import config

    positions = append_mixed(store, "P-lock", 2)
    admin = PostgresEventStore(config.with_dbname(admin_dsn, conninfo_to_dict(test_db_dsn)["dbname"]),
                               schema=store.schema, pool_size=1)
    publisher = ConfirmingPublisher(rabbit_config["AMQP_URI"])
    pages = PageProjector(projector.projections, lock_timeout_ms=200)
    try:
        with admin.projections.rebuild(["access_log_view"], lock=True), \
                caplog.at_level(logging.WARNING, logger="confide.relay"):
            assert OutboxRelay(projector, publisher, before_publish=pages).relay() == 2
    finally:
        publisher.close()
        admin.close()
    assert pages.watermark is None
    # (the lock timeout, translated by the store like every lost or refused operation)
    assert [r.getMessage() for r in caplog.records if r.name == "confide.relay"] == [
        f"before-publish step failed for global positions 1..{positions[-1]} (EventStoreUnavailableError); "
        "publishing the page all the same"]
    assert [b["global_position"] for b in drain(rabbit_config["AMQP_URI"], audit_queue(), 2)] == positions
    assert not rows_of(store, "access_log_view", "P-lock")


def _dependency(container, kind):
    (dep,) = [d for d in container.extensions if isinstance(d, kind)]
    return dep


def test_the_audit_service_projects_on_the_relay_and_its_consumer_opens_no_transaction(
        container_factory, service_config, store, tmp_path):
    config = {**service_config, "DB_SCHEMA": store.schema, "CHECKPOINT_DIR": str(tmp_path / "cp")}
    container = container_factory(AuditService, config)
    container.start()
    consumer_store = _dependency(container, Projector).store
    opened = []
    real = consumer_store.transaction

    def counting():
        opened.append(1)
        return real()

    consumer_store.transaction = counting
    handled = []

    def all_handled(worker_ctx, result, exc_info):
        handled.append(exc_info is None and worker_ctx.args[0]["stream_name"])
        return len(handled) == 4

    with entrypoint_waiter(container, "handle_event", timeout=30, callback=all_handled):
        positions = append_mixed(store, "P-live", 4)
    assert all(handled) and opened == []
    assert [r["global_position"] for r in rows_of(store, "access_log_view", "P-live")] == positions[0::2]
    assert _dependency(container, Relay).worker.projector.watermark[1] >= positions[-1]
    assert replay(store).matches


def test_the_audit_service_consumer_applies_what_its_relay_failed_to(container_factory, service_config, store,
                                                                     tmp_path):
    config = {**service_config, "DB_SCHEMA": store.schema, "CHECKPOINT_DIR": str(tmp_path / "cp")}
    container = container_factory(AuditService, config)
    container.start()
    relay_side = _dependency(container, Relay).worker.projector
    relay_side.projections = Counting(relay_side.projections, fail=EventStoreUnavailableError("down"))
    handled = []

    def all_handled(worker_ctx, result, exc_info):
        handled.append(exc_info is None)
        return len(handled) == 4

    with entrypoint_waiter(container, "handle_event", timeout=30, callback=all_handled):
        positions = append_mixed(store, "P-lost", 4)
    assert all(handled) and relay_side.projections.calls and relay_side.watermark is None
    wait_for(lambda: len(rows_of(store, "access_log_view", "P-lost")) == 2)
    assert [r["global_position"] for r in rows_of(store, "access_log_view", "P-lost")] == positions[0::2]
    assert [r["global_position"] for r in rows_of(store, "disclosure_log_view", "P-lost")] == positions[1::2]
    assert replay(store).matches


class Lease:
    def __init__(self):
        self.held = True

    def hold(self):
        return self.held

    def release(self):
        self.held = False


def test_an_instance_that_loses_the_lease_forgets_its_watermark(store, projector, rabbit_config, tmp_path):
    """Only the lease holder's consumer skips: the standby's applies whatever the new holder relays."""
    positions = append_mixed(store, "P-lease", 2)
    lease = Lease()
    worker = RelayWorker(projector, rabbit_config["AMQP_URI"], tmp_path / "keys", tmp_path / "cp", lease=lease)
    try:
        assert worker.run_once() == (2, 2) and all(worker.projected(p) for p in positions)
        lease.held = False
        assert worker.run_once() == (0, 0)
        assert not any(worker.projected(p) for p in positions) and worker.projector.watermark is None
    finally:
        worker.close()

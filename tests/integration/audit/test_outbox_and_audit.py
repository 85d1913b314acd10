"""Outbox relay → RabbitMQ → audit projections, with confirms, mandatory, bounded retry and a DLQ.

Each test gets its own RabbitMQ vhost (nameko's rabbit_config, with Confide's
topology declared in it) and its own event-store schema.
"""
import uuid

import pytest
from kombu import Connection, Exchange
from nameko.testing.services import entrypoint_waiter

from audit.replay import replay
from audit.service import AuditService
from confide import dlq
from confide.broker import AUDIT_DLQ_NAME, ConfirmingPublisher, UnroutableError, audit_queue
from confide.envelope import NewEvent
from confide.eventstore.chain import chain_size
from confide.eventstore.store import PostgresEventStore
from confide.relay import RELAY_CHECKPOINT, OutboxRelay
from confide.testing.audit_feed import access_decided, drain
from confide.testing.polling import wait_for


@pytest.fixture
def store(scratch_store):
    """The services' login on this test's scratch schema (the audit tier's ``projector`` shares it)."""
    return scratch_store


@pytest.fixture
def maintenance(admin_dsn, test_db_dsn, scratch_schema):
    """The administrator, who alone rebuilds the live projections (``confide audit replay --apply``)."""
    from psycopg.conninfo import conninfo_to_dict

    from confide import config

    s = PostgresEventStore(config.with_dbname(admin_dsn, conninfo_to_dict(test_db_dsn)["dbname"]),
                           schema=scratch_schema, pool_size=2)
    yield s
    s.close()


decision_event = access_decided


def test_relay_publishes_committed_events_in_global_order(store, projector, rabbit_config):
    appended = [store.append(f"relayTest-{i % 3}", [NewEvent("Happened", {"i": i})]).last_position
                for i in range(20)]
    publisher = ConfirmingPublisher(rabbit_config["AMQP_URI"])
    assert OutboxRelay(projector, publisher, batch=7).relay() == 20
    publisher.close()
    bodies = drain(rabbit_config["AMQP_URI"], audit_queue(), 20)
    assert [b["global_position"] for b in bodies] == appended
    assert store.read_checkpoint(RELAY_CHECKPOINT) == appended[-1]


def test_unroutable_publish_raises_and_keeps_the_checkpoint(store, projector, rabbit_config):
    # An exchange with no queue bound: a non-mandatory publish would vanish silently.
    lonely = Exchange("lonely.events", type="topic", durable=True)
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        lonely(conn.channel()).declare()
    store.append("relayTest-x", [NewEvent("Happened", {})])
    publisher = ConfirmingPublisher(rabbit_config["AMQP_URI"], exchange=lonely)
    with pytest.raises(UnroutableError):
        OutboxRelay(projector, publisher).relay()
    assert store.read_checkpoint(RELAY_CHECKPOINT) == 0


def test_audit_service_seals_relays_and_projects(container_factory, service_config, store, tmp_path):
    config = {**service_config, "DB_SCHEMA": store.schema, "CHECKPOINT_DIR": str(tmp_path / "cp")}
    container = container_factory(AuditService, config)
    container.start()
    streams = [decision_event(patient="P-audit", decision=d) for d in ("permit", "deny", "deny")]
    for stream, event in streams:
        store.append(stream, [event], -1)
    rows = wait_for(lambda: (lambda r: r if len(r) == 3 else None)(_access_rows(store, "P-audit")))
    assert [r[1] for r in rows] == ["permit", "deny", "deny"]
    report = replay(store)
    assert report.matches and report.projections["access_log"]["rebuilt_rows"] == 3
    assert chain_size(store) == 3


def _access_rows(store, patient):
    return [(r["global_position"], r["decision"])
            for r in store.projections.select("access_log_view", where={"patient_id": patient})]


def test_redelivered_event_is_applied_once(container_factory, service_config, store, tmp_path):
    config = {**service_config, "DB_SCHEMA": store.schema, "CHECKPOINT_DIR": str(tmp_path / "cp")}
    container = container_factory(AuditService, config)
    container.start()
    stream, event = decision_event(patient="P-twice")

    def handled_ours(worker_ctx, result, exc_info):
        """A handle_event worker for this event has finished without error (and been torn down)."""
        return exc_info is None and worker_ctx.args[0].get("stream_name") == stream

    with entrypoint_waiter(container, "handle_event", timeout=30, callback=handled_ours):
        store.append(stream, [event], -1)  # the relay publishes it; the first delivery is applied
    wait_for(lambda: _access_rows(store, "P-twice"))
    # Re-publish the same stored event, as a relay restarted after a crash would.
    (recorded,) = store.read_stream(stream)
    with entrypoint_waiter(container, "handle_event", timeout=30, callback=handled_ours):
        publisher = ConfirmingPublisher(service_config["AMQP_URI"])
        publisher.publish(recorded.to_message(), routing_key=recorded.type, message_id=str(recorded.event_id))
        publisher.close()
    assert len(_access_rows(store, "P-twice")) == 1


def test_failing_handler_is_retried_then_dead_lettered_and_replayable(container_factory, service_config, store,
                                                                      tmp_path):
    config = {**service_config, "DB_SCHEMA": store.schema, "CHECKPOINT_DIR": str(tmp_path / "cp")}
    container_factory(AuditService, config).start()
    poison = {"type": "AccessDecided", "event_id": str(uuid.uuid4())}  # no global_position: the handler fails
    publisher = ConfirmingPublisher(service_config["AMQP_URI"])
    publisher.publish(poison, routing_key="AccessDecided", message_id=poison["event_id"])
    publisher.close()
    dead = wait_for(lambda: dlq.peek(service_config["AMQP_URI"]), timeout=20)
    assert [m["event_id"] for m in dead] == [poison["event_id"]]
    with Connection(service_config["AMQP_URI"]) as conn:
        info = conn.channel().queue_declare(AUDIT_DLQ_NAME, passive=True)
    assert info.message_count == 1
    # The operator fixes the cause and replays; here the message is still poison, so it returns to the DLQ.
    assert dlq.replay_all(service_config["AMQP_URI"]) == 1
    assert wait_for(lambda: dlq.peek(service_config["AMQP_URI"]), timeout=20)[0]["event_id"] == poison["event_id"]


def test_replay_detects_a_stale_live_projection_and_apply_rebuilds_it(store, projector, maintenance):
    from audit.replay import apply_event, event_dict

    stream, event = decision_event(patient="P-stale", decision="permit")
    store.append(stream, [event], -1)
    (recorded,) = store.read_stream(stream)
    stale = event_dict(recorded)
    stale["data"] = {**stale["data"], "decision": "deny"}  # as an older projection version wrote it
    apply_event(projector.projections, stale)
    report = replay(store, ["access_log"])
    # a differing row is both: the rebuilt row the live table lacks, and a live row the rebuild lacks
    assert not report.matches and report.projections["access_log"]["extra_live"] == 1
    assert report.projections["access_log"]["missing_live"] == 1
    replay(maintenance, ["access_log"], apply=True)
    assert replay(store, ["access_log"]).matches
    assert [r[1] for r in _access_rows(store, "P-stale")] == ["permit"]


def test_batch_publish_reports_how_many_were_delivered_before_an_unroutable_one(rabbit_config):
    from kombu import Queue

    picky = Exchange("picky.events", type="direct", durable=True)
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        Queue("picky.a", exchange=picky, routing_key="A", durable=True)(conn.channel()).declare()
    publisher = ConfirmingPublisher(rabbit_config["AMQP_URI"], exchange=picky)
    batch = [({"n": i}, key, f"m{i}", {}) for i, key in enumerate(["A", "A", "B", "A"])]
    with pytest.raises(UnroutableError) as err:
        publisher.publish_batch(batch)
    assert err.value.delivered == 2
    assert publisher.publish_batch(batch[:2]) == 2  # the channel is still usable
    publisher.close()


def test_replay_flags_events_the_relay_checkpoint_skipped(store, projector):
    from audit.replay import apply_event, event_dict

    first_stream, first = decision_event(patient="P-skip")
    second_stream, second = decision_event(patient="P-skip")
    store.append(first_stream, [first], -1)
    skipped = store.append(second_stream, [second], -1).last_position
    apply_event(projector.projections, event_dict(store.read_stream(first_stream)[0]))
    with projector.transaction() as conn:  # a relay checkpoint pushed past an event never published
        projector.write_checkpoint(RELAY_CHECKPOINT, skipped, conn)
    report = replay(store, ["access_log"])
    assert not report.matches and report.projections["access_log"]["missing_live"] == 1


def test_replay_over_many_pages_loads_each_behind_the_next_and_matches(store, projector):
    """The rebuild loads page k on a helper thread while page k+1 is projected: every page lands."""
    from audit.replay import apply_event, event_dict

    streams = []
    for i in range(11):
        stream, event = decision_event(patient="P-pages", decision="permit" if i % 2 else "deny")
        store.append(stream, [event], -1)
        streams.append(stream)
    for stream in streams:
        apply_event(projector.projections, event_dict(store.read_stream(stream)[0]))
    report = replay(store, ["access_log"], batch=3)  # at least four pages of this test's events
    assert report.matches, report.projections
    assert report.projections["access_log"]["rebuilt_rows"] >= 11


def test_a_rebuild_load_that_fails_mid_replay_raises_and_leaves_the_live_table_untouched(
        store, projector, maintenance, monkeypatch):
    from audit.replay import apply_event, event_dict
    from confide.eventstore.projection_store import PostgresRebuild

    stream, event = decision_event(patient="P-loadfail", decision="permit")
    store.append(stream, [event], -1)
    apply_event(projector.projections, event_dict(store.read_stream(stream)[0]))
    for _ in range(6):
        other_stream, other = decision_event(patient="P-loadfail-other")
        store.append(other_stream, [other], -1)
    calls = []
    real_load = PostgresRebuild.load

    def failing_load(self, table, rows):
        calls.append(table)
        if len(calls) == 2:
            raise RuntimeError("disk full (simulated)")
        return real_load(self, table, rows)

    monkeypatch.setattr(PostgresRebuild, "load", failing_load)
    with pytest.raises(RuntimeError, match="disk full"):
        replay(maintenance, ["access_log"], batch=2, apply=True)
    monkeypatch.setattr(PostgresRebuild, "load", real_load)
    assert [r[1] for r in _access_rows(store, "P-loadfail")] == ["permit"]  # the rebuild rolled back whole
    assert _access_rows(store, "P-loadfail-other") == []  # the replace never ran
    assert replay(store, ["access_log"]).matches  # and a replay without the fault still matches


def test_the_messages_replay_reads_are_the_messages_the_live_path_builds(store):
    """read_all_messages (server-formatted id and recorded_at) == event_dict of read_all, field for field."""
    from audit.replay import event_dict

    for _ in range(3):
        stream, event = decision_event(patient="P-msg")
        store.append(stream, [event], -1)
    head = store.head_position()
    events = store.read_all(max(1, head - 2), 3)
    rows = store.read_all_messages(max(1, head - 2), 3)
    assert len(rows) == len(events) == 3
    for row, ev in zip(rows, events):
        expected = event_dict(ev)
        position, stream_name, version, event_id, typ, data_json, recorded_at = row
        assert (position, stream_name, version, event_id, typ, recorded_at) == (
            expected["global_position"], expected["stream_name"], expected["stream_version"],
            expected["event_id"], expected["type"], expected["recorded_at"])
        assert data_json == ev.data_json

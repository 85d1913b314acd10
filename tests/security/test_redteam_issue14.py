"""Red team, issue 14 (throughput): the relay's page projection and the consumer's watermark, msgspec
decoding of stored JSON, and the replay's server-formatted messages, attacked by an insider holding
the services' database login, a service's broker login, or a clinician / insurer account.

Real PostgreSQL (a scratch schema per test) and RabbitMQ (a vhost per test), as the other tiers.
"""
import logging
import time
import uuid

import pytest
from kombu import Connection

from audit.service import AuditService
from confide.broker import audit_dlq
from confide.envelope import NewEvent
from confide.eventstore.store import PostgresEventStore
from confide.testing.polling import wait_for

#: Stands for clinical content in the tests' synthetic events: it must never reach a log.
CLINICAL = "SYNTHETIC-CLINICAL-7f3a"


@pytest.fixture
def store(test_db_dsn, scratch_schema):
    s = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=4)
    yield s
    s.close()


def decision_event(patient="P-1", decision="deny", **extra):
    decision_id = str(uuid.uuid4())
    return f"accessDecision-{decision_id}", NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": "C-B", "role": "clinician_same_practice", "org": "North"},
        "patient_id": patient, "note_id": "n-1", "note_kind": "psychotherapy", "purpose": "treatment",
        "action": "use", "decision": decision, "rule": "45 CFR 164.508(a)(2)", **extra})


def access_rows(store, patient):
    return store.projections.select("access_log_view", where={"patient_id": patient})


def drain(amqp_uri, queue, timeout=3.0):
    """Every message body (raw bytes, never decoded) in ``queue`` (acked), polling up to ``timeout``
    seconds for the first."""
    bodies = []
    with Connection(amqp_uri) as conn:
        bound = queue(conn.default_channel)
        deadline = time.monotonic() + timeout
        while True:
            msg = bound.get(no_ack=False)
            if msg is None:
                if bodies or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
                continue
            bodies.append(msg.body if isinstance(msg.body, bytes) else msg.body.encode())
            msg.ack()
    return bodies


def test_an_event_the_broker_client_cannot_decode_is_dead_lettered_not_logged_nor_dropped(
        container_factory, service_config, store, tmp_path, caplog):
    """Insider with the services' database login: data holding kombu's type markers
    (``{"__type__": "uuid", ...}``) is valid JSON the store takes, but kombu's decoder (its
    object_hook) raises on it in the audit consumer. kombu's default then logs the WHOLE message
    body (the event's data) at ERROR and acks it: the event is silently gone from the audit
    projections whenever the relay's page apply did not cover it — and the insider makes it fail
    by putting an event that cannot be inserted into the same page."""
    config = {**service_config, "DB_SCHEMA": store.schema, "CHECKPOINT_DIR": str(tmp_path / "cp")}
    marker = {"__type__": "uuid", "__value__": CLINICAL}
    with caplog.at_level(logging.DEBUG):
        # one page: a row the relay's INSERT cannot take (a dict as patient id), then the marked event
        s0, e0 = decision_event(patient={"not": "text"})
        store.append(s0, [e0], -1)
        s, e = decision_event("P-kombu", session_note={"text": CLINICAL}, extra=marker)
        hidden = store.append(s, [e], -1).last_position
        container = container_factory(AuditService, config)
        container.start()
        wait_for(lambda: store.read_checkpoint("relay:confide.events") >= hidden, timeout=20)
        dead = drain(service_config["AMQP_URI"], audit_dlq(), timeout=10)
        container.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert CLINICAL not in logged
    # the event is projected, or (never silently) waits in the dead-letter queue for an operator
    assert access_rows(store, "P-kombu") or any(CLINICAL.encode() in b for b in dead)

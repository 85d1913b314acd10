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

from audit.replay import replay
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
    body (the event's data) at ERROR (the console handler's filter is config; caplog has none) and
    acks it: the event is silently gone from the audit projections whenever the relay's page apply
    did not cover it, and the insider makes it fail by putting an event whose row cannot be
    inserted into the same page."""
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


# -- stored JSON the services' login can append directly, and the replay's server-made messages --

#: Documents PostgreSQL's JSON input takes (append_events checks ``d::jsonb``) that json.loads and a
#: fast decoder are most likely to read differently: duplicate keys (the text is stored, not the
#: jsonb), numbers beyond a double or an int64, escapes, surrogate pairs, odd whitespace, nesting.
ODD_DOCUMENTS = [
    '{"decision": "deny", "decision": "permit"}',
    '{"a": 1, "\\u0061": 2}',
    '{"n": 1e400, "m": -1e400, "z": 1e-400, "negz": -0.0, "i": -0}',
    '{"big": %s, "neg": -%s}' % ("9" * 4300, "8" * 300),
    '{"f": 0.%s1, "g": 1.%s}' % ("0" * 400, "3" * 800),
    '{"halfway": 9007199254740993, "hf": 9007199254740993.0, "sub": 2.4703282292062328e-324}',
    '{"s": "\\ud83d\\ude00 \\u2028 \\/ \\"", "k\\u00e9": "\u00e9"}',
    ' \t\r\n{"w" \t: \r\n[ ]\n}\t\r\n ',
    '{"deep": ' + "[" * 900 + "]" * 900 + "}",
]


def raw_append(conn, schema, stream, data_text, recorded_at):
    """What an insider holding the services' login does: call append_events with its own text."""
    import hashlib
    import json as stdjson

    from confide.timestamps import format_ts

    event_id = uuid.uuid4()
    record = ('{"data":' + data_text + ',"event_id":' + stdjson.dumps(str(event_id)) + ',"metadata":{}'
              + ',"recorded_at":' + stdjson.dumps(format_ts(recorded_at)) + ',"stream_name":'
              + stdjson.dumps(stream) + ',"stream_version":0,"type":"OddShape"}')
    digest = hashlib.sha256(record.encode()).digest()
    conn.execute(psycopg_sql().SQL("SELECT * FROM {}.append_events(%s, -1, %s, %s, %s, %s, %s, %s)").format(
        psycopg_sql().Identifier(schema)),
        (stream, [event_id], ["OddShape"], [data_text], ["{}"], [recorded_at], [digest]))
    return event_id


def psycopg_sql():
    from psycopg import sql

    return sql


@pytest.mark.parametrize("session", [
    "",
    "-c TimeZone=Pacific/Chatham -c DateStyle=German,DMY -c IntervalStyle=sql_standard",
    "-c TimeZone=America/St_Johns -c timezone_abbreviations=Australia -c lc_time=C",
    "-c TimeZone=Asia/Kolkata -c timezone_abbreviations=India -c DateStyle=SQL,MDY",
])
def test_stored_odd_json_decodes_as_json_loads_and_replay_messages_match_event_dict(
        test_db_dsn, scratch_schema, session):
    """Every document decodes (RecordedEvent.data, replay) exactly as json.loads reads it, and the
    server-formatted event id and recorded_at of ``read_all_messages`` are ``event_dict``'s, whatever
    the reading session's time zone, date style or abbreviation set."""
    import json as stdjson
    from datetime import datetime, timezone

    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from audit.replay import event_dict

    now = datetime.now(timezone.utc)
    with psycopg.connect(test_db_dsn, autocommit=True) as conn:
        for i, text in enumerate(ODD_DOCUMENTS):
            # a whole second too (microseconds 000000), and the current instant
            moment = now.replace(microsecond=0) if i % 2 else now
            raw_append(conn, scratch_schema, f"oddShape-{i}", text, moment)
    params = conninfo_to_dict(test_db_dsn)
    if session:
        params["options"] = session
    reader = PostgresEventStore(make_conninfo("", **params), schema=scratch_schema, pool_size=1)
    try:
        events = reader.read_all(1, 100)
        messages = reader.read_all_messages(1, 100)
    finally:
        reader.close()
    assert len(events) == len(messages) == len(ODD_DOCUMENTS)
    for ev, msg in zip(events, messages, strict=True):
        expected = stdjson.loads(ev.data_json)
        assert repr(ev.data) == repr(expected)
        want = event_dict(ev)
        position, stream, version, event_id, typ, data_json, recorded_at = msg
        assert (position, stream, version, event_id, typ, recorded_at) == (
            want["global_position"], want["stream_name"], want["stream_version"], want["event_id"], want["type"],
            want["recorded_at"])
        assert data_json == ev.data_json and repr(want["data"]) == repr(expected)


def test_a_forged_broker_message_at_a_position_the_relay_applied_changes_nothing(
        test_db_dsn, projector_db_dsn, scratch_schema, rabbit_config, tmp_path):
    """Insider with the audit service's broker login (the only one that may publish to
    ``confide.events``): a message claiming a position this process's relay already applied, with
    other content (a permit instead of a deny, another event id), is acked without a write: the
    watermark covers only what the relay committed from the log itself."""
    from nameko.testing.services import worker_factory

    from audit.dependencies import RelayWorker

    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    projector = PostgresEventStore(projector_db_dsn, schema=scratch_schema, pool_size=2)
    worker = RelayWorker(projector, rabbit_config["AMQP_URI"], tmp_path / "keys", tmp_path / "cp")
    try:
        stream, event = decision_event("P-forge", decision="deny")
        position = store.append(stream, [event], -1).last_position
        assert worker.run_once() == (1, 1) and worker.projected(position)
        (real,) = store.read_all(position, 1)
        forged = real.to_message()
        forged["data"] = {**forged["data"], "decision": "permit", "rule": "forged"}
        forged["event_id"] = str(uuid.uuid4())
        written = []

        class Watching:
            def apply_rows(self, rows):
                written.append(rows)
                return projector.projections.apply_rows(rows)

        service = worker_factory(AuditService, relay=worker, projections=Watching())
        service.handle_event(forged)
        assert written == []  # no transaction, nothing written
        rows = access_rows(store, "P-forge")
        assert [(r["global_position"], r["decision"], str(r["event_id"])) for r in rows] == [
            (position, "deny", str(real.event_id))]
        assert replay(store).matches
    finally:
        worker.close()
        projector.close()
        store.close()


@pytest.mark.parametrize("document", [
    '{"n": ' + "9" * 4301 + "}",                 # PostgreSQL takes it; Python's int() refuses 4,301 digits
    "[" * 2000 + "]" * 2000,                    # PostgreSQL takes it; no Python JSON reader goes this deep
])
def test_an_event_no_reader_can_decode_halts_the_relay_loudly_and_health_says_so(
        test_db_dsn, projector_db_dsn, scratch_schema, rabbit_config, tmp_path, document):
    """Insider with the services' database login: append_events takes any JSON PostgreSQL accepts,
    including what Python cannot decode. The relay never skips an event it cannot publish (the audit
    trail must not silently miss one): it stops there, says so on every tick, and the audit service's
    health reports ``relay: halted: <error>`` (the gateway's /health shows it degraded), never the data."""
    from datetime import datetime, timezone

    import psycopg
    from nameko.testing.services import worker_factory

    from audit.dependencies import RelayWorker

    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    projector = PostgresEventStore(projector_db_dsn, schema=scratch_schema, pool_size=2)
    worker = RelayWorker(projector, rabbit_config["AMQP_URI"], tmp_path / "keys", tmp_path / "cp")
    try:
        stream, event = decision_event("P-before")
        store.append(stream, [event], -1)
        with psycopg.connect(test_db_dsn, autocommit=True) as conn:
            raw_append(conn, scratch_schema, "oddShape-undecodable", document, datetime.now(timezone.utc))
        with pytest.raises((ValueError, RecursionError)):
            worker.run_once()
        assert worker.halted in ("ValueError", "RecursionError")
        service = worker_factory(AuditService, relay=worker)
        reply = service.health()
        assert reply["relay"] == f"halted: {worker.halted}" and reply["database"] == "ok"
        assert "9999" not in str(reply)
        assert [r["decision"] for r in access_rows(store, "P-before")] == ["deny"]  # what came before passed
    finally:
        worker.close()
        projector.close()
        store.close()

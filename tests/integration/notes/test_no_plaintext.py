"""Psychotherapy text never reaches the database, the logs or the broker in clear.

Each test writes, revises and adds an addendum with a unique marker string,
reads the note back as its author (proving the text is there to find), then
searches the place for the marker — and for a positive control (the note's
stream name) to prove the search covered the note.
"""
import json
import logging
import subprocess
import time

from kombu import Connection, Queue
from nameko.testing.services import entrypoint_hook

from confide import config
from confide.broker import EVENTS_EXCHANGE, ConfirmingPublisher
from confide.relay import OutboxRelay
from notes.service import NotesService

from .conftest import author

AUTHOR = {"id": "C-A", "role": "originator_clinician", "org": "Northside"}
TEST_DB = "confide_test"


def call(container, name, *args, **kwargs):
    with entrypoint_hook(container, name) as hook:
        return hook(*args, **kwargs)


def write_everything(container, patient_id, marker):
    """Draft, revise, sign, addendum, read back: every path that carries text."""
    text = f"She spoke about the lake house. {marker}. Pt reports low mood, poor sleep and anhedonia."
    note_id = call(container, "write_psychotherapy_note", {
        "patient_id": patient_id, "author": author(), "session_date": "2026-05-01", "text": text})["note_id"]
    call(container, "revise_note", note_id, "C-A", text=f"{text} Revised {marker}.")
    call(container, "sign_note", note_id, "C-A")
    call(container, "add_addendum", note_id, "C-A", f"Addendum {marker}")
    call(container, "lint_text", f"lint {marker}")
    note = call(container, "read_note", note_id, AUTHOR, "treatment")["note"]
    assert marker in note["text"] and marker in note["addenda"][0]["text"]  # the text exists, sealed
    return note_id


def test_database_dump_holds_no_psychotherapy_text(notes_container, patient_id, marker):
    note_id = write_everything(notes_container, patient_id, marker)
    admin = config.with_dbname(config.admin_dsn(), TEST_DB)
    dump = subprocess.run(["pg_dump", "--dbname", admin, "--data-only"], check=True, capture_output=True,
                          text=True, timeout=300).stdout
    assert f"psychotherapyNote-{note_id}" in dump  # the note's events are in the dump
    assert marker not in dump
    assert "lake house" not in dump


def test_logs_hold_no_psychotherapy_text(notes_container, patient_id, marker, caplog):
    caplog.set_level(logging.DEBUG)
    note_id = write_everything(notes_container, patient_id, marker)
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert f"psychotherapyNote-{note_id}" in logged  # logs carry stream names
    assert marker not in logged and "lake house" not in logged


def test_broker_messages_hold_no_psychotherapy_text(container_factory, service_config, scratch_schema,
                                                    test_db_dsn, patient_id, marker):
    # A scratch schema holds only this test's events; the relay publishes all of them.
    container = container_factory(NotesService, {**service_config, "DB_SCHEMA": scratch_schema})
    container.start()
    note_id = write_everything(container, patient_id, marker)
    amqp_uri = service_config["AMQP_URI"]
    inspect = Queue("notes.test.inspect", exchange=EVENTS_EXCHANGE, routing_key="#", durable=False)
    with Connection(amqp_uri) as conn:
        inspect(conn.channel()).declare()
    from confide.eventstore.store import PostgresEventStore

    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    publisher = ConfirmingPublisher(amqp_uri)
    psych_stream = f"psychotherapyNote-{note_id}"
    want = len(store.read_stream(psych_stream))  # read_stream is not held back by the visibility frontier
    bodies, relayed = [], 0
    try:
        # The relay only sees events below the database-wide xmin frontier, which other
        # sessions' open transactions can hold back for a moment: relay until ours are out.
        deadline = time.time() + 30
        while time.time() < deadline:
            relayed += OutboxRelay(store, publisher).relay()
            bodies += drain(amqp_uri, inspect, 10**6, timeout=0.5)
            if sum(b["stream_name"] == psych_stream for b in bodies) >= want:
                break
    finally:
        publisher.close()
        store.close()
    assert relayed == len(bodies) and sum(b["stream_name"] == psych_stream for b in bodies) == want
    raw = "".join(json.dumps(b) for b in bodies)
    assert marker not in raw and "lake house" not in raw


def drain(amqp_uri, queue, n, timeout=15):
    bodies = []
    with Connection(amqp_uri) as conn:
        simple = conn.SimpleQueue(queue)
        deadline = time.time() + timeout
        while len(bodies) < n and time.time() < deadline:
            try:
                msg = simple.get(timeout=0.2)
            except simple.Empty:
                continue
            assert marker_free(msg.body)
            bodies.append(msg.payload)
            msg.ack()
        simple.close()
    return bodies


def marker_free(body) -> bool:
    raw = body if isinstance(body, (bytes, bytearray)) else str(body).encode()
    return b"PSYMARKER" not in raw

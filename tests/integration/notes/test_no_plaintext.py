"""Psychotherapy text never reaches the database, the logs or the broker in clear.

Each test writes, revises and adds an addendum with a unique marker string (sealed to the
notes transport key, as a front door does), reads the note back as its author with a reply key
(proving the text is there to find once opened), then searches the place for the marker — and
for a positive control (the note's stream name or id) to prove the search covered the note.
The RPC test drives the service over RabbitMQ and taps every request and reply body, then
greps RabbitMQ's on-disk data directory.
"""
import json
import logging
import os
import subprocess
import time
import uuid
from pathlib import Path

from kombu import Connection, Queue
from nameko.rpc import get_rpc_exchange
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook

from confide import config, transport
from confide.broker import EVENTS_EXCHANGE, ConfirmingPublisher
from confide.relay import OutboxRelay
from confide.testing.identities import Identities
from notes.service import NotesService

from .conftest import READER_PUB, opened, unique

TEST_DB = "confide_test"


def hooked(container, person):
    """An RPC caller through nameko's entrypoint hook (in process, no broker), as ``person``."""
    def call(name, *args, **kwargs):
        with entrypoint_hook(container, name, context_data=person.context()) as hook:
            return hook(*args, **kwargs)
    return call


def write_everything(rpc, person, patient_id, marker, note_id=None):
    """Draft, revise, sign, addendum, lint, read back as ``person`` (the author): every path that
    carries text. ``rpc`` is a container (called through its entrypoint hook) or
    ``(name, *args, **kwargs) -> reply`` (carrying ``person``'s assertion)."""
    rpc = hooked(rpc, person) if not callable(rpc) else rpc
    notes_key = rpc("transport_public_key")
    seal = lambda text: transport.seal_for(notes_key, text)  # noqa: E731
    text = f"She spoke about the lake house. {marker}. Pt reports low mood, poor sleep and anhedonia."
    note_id = rpc("write_psychotherapy_note", {
        "note_id": note_id or str(uuid.uuid4()), "patient_id": patient_id,
        "session_date": "2026-05-01", "sealed_text": seal(text)})["note_id"]
    rpc("revise_note", note_id, sealed_text=seal(f"{text} Revised {marker}. PHQ-9 score 14."))
    rpc("sign_note", note_id)
    rpc("add_addendum", note_id, sealed_text=seal(f"Addendum {marker}"))
    rpc("lint_text", seal(f"lint {marker}"))
    reply = rpc("read_note", note_id, "treatment", reply_public_key=READER_PUB)
    assert marker not in json.dumps(reply)  # sealed on the way out
    note = opened(reply)["note"]
    assert marker in note["text"] and marker in note["addenda"][0]["text"]  # the text exists, sealed
    return note_id


def test_database_dump_holds_no_psychotherapy_text(notes_container, patient_id, marker, clinician):
    note_id = write_everything(notes_container, clinician, patient_id, marker)
    admin = config.with_dbname(config.admin_dsn(), TEST_DB)
    dump = subprocess.run(["pg_dump", "--dbname", admin, "--data-only"], check=True, capture_output=True,
                          text=True, timeout=300).stdout
    assert f"psychotherapyNote-{note_id}" in dump  # the note's events are in the dump
    assert marker not in dump
    assert "lake house" not in dump


def test_logs_hold_no_psychotherapy_text(notes_container, patient_id, marker, caplog, clinician):
    caplog.set_level(logging.DEBUG)
    note_id = write_everything(notes_container, clinician, patient_id, marker)
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert f"psychotherapyNote-{note_id}" in logged  # logs carry stream names
    assert marker not in logged and "lake house" not in logged


def test_broker_messages_hold_no_psychotherapy_text(container_factory, service_config, scratch_schema,
                                                    test_db_dsn, marker):
    from confide.eventstore.store import PostgresEventStore

    # A scratch schema holds only this test's events; the relay publishes all of them. Its directory
    # (the identity gate reads it there) holds this test's clinician and patient.
    store = PostgresEventStore(test_db_dsn, schema=scratch_schema, pool_size=2)
    relaying = PostgresEventStore(service_config["PROJECTOR_DSN"], schema=scratch_schema, pool_size=1)
    people = Identities(store, service_config["KEY_DIR"])
    clinician, patient_id = people.member(unique("C-A"), "clinician"), people.patient(unique("P")).subject
    container = container_factory(NotesService, {**service_config, "DB_SCHEMA": scratch_schema})
    container.start()
    note_id = write_everything(container, clinician, patient_id, marker)
    amqp_uri = service_config["AMQP_URI"]
    inspect = Queue("notes.test.inspect", exchange=EVENTS_EXCHANGE, routing_key="#", durable=False)
    with Connection(amqp_uri) as conn:
        inspect(conn.channel()).declare()
    publisher = ConfirmingPublisher(amqp_uri)
    psych_stream = f"psychotherapyNote-{note_id}"
    want = len(store.read_stream(psych_stream))  # read_stream is not held back by the visibility frontier
    bodies, relayed = [], 0
    try:
        # The relay only sees events below the database-wide xmin frontier, which other
        # sessions' open transactions can hold back for a moment: relay until ours are out.
        deadline = time.time() + 30
        while time.time() < deadline:
            relayed += OutboxRelay(relaying, publisher).relay()  # as the audit service's own login
            bodies += drain(amqp_uri, inspect, 10**6, timeout=0.5)
            if sum(b["stream_name"] == psych_stream for b in bodies) >= want:
                break
    finally:
        publisher.close()
        relaying.close()
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


# -- RabbitMQ: every RPC request and reply body, and the node's data directory ---------------

def rabbit_data_dir() -> Path:
    """The node's data directory (``rabbit_mnesia:dir()``), else the packaged default."""
    try:
        out = subprocess.run(["rabbitmqctl", "eval", "rabbit_mnesia:dir()."], capture_output=True, text=True,
                             timeout=60).stdout.strip().strip('"')
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    path = Path(out) if out and Path(out).is_dir() else Path("/var/lib/rabbitmq/mnesia")
    assert path.is_dir(), f"RabbitMQ data directory {path} not found"
    return path


def files_holding(root: Path, needles: list[bytes]) -> dict[bytes, list[str]]:
    """``{needle: [paths]}`` of the files under ``root`` that hold each needle (every file read)."""
    found: dict[bytes, list[str]] = {n: [] for n in needles}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:  # a segment rolled over while we walked
                continue
            for n in needles:
                if n in data:
                    found[n].append(path)
    return found


def drain_raw(amqp_uri, queue, timeout=5):
    """(routing key, raw body bytes) of every message on ``queue``, until it stays empty."""
    out = []
    with Connection(amqp_uri) as conn:
        simple = conn.SimpleQueue(queue)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                msg = simple.get(timeout=0.5)
            except simple.Empty:
                if out:
                    break
                continue
            out.append((msg.delivery_info["routing_key"], bytes(msg.body if isinstance(msg.body, bytes)
                                                                 else str(msg.body).encode())))
            msg.ack()
        simple.close()
    return out


def test_rpc_request_and_reply_bodies_and_the_broker_disk_hold_no_psychotherapy_text(
        notes_container, service_config, patient_id, marker, clinician):
    amqp_uri = service_config["AMQP_URI"]
    # Bound with "#" to the RPC exchange: every request (routing key notes.<method>) and every reply
    # (nameko publishes replies to the same exchange, routing key = the caller's reply_to).
    # Durable, and nameko publishes persistently: the bodies go to RabbitMQ's disk while queued here.
    tap = Queue(f"notes.test.rpc-tap-{uuid.uuid4().hex[:8]}", exchange=get_rpc_exchange(service_config),
                routing_key="#", durable=True)
    with Connection(amqp_uri) as conn:
        tap(conn.channel()).declare()
    note_id = str(uuid.uuid4())
    with ServiceRpcProxy("notes", service_config, context_data=clinician.context()) as notes:
        write_everything(lambda name, *a, **k: getattr(notes, name)(*a, **k), clinician, patient_id, marker,
                         note_id)

    # The broker's disk, while the tapped messages are still queued (persisted). Positive control:
    # the note id, which every request after the first carries in the clear.
    data_dir = rabbit_data_dir()
    needles = [marker.encode(), b"lake house", note_id.encode()]
    deadline = time.time() + 20
    on_disk = files_holding(data_dir, needles)
    while not on_disk[note_id.encode()] and time.time() < deadline:
        time.sleep(0.5)
        on_disk = files_holding(data_dir, needles)
    assert on_disk[note_id.encode()], f"positive control: note id not found under {data_dir}"
    assert on_disk[marker.encode()] == [] and on_disk[b"lake house"] == []

    messages = drain_raw(amqp_uri, tap.name)
    requests = [(k, b) for k, b in messages if k.startswith("notes.")]
    replies = [(k, b) for k, b in messages if not k.startswith("notes.")]
    assert {k for k, _ in requests} >= {"notes.write_psychotherapy_note", "notes.revise_note",
                                        "notes.add_addendum", "notes.lint_text", "notes.read_note"}
    assert len(replies) == len(requests)  # every reply tapped too
    assert any(b"sealed_text" in b for _, b in requests)  # the text was there, sealed
    assert any(b'"sealed"' in b and note_id.encode() in b for _, b in replies)
    for _, body in messages:
        assert marker.encode() not in body and b"lake house" not in body
        assert b"PHQ-9 score 14" not in body

"""Work always finishes (issue 12, item 2): requests a fault left between states, arranged on a scratch
schema by running the disclosures service's own handlers against a store (or a notes service) that
fails part-way, are carried by the service's process manager, once started, to released, refused or
on hold, or to their resting state: decided with the AccessDecided on file, the release waiting for the
requester's own call (content goes only to whom the decision was made for, never to the service)."""
import dataclasses
import importlib.util
import pathlib
import uuid

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container

from confide import streams
from confide.eventstore.store import PostgresEventStore
from confide.keys import ensure_decision_key
from confide.testing.crash import DiesAtEvent
from confide.testing.identities import Identities, sealed_disclosures
from confide.testing.polling import wait_for
from confide.timestamps import format_ts, now_utc
from disclosures import handlers
from disclosures.domain import commands
from disclosures.service import DisclosuresService
from notes.service import NotesService

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest_pm",
                                               pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)

DEADLINE = 30  # seconds: the process manager ticks every 0.5 s here, taking over requests still for 0


class Fault(Exception):
    """The crash: nothing after it happens."""


def FailingAt(store, nth):  # noqa: N802 - reads as the wrapper it returns
    """``store`` written one event per transaction, whose ``nth`` event (1-based) fails before it is
    written: the records a version that appended each event on its own (DisclosureRequested, then
    DisclosureDecided, then AccessDecided) left after a crash between them, which recovery must still
    finish. (The service now records them in one multi-stream append: see the test after this one.)"""
    return DiesAtEvent(store, nth, Fault)


class NotesDown:
    """The notes service unreachable when content is to be fetched."""

    def release_fields(self, *args, **kwargs):
        raise Fault("notes service unreachable")

    def __getattr__(self, name):
        raise Fault("notes service unreachable")


@pytest.fixture
def world(service_config, scratch_schema, test_db_dsn):
    raw = PostgresEventStore(test_db_dsn, schema=scratch_schema)
    people = Identities(raw, service_config["KEY_DIR"])
    ensure_decision_key(service_config["KEY_DIR"])  # the key every service of the practice seals decisions with
    cfg = {**service_config, "DB_SCHEMA": scratch_schema, "DISCLOSURES_RESUME_INTERVAL": 0.5,
           "DISCLOSURES_RESUME_AFTER": 0}
    yield raw, people, cfg, sealed_disclosures(raw, service_config["KEY_DIR"])
    raw.close()


def payer_request(org, patient, note_kind="progress", **kw):
    requester = {"id": org, "role": "insurer_health_plan", "org": org, "identity_verified": True,
                 "is_workforce": False}
    received_from = {"subject": org, "session_id": None, "amr": ["swk"], "auth_time": format_ts(now_utc()),
                     "acting_service": "gateway"}
    return commands.RequestDisclosure(requester=requester, patient_id=patient, purpose="payment",
                                      note_kind=note_kind, received_from=received_from,
                                      request_id=str(uuid.uuid4()), **kw), received_from


def half_done(store, key_dir, cmd, decided_for, fail_at=None, notes=None):
    """Run the disclosures service's own handler, as it would have, until the fault → the request id."""
    where = FailingAt(store, fail_at) if fail_at else store
    with pytest.raises(Fault):
        handlers.request_disclosure(cmd, where, now_utc, notes or NotesDown(), key_dir=key_dir,
                                    decided_for=decided_for)
    return cmd.request_id


def types(raw, request_id):
    return [e.type for e in raw.read_stream(streams.stream_name(streams.DISCLOSURE_REQUEST, request_id))]


def access_decided(raw, decision_id):
    return [e.type for e in raw.read_stream(streams.stream_name(streams.ACCESS_DECISION, decision_id))]


def test_half_done_requests_reach_a_final_or_resting_state_once(world, container_factory, runner_factory):
    raw, people, cfg, store = world
    key_dir = cfg["KEY_DIR"]
    org = f"Plan-{uuid.uuid4().hex[:8]}"
    payer = people.payer(org)
    staff = people.member(f"ROI-{uuid.uuid4().hex[:8]}", "release_of_information")
    clinician = people.member(f"C-{uuid.uuid4().hex[:8]}", "clinician", credentials="PsyD")
    with_notes = people.patient(f"P-{uuid.uuid4().hex[:10]}").subject
    without_notes = people.patient(f"P-{uuid.uuid4().hex[:10]}").subject

    notes_runner = runner_factory(cfg, NotesService)
    notes_runner.start()
    with ServiceRpcProxy("notes", cfg, context_data=clinician.context()) as notes:
        notes.write_progress_note(cf.progress_note(with_notes))

    # Only DisclosureRequested (the service died before deciding): a payer's progress notes ...
    cmd, who = payer_request(org, with_notes)
    only_requested = half_done(store, key_dir, cmd, who, fail_at=2)
    # ... its psychotherapy notes without an authorization (to be refused) ...
    cmd, who = payer_request(org, with_notes, note_kind="psychotherapy")
    only_requested_denied = half_done(store, key_dir, cmd, who, fail_at=2)
    # ... an outside party's request staff recorded (to be held for verification, 164.514(h)).
    external = {"id": "Smith & Jones LLP", "role": "attorney", "org": "Smith & Jones LLP"}
    staff_identity = {"subject": staff.subject, "session_id": "s-1", "amr": ["pwd", "otp"],
                      "auth_time": format_ts(now_utc()), "acting_service": "web"}
    cmd = commands.RequestDisclosure(requester=external, recorded_by=staff.subject, patient_id=with_notes,
                                     purpose="payment", note_kind="progress", received_from=staff_identity,
                                     request_id=str(uuid.uuid4()))
    only_requested_external = half_done(store, key_dir, cmd, staff_identity, fail_at=2)
    # DisclosureDecided without its AccessDecided (a permit for no notes: nothing leaves).
    cmd, who = payer_request(org, without_notes)
    decided_no_access = half_done(store, key_dir, cmd, who, fail_at=3)
    # Decided, AccessDecided on file, the notes service down at the release (a permit for notes).
    cmd, who = payer_request(org, with_notes)
    decided_notes_down = half_done(store, key_dir, cmd, who)

    assert types(raw, only_requested) == ["DisclosureRequested"]
    assert types(raw, decided_no_access) == ["DisclosureRequested", "DisclosureDecided"]
    assert types(raw, decided_notes_down) == ["DisclosureRequested", "DisclosureDecided"]

    # Two instances of the service, both carrying on the same requests: each is finished once.
    runner = runner_factory(cfg, DisclosuresService)
    runner.start()
    container_factory(DisclosuresService, cfg).start()

    def status(request_id):
        return handlers.load_request(store, request_id)

    def settled():
        states = {rid: status(rid) for rid in (only_requested, only_requested_denied, only_requested_external,
                                                decided_no_access, decided_notes_down)}
        done = (states[only_requested].status == "decided"
                and access_decided(raw, states[only_requested].decision["decision_id"])
                and states[only_requested_denied].status == "refused"
                and states[only_requested_external].status == "on_hold"
                and states[decided_no_access].status == "released"
                and states[decided_notes_down].status == "decided"
                and access_decided(raw, states[decided_notes_down].decision["decision_id"]))
        return states if done else None

    states = wait_for(settled, timeout=DEADLINE)
    # The process manager decided for the identity the request was made under, and says it did.
    decided_for = states[only_requested].decision["decided_for"]
    assert decided_for["subject"] == org and decided_for["resumed_by"] == "disclosures"
    assert states[decided_no_access].release["note_ids"] == []

    # Resting requests stay as they are over further ticks (no second decision, nothing released).
    with entrypoint_waiter(get_container(runner, DisclosuresService), "resume_unfinished", timeout=DEADLINE):
        pass
    with entrypoint_waiter(get_container(runner, DisclosuresService), "resume_unfinished", timeout=DEADLINE):
        pass
    for request_id in states:
        events = types(raw, request_id)
        assert events.count("DisclosureRequested") == 1 and events.count("DisclosureDecided") <= 1
        assert events.count("DisclosureReleased") + events.count("DisclosureRefused") <= 1
        assert events.count("DisclosurePlacedOnHold") <= 1
    for request_id in (only_requested, decided_notes_down, decided_no_access, only_requested_denied):
        assert access_decided(raw, status(request_id).decision["decision_id"]) == ["AccessDecided"]
    assert status(only_requested).status == "decided" and status(decided_notes_down).status == "decided"

    # The requester's own re-poll releases what was decided for it; the content comes to it.
    with ServiceRpcProxy("disclosures", cfg, context_data=payer.context(service="gateway")) as disclosures:
        for request_id in (only_requested, decided_notes_down):
            view = disclosures.resume_request(request_id)
            assert view["status"] == "released" and len(view["content"]["notes"]) == 1
    for request_id in (only_requested, decided_notes_down):
        assert types(raw, request_id).count("DisclosureReleased") == 1


def test_a_request_recorded_to_await_release_rests_decided(world, runner_factory):
    raw, people, cfg, store = world
    key_dir = cfg["KEY_DIR"]
    staff = people.member(f"ROI-{uuid.uuid4().hex[:8]}", "release_of_information")
    patient = people.patient(f"P-{uuid.uuid4().hex[:10]}").subject
    staff_identity = {"subject": staff.subject, "session_id": "s-2", "amr": ["pwd", "otp"],
                      "auth_time": format_ts(now_utc()), "acting_service": "web"}
    cmd, _ = payer_request(f"Plan-{uuid.uuid4().hex[:8]}", patient)
    cmd = dataclasses.replace(cmd, recorded_by=staff.subject, received_from=staff_identity, await_release=True)
    request_id = half_done(store, key_dir, cmd, staff_identity, fail_at=3)
    assert types(raw, request_id) == ["DisclosureRequested", "DisclosureDecided"]

    runner = runner_factory(cfg, DisclosuresService)
    runner.start()
    decision_id = handlers.load_request(store, request_id).decision["decision_id"]
    wait_for(lambda: access_decided(raw, decision_id), timeout=DEADLINE)
    for _ in range(2):
        with entrypoint_waiter(get_container(runner, DisclosuresService), "resume_unfinished", timeout=DEADLINE):
            pass
    assert types(raw, request_id) == ["DisclosureRequested", "DisclosureDecided"]
    assert handlers.load_request(store, request_id).status == "decided"


def test_a_request_its_decision_and_access_decision_are_one_transaction(world, test_db_dsn):
    """The service records a new request, its decision and the decision's AccessDecided in one
    multi-stream append (one transaction, one commit: a crash leaves all of them or none), and the
    release in a second."""
    import psycopg
    from psycopg import sql

    raw, people, cfg, store = world
    org = f"Plan-{uuid.uuid4().hex[:8]}"
    people.payer(org)
    patient = people.patient(f"P-{uuid.uuid4().hex[:10]}").subject  # no notes: a permit releases nothing
    cmd, who = payer_request(org, patient)
    view = handlers.request_disclosure(cmd, store, now_utc, NotesDown(), key_dir=cfg["KEY_DIR"], decided_for=who)
    assert view["status"] == "released"
    names = [streams.stream_name(streams.DISCLOSURE_REQUEST, view["request_id"]),
             streams.stream_name(streams.ACCESS_DECISION, view["decision"]["decision_id"])]
    with psycopg.connect(test_db_dsn) as conn:
        rows = conn.execute(sql.SQL("SELECT type, xmin::text FROM {}.events WHERE stream_name = ANY(%s) "
                                    "ORDER BY global_position").format(sql.Identifier(raw.schema)),
                            (names,)).fetchall()
    assert [t for t, _ in rows] == ["DisclosureRequested", "DisclosureDecided", "AccessDecided", "DisclosureReleased"]
    assert len({xid for _, xid in rows[:3]}) == 1 and rows[3][1] != rows[0][1]

"""NotesService over nameko, PostgreSQL and RabbitMQ: lifecycle, decided reads, fail-closed."""
import json
import uuid

import pytest
from nameko.testing.services import entrypoint_hook, replace_dependencies

from confide.eventstore.errors import EventStoreUnavailableError
from confide.testing.polling import wait_for
from notes.domain import errors
from notes.service import NotesService

from .conftest import READER_PUB, author, opened, progress_content, seal_to

AUTHOR = {"id": "C-A", "role": "originator_clinician", "org": "Northside"}
OTHER = {"id": "C-B", "role": "clinician_same_practice", "org": "Northside"}


def call(container, name, *args, **kwargs):
    with entrypoint_hook(container, name) as hook:
        reply = hook(*args, **kwargs)
    json.dumps(reply)  # replies are JSON-safe as kombu will send them
    return reply


def decision(pg_store, decision_id):
    [ev] = pg_store.read_stream(f"accessDecision-{decision_id}")
    return ev


def decisions_about(pg_store, note_id, since, timeout=15.0):
    """AccessDecided events about a note recorded after global position ``since`` (polled with a deadline)."""
    return wait_for(lambda: [e for e in pg_store.read_category("accessDecision", since, 100000)
                             if e.data.get("note_id") == note_id], timeout=timeout, interval=0.05)


def wait_visible(pg_store, patient_id, note_ids, timeout=15.0):
    """Category reads stop at the database-wide commit frontier; wait (with a deadline) until ours pass it."""
    from notes.views import note_ids_of_patient

    try:
        wait_for(lambda: set(note_ids_of_patient(pg_store, patient_id)) == set(note_ids),
                 timeout=timeout, interval=0.05)
    except AssertionError as exc:
        raise AssertionError("notes never became visible to category readers") from exc


def psych_note(container, patient_id, text):
    return call(container, "write_psychotherapy_note", {
        "patient_id": patient_id, "author": author(), "session_date": "2026-05-01",
        "sealed_text": seal_to(container, text)})


def test_author_reads_her_psychotherapy_note_permitted_and_recorded(notes_container, pg_store, patient_id, marker):
    text = f"She spoke about the lake house. {marker}"
    note_id = psych_note(notes_container, patient_id, text)["note_id"]
    reply = call(notes_container, "read_note", note_id, AUTHOR, "treatment", reply_public_key=READER_PUB)
    assert marker not in json.dumps(reply)  # sealed on the wire
    assert opened(reply)["note"]["text"] == text
    recorded = decision(pg_store, reply["decision"]["decision_id"])
    assert recorded.type == "AccessDecided" and recorded.stream_version == 0
    assert recorded.data["decision"] == "permit" and recorded.data["originator_id"] == "C-A"
    assert recorded.data["note_kind"] == "psychotherapy" and marker not in recorded.data_json


def test_another_clinician_is_denied_and_the_denial_recorded(notes_container, pg_store, patient_id, marker):
    note_id = psych_note(notes_container, patient_id, f"She spoke about the lake house. {marker}")["note_id"]
    with pytest.raises(errors.AccessDeniedError) as info:
        call(notes_container, "read_note", note_id, {**OTHER, "is_originator": True}, "treatment")
    recorded = decision(pg_store, info.value.decision_id)
    assert recorded.data["decision"] == "deny" and recorded.data["requester"]["id"] == "C-B"
    assert recorded.data["note_id"] == note_id and marker not in str(info.value)


class FailingDecisions:
    """The real store, except that access decisions cannot be recorded."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def append(self, stream_name, events, expected_version=None):
        if stream_name.startswith("accessDecision-"):
            raise EventStoreUnavailableError("simulated outage")
        return self._store.append(stream_name, events, expected_version)


def test_fail_closed_when_the_decision_cannot_be_recorded(container_factory, service_config, pg_store,
                                                          patient_id, marker):
    container = container_factory(NotesService, service_config)
    replace_dependencies(container, store=FailingDecisions(pg_store))
    container.start()
    note_id = psych_note(container, patient_id, f"text {marker}")["note_id"]
    with pytest.raises(EventStoreUnavailableError):
        call(container, "read_note", note_id, AUTHOR, "treatment")
    wait_visible(pg_store, patient_id, [note_id])
    with pytest.raises(EventStoreUnavailableError):
        call(container, "list_notes", patient_id, AUTHOR, "treatment")


def test_progress_note_lifecycle(notes_container, pg_store, patient_id):
    reply = call(notes_container, "write_progress_note", {
        "patient_id": patient_id, "author": author("T-1", "trainee"), "supervisor_id": "S-1",
        "content": progress_content(session_date="2026-04-01")})
    note_id = reply["note_id"]
    assert reply["events"][1] == "LateEntryFlagged" or reply["events"] == ["ProgressNoteDrafted"]
    call(notes_container, "revise_note", note_id, "T-1", content=progress_content(cpt_code="90834"))
    call(notes_container, "sign_note", note_id, "T-1")
    with pytest.raises(errors.NoteSignedError, match="signed and locked"):
        call(notes_container, "revise_note", note_id, "T-1", content=progress_content())
    call(notes_container, "cosign_note", note_id, "S-1")
    call(notes_container, "add_addendum", note_id, "T-1", "called PCP")
    amendment = call(notes_container, "request_amendment", note_id, patient_id, "employer", "changed jobs")
    call(notes_container, "deny_amendment", note_id, amendment["amendment_id"], "S-1",
         "not_created_by_covered_entity", "The employer history came from another provider.")
    call(notes_container, "append_disagreement", note_id, amendment["amendment_id"], "I disagree.")
    note = call(notes_container, "read_note", note_id, OTHER, "treatment", presentation="soap")["note"]
    assert note["content"]["objective"]["cpt_code"] == "90834"
    assert note["status"] == "signed" and note["addenda"][0]["text"] == "called PCP"
    assert note["amendments"][0]["citation"] == "45 CFR 164.526(a)(2)(i)"
    types = [e.type for e in pg_store.read_stream(f"progressNote-{note_id}")]
    assert types[0] == "ProgressNoteDrafted" and types[-1] == "DisagreementStatementAppended"
    assert "ProgressNoteRevised" in types and "ProgressNoteCosigned" in types


def test_psychotherapy_note_not_subject_to_amendment(notes_container, patient_id, marker):
    note_id = psych_note(notes_container, patient_id, f"x {marker}")["note_id"]
    call(notes_container, "sign_note", note_id, "C-A")
    with pytest.raises(errors.AmendmentNotApplicableError, match=r"164\.526"):
        call(notes_container, "request_amendment", note_id, patient_id, "x", "y")


def test_bad_input_names_the_field_and_writes_nothing(notes_container, pg_store, patient_id):
    note_id = str(uuid.uuid4())
    with pytest.raises(errors.ValidationError, match="content.diagnosis_codes.0"):
        call(notes_container, "write_progress_note", {
            "note_id": note_id, "patient_id": patient_id, "author": author(),
            "content": progress_content(diagnosis_codes=["sad"])})
    assert pg_store.read_stream(f"progressNote-{note_id}") == []


def test_lint_and_findings_reply(notes_container, patient_id):
    text = "Pt reports low mood, poor sleep and anhedonia. PHQ-9 score 14."
    linted = call(notes_container, "lint_text", seal_to(notes_container, text))
    assert {f["category"] for f in linted["findings"]} == {"summary_symptoms", "clinical_test_results"}
    written = psych_note(notes_container, patient_id, text)
    assert written["findings"] == linted["findings"]
    assert all("low mood" not in json.dumps(f) for f in written["findings"])


def test_list_export_and_release(notes_container, pg_store, patient_id, marker):
    since = pg_store.head_position()
    progress = call(notes_container, "write_progress_note", {
        "patient_id": patient_id, "author": author(), "content": progress_content()})["note_id"]
    call(notes_container, "sign_note", progress, "C-A")
    psych = psych_note(notes_container, patient_id, f"lake house {marker}")["note_id"]
    wait_visible(pg_store, patient_id, [progress, psych])
    listed = call(notes_container, "list_notes", patient_id, OTHER, "treatment")
    assert [n["note_id"] for n in listed["notes"]] == [progress] and listed["withheld"] == 1
    recorded = [pg_store.read_stream(f"accessDecision-{n['decision_id']}")[0] for n in listed["notes"]]
    assert [d.data["note_id"] for d in recorded] == [progress]
    assert [d.data["decision"] for d in decisions_about(pg_store, psych, since)] == ["deny"]  # omitted, recorded

    request = call(notes_container, "request_record_access", patient_id, patient_id)
    call(notes_container, "extend_record_access", request["request_id"], "records archived off site")
    export = call(notes_container, "export_designated_record_set", request["request_id"],
                  {"id": patient_id, "role": "patient", "org": "self"})
    assert [n["note_id"] for n in export["notes"]] == [progress] and marker not in json.dumps(export)

    read = call(notes_container, "read_note", progress, OTHER, "treatment")
    released = call(notes_container, "release_fields", read["decision"]["decision_id"], [progress])
    assert released["notes"][0]["fields"]["full_note"]["note_id"] == progress
    with pytest.raises(errors.AccessDeniedError):
        call(notes_container, "release_fields", read["decision"]["decision_id"], [psych])

"""Effects happen once (issue 12, item 3): the caller's request id is the idempotency key of a read, so
a redelivered, retried or concurrent ``read_note`` records one AccessDecided; a redelivered
``release_fields`` records one ContentReleased per decision and recipient."""
import uuid

import eventlet
import pytest

from notes.domain import errors
from notes.handlers import read_decision_id

from .conftest import call, progress_content, seal_to


def decided(pg_store, decision_id):
    return [e for e in pg_store.read_stream(f"accessDecision-{decision_id}") if e.type == "AccessDecided"]


def released(pg_store, decision_id):
    return [e for e in pg_store.read_stream(f"accessDecision-{decision_id}") if e.type == "ContentReleased"]


@pytest.fixture
def note_id(notes_container, clinician, patient_id, marker):
    return call(notes_container, clinician, "write_progress_note", {
        "patient_id": patient_id, "content": progress_content(symptoms=marker)})["note_id"]


def test_a_retried_read_returns_the_recorded_decision(notes_container, pg_store, clinician, note_id, marker):
    request_id = str(uuid.uuid4())
    first = call(notes_container, clinician, "read_note", note_id, "treatment", request_id=request_id)
    again = call(notes_container, clinician, "read_note", note_id, "treatment", request_id=request_id)
    assert first["decision"]["decision_id"] == again["decision"]["decision_id"] == read_decision_id(request_id)
    assert again["note"] == first["note"] and first["note"]["content"]["symptoms"] == marker
    [only] = decided(pg_store, first["decision"]["decision_id"])
    assert only.data["request_id"] == request_id


def test_concurrent_reads_with_one_request_id_decide_once(notes_container, pg_store, clinician, note_id):
    request_id = str(uuid.uuid4())
    threads = [eventlet.spawn(call, notes_container, clinician, "read_note", note_id, "treatment",
                              request_id=request_id) for _ in range(6)]
    replies = [t.wait() for t in threads]
    assert {r["decision"]["decision_id"] for r in replies} == {read_decision_id(request_id)}
    assert len(decided(pg_store, read_decision_id(request_id))) == 1


def test_a_denied_read_retried_stays_one_denial(notes_container, pg_store, clinician, other_clinician, patient_id,
                                                marker):
    psych = call(notes_container, clinician, "write_psychotherapy_note", {
        "patient_id": patient_id, "session_date": "2026-05-01",
        "sealed_text": seal_to(notes_container, f"session {marker}")})["note_id"]
    request_id = str(uuid.uuid4())
    for _ in range(2):
        with pytest.raises(errors.AccessDeniedError) as info:
            call(notes_container, other_clinician, "read_note", psych, "treatment", request_id=request_id)
        assert info.value.decision_id == read_decision_id(request_id) and marker not in str(info.value)
    assert len(decided(pg_store, read_decision_id(request_id))) == 1


def test_the_same_request_id_from_another_principal_or_note_is_refused(notes_container, pg_store, clinician,
                                                                       other_clinician, patient_id, note_id, marker):
    request_id = str(uuid.uuid4())
    call(notes_container, clinician, "read_note", note_id, "treatment", request_id=request_id)
    with pytest.raises(errors.RequestIdConflictError, match="another principal") as info:
        call(notes_container, other_clinician, "read_note", note_id, "treatment", request_id=request_id)
    assert marker not in str(info.value)
    other_note = call(notes_container, clinician, "write_progress_note", {
        "patient_id": patient_id, "content": progress_content()})["note_id"]
    with pytest.raises(errors.RequestIdConflictError, match="use a new request id"):
        call(notes_container, clinician, "read_note", other_note, "treatment", request_id=request_id)
    [only] = decided(pg_store, read_decision_id(request_id))
    assert only.data["decided_for"]["subject"] == clinician.subject


def test_a_redelivered_release_records_one_content_released(notes_container, pg_store, clinician, other_clinician,
                                                            note_id, marker):
    decision_id = call(notes_container, other_clinician, "read_note", note_id, "treatment")["decision"]["decision_id"]
    first = call(notes_container, other_clinician, "release_fields", decision_id, [note_id], via="disclosures")
    again = call(notes_container, other_clinician, "release_fields", decision_id, [note_id], via="disclosures")
    assert again == first and first["notes"][0]["fields"]["full_note"]["content"]["symptoms"] == marker
    [once] = released(pg_store, decision_id)
    assert once.data["released_to"] == other_clinician.subject and once.data["note_ids"] == [note_id]


def test_concurrent_releases_record_one_content_released(notes_container, pg_store, other_clinician, note_id):
    decision_id = call(notes_container, other_clinician, "read_note", note_id, "treatment")["decision"]["decision_id"]
    threads = [eventlet.spawn(call, notes_container, other_clinician, "release_fields", decision_id, [note_id],
                              via="disclosures") for _ in range(5)]
    [t.wait() for t in threads]
    assert len(released(pg_store, decision_id)) == 1

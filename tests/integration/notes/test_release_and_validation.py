"""NotesService over nameko and PostgreSQL: sealed decisions for release_fields, and strict input."""
import uuid

import pytest

from confide.envelope import NewEvent
from confide.identity.errors import NotAuthorizedError
from confide.keys import seal_decision
from notes.domain import errors

from .conftest import call, progress_content, seal_to, unique


def stream_types(pg_store, decision_id):
    return [e.type for e in pg_store.read_stream(f"accessDecision-{decision_id}")]


def append_decision(pg_store, patient_id, note_id, key_dir=None, requester="x", **overrides):
    decision_id = str(uuid.uuid4())
    data = {"decision_id": decision_id, "requester": {"id": requester, "role": "insurer_health_plan", "org": requester},
            "purpose": "payment", "action": "disclose", "patient_id": patient_id, "note_id": note_id,
            "note_kind": "progress", "originator_id": "C-A", "decision": "permit", "rule": "r", "citations": [],
            "fields_released": ["full_note"], "decided_at": "2030-01-01T00:00:00Z", "request_id": None,
            **overrides}
    if key_dir is not None:
        data["seal"] = seal_decision(key_dir, data)
    pg_store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", data)], expected_version=-1)
    return decision_id


def test_forged_decision_refused_and_a_sealed_one_honoured(notes_container, service_config, pg_store, patient_id,
                                                           marker, people, clinician):
    payer = people.payer(unique("PAYER"))
    note_id = call(notes_container, clinician, "write_progress_note", {
        "patient_id": patient_id, "content": progress_content(symptoms=marker)})["note_id"]
    forged = append_decision(pg_store, patient_id, note_id, requester=payer.subject)  # no decision key
    with pytest.raises(errors.AccessDeniedError, match="seal missing or wrong") as info:
        call(notes_container, payer, "release_fields", forged, [note_id], via="disclosures")
    assert marker not in str(info.value) and stream_types(pg_store, forged) == ["AccessDecided"]

    sealed = append_decision(pg_store, patient_id, note_id, service_config["KEY_DIR"], requester=payer.subject)
    with pytest.raises(NotAuthorizedError, match="not made for"):  # another payer, though through disclosures
        call(notes_container, people.payer(unique("PAYER")), "release_fields", sealed, [note_id], via="disclosures")
    assert stream_types(pg_store, sealed) == ["AccessDecided"]
    reply = call(notes_container, payer, "release_fields", sealed, [note_id], via="disclosures")
    assert reply["notes"][0]["fields"]["full_note"]["content"]["symptoms"] == marker
    assert stream_types(pg_store, sealed) == ["AccessDecided", "ContentReleased"]


def test_read_decision_released_once_named_only(notes_container, pg_store, patient_id, clinician, other_clinician):
    first = call(notes_container, clinician, "write_progress_note", {
        "patient_id": patient_id, "content": progress_content()})["note_id"]
    second = call(notes_container, clinician, "write_progress_note", {
        "patient_id": patient_id, "content": progress_content()})["note_id"]
    decision_id = call(notes_container, other_clinician, "read_note", first, "treatment")["decision"]["decision_id"]
    with pytest.raises(errors.AccessDeniedError, match=f"does not name note {second}"):
        call(notes_container, other_clinician, "release_fields", decision_id, [second], via="disclosures")
    assert stream_types(pg_store, decision_id) == ["AccessDecided"]
    call(notes_container, other_clinician, "release_fields", decision_id, [first], via="disclosures")
    [released] = pg_store.read_stream(f"accessDecision-{decision_id}")[1:]
    assert released.type == "ContentReleased" and released.data["note_ids"] == [first]
    assert released.data["fields_released"] == ["full_note"]


@pytest.mark.parametrize("content, field", [
    ({"clinical_tests": {"phq9": 5.5, "gad7": None}}, "content.clinical_tests.phq9"),
    ({"clinical_tests": {"phq9": "5", "gad7": None}}, "content.clinical_tests.phq9"),
    ({"medications": [{"name": f"drug {i}"} for i in range(51)]}, "content.medications"),
    ({"start_time": "14:00+00:00", "stop_time": "14:50+02:00"}, "content.stop_time"),
    ({"start_time": "14:00", "stop_time": "14:50+00:00"}, "content.stop_time"),
    ({"symptoms": "low mood \ud800"}, "content.symptoms"),
    ({"medications": [{"name": "sertraline\udc00"}]}, "content.medications.0.name"),
])
def test_bad_progress_content_is_a_validation_error_and_writes_nothing(notes_container, pg_store, patient_id,
                                                                        clinician, content, field):
    with pytest.raises(errors.ValidationError) as info:
        call(notes_container, clinician, "write_progress_note", {"patient_id": patient_id,
                                                                 "content": progress_content(**content)})
    assert str(info.value).startswith(f"{field}:")
    assert pg_store.find_streams_by_patient(patient_id, "ProgressNoteDrafted") == []


def test_lone_surrogates_in_psychotherapy_text_are_a_validation_error(notes_container, pg_store, patient_id,
                                                                     clinician):
    with pytest.raises(errors.ValidationError, match="^text: .*surrogate"):
        call(notes_container, clinician, "write_psychotherapy_note", {
            "patient_id": patient_id, "session_date": "2026-05-01", "text": "ok \ud800 then"})
    with pytest.raises(errors.ValidationError, match="^sealed_text: .*surrogate"):
        call(notes_container, clinician, "lint_text", "\udfff")
    with pytest.raises(errors.ValidationError, match="^sealed_text: must not contain NUL"):  # checked once opened
        call(notes_container, clinician, "write_psychotherapy_note", {
            "patient_id": patient_id, "session_date": "2026-05-01",
            "sealed_text": seal_to(notes_container, "ok \x00 then")})
    assert pg_store.find_streams_by_patient(patient_id, "PsychotherapyNoteDrafted") == []

"""What the privacy officer works from: amendment requests with their 164.526(b)(2) deadlines, and the
emergency ("break-the-glass") access queue, against a real NotesService on RabbitMQ and PostgreSQL."""
from datetime import timedelta

import pytest

from confide.identity.errors import NotAuthorizedError
from confide.timestamps import parse_ts
from notes.domain import errors

from .conftest import call, progress_content, seal_to, unique


def psych_note(container, person, patient_id, text):
    return call(container, person, "write_psychotherapy_note", {
        "patient_id": patient_id, "session_date": "2026-05-01", "sealed_text": seal_to(container, text)})


def signed_progress_note(container, clinician, patient_id):
    note_id = call(container, clinician, "write_progress_note",
                   {"patient_id": patient_id, "content": progress_content()})["note_id"]
    call(container, clinician, "sign_note", note_id)
    return note_id


def test_amendment_requests_list_deadlines_and_one_extension(notes_container, people, patient_id, clinician):
    note_id = signed_progress_note(notes_container, clinician, patient_id)
    patient = people.patient(patient_id)
    officer = people.member(unique("PO"), "privacy_officer")
    first = call(notes_container, patient, "request_amendment", note_id, "my employer", "I changed jobs")
    second = call(notes_container, patient, "request_amendment", note_id, "my town", "I moved")

    listed = call(notes_container, officer, "amendment_requests")
    mine = {r["amendment_id"]: r for r in listed["amendments"] if r["note_id"] == note_id}
    assert set(mine) == {first["amendment_id"], second["amendment_id"]}
    row = mine[first["amendment_id"]]
    assert row["status"] == "requested" and row["patient_id"] == patient_id and row["author_id"] == clinician.subject
    assert parse_ts(row["due_at"]) - parse_ts(row["requested_at"]) == timedelta(days=60)
    assert row["overdue"] is False and row["due_soon"] is False and row["days_left"] in (59, 60)
    assert "requested_change" not in row and "reason" not in row  # metadata only: read_note shows them

    extended = call(notes_container, officer, "extend_amendment_deadline", note_id, first["amendment_id"],
                    "Waiting for the records of the previous provider; we will act by the new date.")
    assert parse_ts(extended["due_at"]) - parse_ts(row["requested_at"]) == timedelta(days=90)
    with pytest.raises(errors.AmendmentStateError, match="only one extension"):
        call(notes_container, officer, "extend_amendment_deadline", note_id, first["amendment_id"], "again")

    call(notes_container, officer, "deny_amendment", note_id, second["amendment_id"], "accurate_and_complete",
         "The record is accurate and complete.")
    open_ids = {r["amendment_id"] for r in call(notes_container, officer, "amendment_requests")["amendments"]}
    assert first["amendment_id"] in open_ids and second["amendment_id"] not in open_ids
    every = call(notes_container, officer, "amendment_requests", open_only=False)["amendments"]
    denied = next(r for r in every if r["amendment_id"] == second["amendment_id"])
    assert denied["status"] == "denied" and denied["ground"] == "accurate_and_complete"
    assert [r["status"] for r in every].index("denied") > [r["status"] for r in every].index("requested")

    one = call(notes_container, officer, "get_amendment_request", note_id, first["amendment_id"])
    assert one["patient_id"] == patient_id and "content" not in one
    amendment = one["amendment"]
    assert amendment["requested_change"] == "my employer" and amendment["reason"] == "I changed jobs"
    assert amendment["extended"] is True and amendment["extension_statement"].startswith("Waiting")
    assert amendment["due_at"] == extended["due_at"]
    with pytest.raises(NotAuthorizedError):
        call(notes_container, clinician, "get_amendment_request", note_id, first["amendment_id"])


def test_only_the_privacy_officer_lists_or_extends_amendments(notes_container, people, patient_id, clinician):
    note_id = signed_progress_note(notes_container, clinician, patient_id)
    amendment = call(notes_container, people.patient(patient_id), "request_amendment", note_id, "x", "y")
    for who in (clinician, people.patient(patient_id)):
        with pytest.raises(NotAuthorizedError):
            call(notes_container, who, "amendment_requests")
        with pytest.raises(NotAuthorizedError):
            call(notes_container, who, "extend_amendment_deadline", note_id, amendment["amendment_id"], "later")


def test_emergency_access_is_decided_queued_and_reviewed_once(notes_container, people, patient_id, clinician,
                                                              other_clinician, marker, pg_store):
    progress = signed_progress_note(notes_container, clinician, patient_id)
    psych = psych_note(notes_container, clinician, patient_id, f"session {marker}")["note_id"]
    officer = people.member(unique("PO"), "privacy_officer")

    reply = call(notes_container, other_clinician, "take_emergency_access", progress, "treatment",
                 "Patient in crisis at the front desk; her clinician is away.")
    assert reply["decision"]["decision"] == "permit" and reply["note"]["note_id"] == progress
    with pytest.raises(errors.AccessDeniedError):  # a denial stays a denial
        call(notes_container, other_clinician, "take_emergency_access", psych, "treatment",
             "I need the psychotherapy note too, urgently.")
    with pytest.raises(errors.ValidationError, match="reason"):
        call(notes_container, other_clinician, "take_emergency_access", progress, "treatment", "")
    with pytest.raises(errors.ValidationError, match="claim"):
        call(notes_container, other_clinician, "take_emergency_access", progress, "curiosity", "Just looking, really.")
    with pytest.raises(NotAuthorizedError):
        call(notes_container, other_clinician, "take_emergency_access", progress, "treatment",
             "Patient in crisis, clinician away.", requester={"id": clinician.subject})

    queue = call(notes_container, officer, "emergency_access_queue")["emergency_accesses"]
    mine = [r for r in queue if r["requester_id"] == other_clinician.subject]
    assert [(r["note_id"], r["decision"]) for r in mine] == [(progress, "permit"), (psych, "deny")]
    assert mine[0]["reason"].startswith("Patient in crisis") and mine[0]["claim"] == "treatment"
    assert mine[0]["rule"] and mine[1]["rule"].startswith("45 CFR 164.508(a)(2)")
    assert marker not in str(queue)

    with pytest.raises(NotAuthorizedError):
        call(notes_container, other_clinician, "emergency_access_queue")
    with pytest.raises(NotAuthorizedError):
        call(notes_container, other_clinician, "review_emergency_access", mine[0]["decision_id"], "appropriate", "ok")
    reviewed = call(notes_container, officer, "review_emergency_access", mine[0]["decision_id"], "appropriate",
                    "Confirmed with the on-call log.")
    assert reviewed["reviewed"] and reviewed["review"]["reviewed_by"] == officer.subject
    with pytest.raises(errors.EmergencyAccessStateError, match="already reviewed"):
        call(notes_container, officer, "review_emergency_access", mine[0]["decision_id"], "inappropriate", "again")
    still_open = {r["decision_id"] for r in call(notes_container, officer, "emergency_access_queue")["emergency_accesses"]}
    assert mine[0]["decision_id"] not in still_open and mine[1]["decision_id"] in still_open
    every = call(notes_container, officer, "emergency_access_queue", open_only=False)["emergency_accesses"]
    assert next(r for r in every if r["decision_id"] == mine[0]["decision_id"])["review"]["outcome"] == "appropriate"
    types = [e.type for e in pg_store.read_stream(f"emergencyAccess-{mine[0]['decision_id']}")]
    assert types == ["EmergencyAccessTaken", "EmergencyAccessReviewed"]


def test_an_officer_does_not_review_their_own_emergency_access(notes_container, people, patient_id, clinician):
    progress = signed_progress_note(notes_container, clinician, patient_id)
    both = people.member(unique("CPO"), "clinician", "privacy_officer")
    taken = call(notes_container, both, "take_emergency_access", progress, "treatment",
                 "Covering the on-call line tonight.")
    with pytest.raises(errors.EmergencyAccessStateError, match="must not be the person"):
        call(notes_container, both, "review_emergency_access", taken["emergency_access_id"], "appropriate", "fine")

"""NotesService over nameko, PostgreSQL and RabbitMQ: lifecycle, decided reads, fail-closed, and who
may ask (every call carries its principal's assertion)."""
import json
import uuid

import pytest
from nameko.exceptions import IncorrectSignature, RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import replace_dependencies

from confide.eventstore.errors import EventStoreUnavailableError
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
from confide.testing.identities import Identities
from confide.testing.polling import wait_for
from notes.domain import errors
from notes.service import NotesService

from .conftest import READER_PUB, call, opened, progress_content, seal_to, unique


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


def psych_note(container, person, patient_id, text):
    return call(container, person, "write_psychotherapy_note", {
        "patient_id": patient_id, "session_date": "2026-05-01", "sealed_text": seal_to(container, text)})


def test_author_reads_her_psychotherapy_note_permitted_and_recorded(notes_container, pg_store, patient_id, marker,
                                                                    clinician):
    text = f"She spoke about the lake house. {marker}"
    note_id = psych_note(notes_container, clinician, patient_id, text)["note_id"]
    session = clinician.in_session()
    reply = call(notes_container, session, "read_note", note_id, "treatment", reply_public_key=READER_PUB)
    assert marker not in json.dumps(reply)  # sealed on the wire
    assert opened(reply)["note"]["text"] == text
    recorded = decision(pg_store, reply["decision"]["decision_id"])
    assert recorded.type == "AccessDecided" and recorded.stream_version == 0
    assert recorded.data["decision"] == "permit" and recorded.data["originator_id"] == clinician.subject
    assert recorded.data["note_kind"] == "psychotherapy" and marker not in recorded.data_json
    assert recorded.data["decided_for"]["subject"] == clinician.subject
    assert recorded.data["decided_for"]["session_id"] == session.session_id


def test_another_clinician_is_denied_and_the_denial_recorded(notes_container, pg_store, patient_id, marker,
                                                             clinician, other_clinician):
    note_id = psych_note(notes_container, clinician, patient_id,
                         f"She spoke about the lake house. {marker}")["note_id"]
    with pytest.raises(errors.AccessDeniedError) as info:
        call(notes_container, other_clinician, "read_note", note_id, "treatment")
    recorded = decision(pg_store, info.value.decision_id)
    assert recorded.data["decision"] == "deny" and recorded.data["requester"]["id"] == other_clinician.subject
    assert recorded.data["note_id"] == note_id and marker not in str(info.value)
    assert recorded.data["decided_for"]["subject"] == other_clinician.subject


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
                                                          patient_id, marker, people, clinician):
    container = container_factory(NotesService, service_config)
    replace_dependencies(container, store=FailingDecisions(pg_store))
    container.start()
    note_id = psych_note(container, clinician, patient_id, f"text {marker}")["note_id"]
    with pytest.raises(EventStoreUnavailableError):
        call(container, clinician, "read_note", note_id, "treatment")
    wait_visible(pg_store, patient_id, [note_id])
    with pytest.raises(EventStoreUnavailableError):
        call(container, clinician, "list_notes", patient_id, "treatment")


def test_progress_note_lifecycle(notes_container, pg_store, patient_id, people, other_clinician):
    trainee = people.member(unique("T-1"), "trainee")
    supervisor = people.member(unique("S-1"), "supervisor")
    people.supervise(supervisor.subject, trainee.subject)
    patient = people.patient(patient_id)
    reply = call(notes_container, trainee, "write_progress_note", {
        "patient_id": patient_id, "supervisor_id": supervisor.subject,
        "content": progress_content(session_date="2026-04-01")})
    note_id = reply["note_id"]
    assert reply["events"][1] == "LateEntryFlagged" or reply["events"] == ["ProgressNoteDrafted"]
    call(notes_container, trainee, "revise_note", note_id, content=progress_content(session_date="2026-04-01", cpt_code="90834"))
    call(notes_container, trainee, "sign_note", note_id)
    with pytest.raises(errors.NoteSignedError, match="signed and locked"):
        call(notes_container, trainee, "revise_note", note_id, content=progress_content())
    call(notes_container, supervisor, "cosign_note", note_id)
    call(notes_container, trainee, "add_addendum", note_id, "called PCP")
    amendment = call(notes_container, patient, "request_amendment", note_id, "employer", "changed jobs")
    privacy_officer = people.member(unique("PO"), "privacy_officer")
    call(notes_container, privacy_officer, "deny_amendment", note_id, amendment["amendment_id"],
         "not_created_by_covered_entity", "The employer history came from another provider.")
    call(notes_container, patient, "append_disagreement", note_id, amendment["amendment_id"], "I disagree.")
    note = call(notes_container, other_clinician, "read_note", note_id, "treatment", presentation="soap")["note"]
    assert note["content"]["objective"]["cpt_code"] == "90834"
    assert note["status"] == "signed" and note["addenda"][0]["text"] == "called PCP"
    assert note["amendments"][0]["citation"] == "45 CFR 164.526(a)(2)(i)"
    types = [e.type for e in pg_store.read_stream(f"progressNote-{note_id}")]
    assert types[0] == "ProgressNoteDrafted" and types[-1] == "DisagreementStatementAppended"
    assert "ProgressNoteRevised" in types and "ProgressNoteCosigned" in types
    by_type = {e.type: e.data for e in pg_store.read_stream(f"progressNote-{note_id}")}
    assert by_type["ProgressNoteDrafted"]["author_id"] == trainee.subject
    assert by_type["ProgressNoteCosigned"]["cosigned_by"] == supervisor.subject
    assert by_type["AmendmentDenied"]["decided_by"] == privacy_officer.subject


def test_psychotherapy_note_not_subject_to_amendment(notes_container, patient_id, marker, people, clinician):
    note_id = psych_note(notes_container, clinician, patient_id, f"x {marker}")["note_id"]
    call(notes_container, clinician, "sign_note", note_id)
    with pytest.raises(errors.AmendmentNotApplicableError, match=r"164\.526"):
        call(notes_container, people.patient(patient_id), "request_amendment", note_id, "x", "y")


def test_bad_input_names_the_field_and_writes_nothing(notes_container, pg_store, patient_id, clinician):
    note_id = str(uuid.uuid4())
    with pytest.raises(errors.ValidationError, match="content.diagnosis_codes.0"):
        call(notes_container, clinician, "write_progress_note", {
            "note_id": note_id, "patient_id": patient_id, "content": progress_content(diagnosis_codes=["sad"])})
    assert pg_store.read_stream(f"progressNote-{note_id}") == []


def test_lint_and_findings_reply(notes_container, patient_id, clinician):
    text = "Pt reports low mood, poor sleep and anhedonia. PHQ-9 score 14."
    linted = call(notes_container, clinician, "lint_text", seal_to(notes_container, text))
    assert {f["category"] for f in linted["findings"]} == {"summary_symptoms", "clinical_test_results"}
    written = psych_note(notes_container, clinician, patient_id, text)
    assert written["findings"] == linted["findings"]
    assert all("low mood" not in json.dumps(f) for f in written["findings"])


def test_list_export_and_release(notes_container, pg_store, patient_id, marker, people, clinician,
                                 other_clinician):
    since = pg_store.head_position()
    progress = call(notes_container, clinician, "write_progress_note", {
        "patient_id": patient_id, "content": progress_content()})["note_id"]
    call(notes_container, clinician, "sign_note", progress)
    psych = psych_note(notes_container, clinician, patient_id, f"lake house {marker}")["note_id"]
    wait_visible(pg_store, patient_id, [progress, psych])
    listed = call(notes_container, other_clinician, "list_notes", patient_id, "treatment")
    assert [n["note_id"] for n in listed["notes"]] == [progress] and set(listed) == {"patient_id", "notes"}
    recorded = [pg_store.read_stream(f"accessDecision-{n['decision_id']}")[0] for n in listed["notes"]]
    assert [d.data["note_id"] for d in recorded] == [progress]
    assert [d.data["decision"] for d in decisions_about(pg_store, psych, since)] == ["deny"]  # omitted, recorded

    patient = people.patient(patient_id)
    request = call(notes_container, patient, "request_record_access", patient_id, via="disclosures")
    call(notes_container, people.member(unique("ROI"), "release_of_information"), "extend_record_access",
         request["request_id"], "records archived off site")
    export = call(notes_container, patient, "export_designated_record_set", request["request_id"],
                  via="disclosures")
    assert [n["note_id"] for n in export["notes"]] == [progress] and marker not in json.dumps(export)

    read = call(notes_container, other_clinician, "read_note", progress, "treatment")
    released = call(notes_container, other_clinician, "release_fields", read["decision"]["decision_id"], [progress],
                    via="disclosures")
    assert released["notes"][0]["fields"]["full_note"]["note_id"] == progress
    with pytest.raises(errors.AccessDeniedError):
        call(notes_container, other_clinician, "release_fields", read["decision"]["decision_id"], [psych],
             via="disclosures")
    with pytest.raises(NotAuthorizedError, match="not made for"):  # the decision was made for someone else
        call(notes_container, clinician, "release_fields", read["decision"]["decision_id"], [progress],
             via="disclosures")


def test_listing_only_progress_notes_asks_nothing_about_psychotherapy_notes(notes_container, pg_store, patient_id,
                                                                          marker, clinician, other_clinician):
    progress = call(notes_container, clinician, "write_progress_note", {
        "patient_id": patient_id, "content": progress_content()})["note_id"]
    psych = psych_note(notes_container, clinician, patient_id, f"lake house {marker}")["note_id"]
    wait_visible(pg_store, patient_id, [progress, psych])
    since = pg_store.head_position()
    listed = call(notes_container, other_clinician, "list_notes", patient_id, "treatment", kinds=["progress"])
    assert [n["note_id"] for n in listed["notes"]] == [progress]
    assert [d.data["decision"] for d in decisions_about(pg_store, progress, since)] == ["permit"]
    # ... and, by then visible in the same category, nothing about the colleague's psychotherapy note:
    # it was neither decided nor recorded (no denial on it to report)
    assert [e for e in pg_store.read_category("accessDecision", since, 100000) if e.data.get("note_id") == psych] == []
    with pytest.raises(errors.ValidationError, match="kinds"):
        call(notes_container, other_clinician, "list_notes", patient_id, "treatment", kinds=["billing"])


# -- who is asking, over RabbitMQ -------------------------------------------------------------------

def rpc(service_config, context, name, *args, **kwargs):
    with ServiceRpcProxy("notes", service_config, context_data=context, timeout=30) as notes:
        return getattr(notes, name)(*args, **kwargs)


def test_refusals_over_rabbitmq_write_nothing(notes_container, service_config, pg_store, patient_id, people,
                                              clinician, other_clinician, tmp_path):
    note = {"patient_id": patient_id, "content": progress_content()}
    with pytest.raises(RemoteError) as info:  # no assertion
        rpc(service_config, {}, "write_progress_note", note)
    assert info.value.exc_type == NotAuthenticatedError.__name__
    forged = Identities(pg_store, tmp_path / "forger-keys").member(clinician.subject, "clinician")
    with pytest.raises(RemoteError) as info:  # signed by a key the service does not trust
        rpc(service_config, forged.context(), "write_progress_note", note)
    assert info.value.exc_type == NotAuthenticatedError.__name__
    with pytest.raises(RemoteError) as info:  # the payload names its author
        rpc(service_config, other_clinician.context(), "write_progress_note",
            {**note, "author": {"id": clinician.subject, "role": "clinician", "credentials": "PsyD"}})
    assert info.value.exc_type == NotAuthorizedError.__name__ and "note.author" in info.value.value
    unregistered = unique("P")
    with pytest.raises(RemoteError) as info:
        rpc(service_config, clinician.context(), "write_progress_note", {**note, "patient_id": unregistered})
    assert info.value.exc_type == "PatientNotRegisteredError"
    with pytest.raises(RemoteError) as info:  # a look-alike of a registered patient's id
        rpc(service_config, clinician.context(), "write_progress_note", {**note, "patient_id": patient_id + "\u200b"})
    assert info.value.exc_type == "ValidationError" and info.value.value.startswith("patient_id:")
    assert pg_store.find_streams_by_patient(patient_id, "ProgressNoteDrafted") == []
    assert pg_store.find_streams_by_patient(unregistered, "ProgressNoteDrafted") == []

    note_id = rpc(service_config, clinician.context(), "write_psychotherapy_note", {
        "patient_id": patient_id, "session_date": "2026-05-01",
        "sealed_text": seal_to(notes_container, "She spoke about the lake house.")})["note_id"]
    rpc(service_config, clinician.context(), "sign_note", note_id)
    with pytest.raises(IncorrectSignature):  # the old signature, naming the signer: refused before any worker
        rpc(service_config, clinician.context(), "sign_note", note_id, clinician.subject)
    with pytest.raises(RemoteError) as info:  # an intruder's addendum
        rpc(service_config, other_clinician.context(), "add_addendum", note_id,
            sealed_text=seal_to(notes_container, "intrusion"))
    assert info.value.exc_type == NotAuthorizedError.__name__
    with pytest.raises(RemoteError) as info:  # content under a decision, asked for by another service
        rpc(service_config, clinician.context("gateway"), "release_fields", str(uuid.uuid4()), [note_id])
    assert info.value.exc_type == NotAuthorizedError.__name__
    types = [e.type for e in pg_store.read_stream(f"psychotherapyNote-{note_id}") if e.type != "LateEntryFlagged"]
    assert types == ["PsychotherapyNoteDrafted", "PsychotherapyNoteSigned"]

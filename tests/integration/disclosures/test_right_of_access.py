"""164.524 right of access through the services (disclosures + notes over RabbitMQ, real PostgreSQL):
the patient has their progress notes as often as they like, each time decided and recorded, never a
psychotherapy note.

The fault (issue 11): the second fetch of a patient's copy (``get_disclosure_request(...,
include_content=True)``) went through ``release_fields`` under the first decision, whose
``fields_released`` is the engine's description of the designated record set, not field names: every
note came back with ``fields: {}``.
"""
import importlib.util
import json
import pathlib

import pytest

from confide.testing.polling import wait_for

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest_roa", pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)

PSYCH_MARKER = "Synthetic process impressions"


def signed(system, payload, kind="progress"):
    note_id = cf.write_note(system, payload, kind)
    with system.notes() as notes:
        notes.sign_note(note_id)
    return note_id


def decisions_for(pg_store, request_id, since, count):
    """The AccessDecided events made for ``request_id`` after ``since`` (waits for ``count`` of them)."""
    def found():
        got = [e for e in pg_store.read_category("accessDecision", since, 100000)
               if e.type == "AccessDecided" and e.data.get("request_id") == request_id]
        return got if len(got) >= count else None
    return wait_for(found, timeout=15, interval=0.05)


def test_my_copy_fetched_twice_has_the_same_fields_each_fetch_decided_and_recorded(system, patient, pg_store):
    progress = signed(system, cf.progress_note(patient))
    signed(system, cf.psychotherapy_note(patient), kind="psychotherapy")
    me = system.people.patient(patient)
    since = pg_store.head_position()
    with system.as_(me, "disclosures") as disclosures:
        first = disclosures.request_access()
        second = disclosures.get_disclosure_request(first["request_id"], include_content=True)
        third = disclosures.get_disclosure_request(first["request_id"], include_content=True)
    assert first["status"] == "released" and first["release"]["note_ids"] == [progress]
    copies = [first["content"]["notes"], second["content"]["notes"], third["content"]["notes"]]
    for notes in copies:
        assert [n["note_id"] for n in notes] == [progress]  # never the psychotherapy note
        assert notes[0]["content"]["symptoms"] == "synthetic symptoms summary"
        assert notes[0]["content"]["diagnosis_codes"] == ["F41.1"]
        assert PSYCH_MARKER not in json.dumps(notes)
    assert copies[0] == copies[1] == copies[2]  # the same fields every time
    # each fetch decided and recorded: one AccessDecided per note per fetch, all for this request
    # (besides the request's own decision, which the disclosures service recorded)
    per_note = [e for e in decisions_for(pg_store, first["request_id"], since, 4)
                if e.data["decision_id"] != first["decision"]["decision_id"]]
    assert len(per_note) == 3 and {e.data["note_id"] for e in per_note} == {progress} and {e.data["decision"] for e in per_note} == {"permit"}
    assert {e.data["requester"]["id"] for e in per_note} == {patient}


def test_an_amendment_accepted_later_shows_in_the_next_copy(system, patient):
    progress = signed(system, cf.progress_note(patient))
    me = system.people.patient(patient)
    with system.as_(me, "disclosures") as disclosures:
        first = disclosures.request_access()
    with system.as_(me, "notes") as notes:
        amendment = notes.request_amendment(progress, "The plan says weekly; we agreed fortnightly.", "It is wrong.")
    content = dict(cf.progress_note(patient)["content"], frequency="fortnightly")
    with system.notes() as notes:  # the author accepts
        notes.accept_amendment(progress, amendment["amendment_id"], content)
    with system.as_(me, "disclosures") as disclosures:
        again = disclosures.get_disclosure_request(first["request_id"], include_content=True)
    [note] = again["content"]["notes"]
    assert note["content"]["frequency"] == "fortnightly"
    assert [a["status"] for a in note["amendments"]] == ["accepted"]


def test_another_patient_cannot_fetch_my_copy(system, patient, people):
    signed(system, cf.progress_note(patient))
    with system.as_(system.people.patient(patient), "disclosures") as disclosures:
        mine = disclosures.request_access()
    other = people.patient(f"P-other-{patient[-6:]}")
    # (nameko turns the remote DisclosureRequestNotFoundError into the class registered under that name)
    with system.as_(other, "disclosures") as disclosures, pytest.raises(Exception, match="not found") as info:
        disclosures.get_disclosure_request(mine["request_id"], include_content=True)
    assert "RequestNotFound" in type(info.value).__name__


def test_a_draft_is_not_in_my_copy_until_it_is_signed(system, patient):
    progress = signed(system, cf.progress_note(patient))
    draft = cf.write_note(system, cf.progress_note(patient))
    me = system.people.patient(patient)
    with system.as_(me, "disclosures") as disclosures:
        first = disclosures.request_access()
        assert [n["note_id"] for n in first["content"]["notes"]] == [progress]
        with system.notes() as notes:
            notes.sign_note(draft)
        again = disclosures.get_disclosure_request(first["request_id"], include_content=True)
    assert sorted(n["note_id"] for n in again["content"]["notes"]) == sorted([progress, draft])

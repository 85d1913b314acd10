"""The patient portal in Chromium against the whole stack: a demo patient's progress notes (the same
on every fetch, never a psychotherapy note), an amendment request, the accounting of disclosures and
the access log; another patient's note and the workforce's pages refused; one journey by keyboard alone."""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from confide import transport

pytestmark = pytest.mark.e2e

MARKUP = '<script>window.__portal_injected = true</script><b>bold</b>'


def progress_content(symptoms: str, session_date: str = "2026-11-20") -> dict:
    return {"session_date": session_date, "start_time": "10:00:00", "stop_time": "10:50:00",
            "modality": "individual psychotherapy", "cpt_code": "90834", "frequency": "weekly",
            "diagnosis_codes": ["F41.1"], "symptoms": symptoms, "functional_status": f"working full time {MARKUP}",
            "treatment_plan": "weekly CBT", "progress_to_date": "sleeping better",
            "clinical_tests": {"phq9": 7, "gad7": 9}, "risk_assessment": {"level": "low"}}


def write_signed(practice, clinician, patient_id: str, symptoms: str) -> str:
    with practice.rpc(clinician) as rpc:
        note_id = rpc.notes.write_progress_note({"patient_id": patient_id,
                                                  "content": progress_content(symptoms)})["note_id"]
        rpc.notes.sign_note(note_id)
    return note_id


def write_psychotherapy(practice, clinician, patient_id: str, text: str) -> str:
    with practice.rpc(clinician) as rpc:
        sealed = transport.seal_for(rpc.notes.transport_public_key(), text)
        note_id = rpc.notes.write_psychotherapy_note({"patient_id": patient_id, "session_date": "2026-11-20",
                                                       "sealed_text": sealed})["note_id"]
        rpc.notes.sign_note(note_id)
    return note_id


def demo_patients(practice) -> list[str]:
    """The demo's patients with progress notes, in the order their first note was written."""
    found: list[str] = []
    for event in practice.store.read_category("progressNote", 1, 100000):
        pid = event.data.get("patient_id")
        if event.type == "ProgressNoteDrafted" and pid and pid not in found:
            found.append(pid)
    return found


def without_web_account(practice, person_id: str) -> None:
    """The demo's patient ids are the same in every run, and the browser tests share one web database
    (``confide_web_test``): remove the account an earlier run made for this id, so that it can be
    enrolled afresh (test arrangement only; the practice's own web database is never touched)."""
    code = ("import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'web.settings'); django.setup(); "
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.filter(username={person_id!r}).delete()")
    out = subprocess.run([sys.executable, "-c", code], env=practice.env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_a_demo_patient_reads_her_notes_asks_for_an_amendment_and_sees_who_saw_them(practice, journey, new_id):
    patients = demo_patients(practice)
    assert len(patients) >= 2, practice.demo_out[-2000:]
    me, other = patients[0], patients[1]
    clinician = practice.people.member(new_id("C"), "clinician")
    marker, psych_marker = f"restless at night {uuid.uuid4().hex[:6]}", f"private process {uuid.uuid4().hex[:6]}"
    progress = write_signed(practice, clinician, me, marker)
    psych = write_psychotherapy(practice, clinician, me, f"Session impressions: {psych_marker}.")
    others = write_signed(practice, clinician, other, "someone else's symptoms")
    with practice.rpc(practice.people.patient(me)) as rpc:  # an earlier request, which the author denies
        denied = rpc.notes.request_amendment(progress, "Remove the word restless.", "I sleep well.")["amendment_id"]
    with practice.rpc(clinician) as rpc:
        rpc.notes.read_note(progress, "treatment")  # a read by the practice: in my access log, by role
        rpc.notes.add_addendum(progress, text="Called the primary care physician about sleep.")
        rpc.notes.deny_amendment(progress, denied, "accurate_and_complete", "The note records what was said.")
    roi = practice.people.member(new_id("ROI"), "release_of_information")
    with practice.rpc(roi) as rpc:  # an accountable disclosure (164.528): to HHS, for a compliance review
        held = rpc.disclosures.request_disclosure({
            "patient_id": me, "purpose": "hhs_compliance", "note_kind": "progress",
            "external_requester": {"role": "hhs_ocr", "id": "ocr-investigator-1", "org": "HHS OCR"}})
        released = rpc.disclosures.verify_requester({"request_id": held["request_id"], "method": "federal badge"})
    assert released["status"] == "released" and released["decision"]["accounting_required"], released["status"]
    without_web_account(practice, me)

    data = journey("portal.patient_journey", patient_id=me, progress_note_id=progress, psych_note_id=psych,
                   psych_marker=psych_marker, other_note_id=others, amendment_text=MARKUP,
                   denied_amendment_id=denied, disagreement=f"I disagree {MARKUP}")

    assert {"My notes", "My amendment requests", "My disclosures", "My access log"} <= set(data["nav"])
    assert "does not extend to psychotherapy notes" in data["rights"] and "164.524(a)(1)(i)" in data["rights"]
    # As often as I like: the same list and the same note content on every fetch.
    assert data["lists"][0] == data["lists"][1] and "2026-11-20" in data["lists"][0]
    assert data["notes"][0] == data["notes"][1]
    assert "Called the primary care physician about sleep." in data["addenda"]
    assert f"working full time {MARKUP}" in data["notes"][0] and not data["injected_in_note"]  # text, not markup
    assert marker in data["notes"][0] and "PHQ9 7" in data["notes"][0] and "F41.1" in data["notes"][0]
    # Never a psychotherapy note, nor another patient's note, on any page I was shown.
    assert not data["psych_seen"] and not data["other_seen"]
    refused = data["refusals"]
    assert refused["psychotherapy_note"] == refused["other_patients_note"]  # one answer: nothing told apart
    assert refused["other_patients_note"][0] == 403 and "not among your progress notes" in refused["other_patients_note"][1]
    assert refused["clinician_notes_seen"] == 403 and refused["admin_sessions"] == 403
    assert data["forged_status"] == 403 and data["no_csrf_status"] == 403
    assert data["forged_disagreement_status"] == 403
    # The amendment request: errors tied to their fields, then received; markup shown as text.
    assert data["empty_errors"] == {"requested_change": "requested_change-error", "reason": "reason-error"}
    [amendment] = [a for a in data["amendments"] if a["id"] != denied]
    assert amendment["status"] == "requested" and amendment["change"] == MARKUP
    assert "<script>" not in amendment["html"] and not data["injected"]
    assert [a["status"] for a in data["amendments"] if a["id"] == denied] == ["denied"]
    assert "The note records what was said." in data["denial"] and "164.526(a)(2)(iv)" in data["denial"]
    assert data["disagreement"] == f"I disagree {MARKUP}" and data["disagreement_form_left"] == 0
    assert data["accounting"]["caption"].startswith("Disclosures of my record") and data["accounting"]["request_id"]
    [hhs] = [row for row in data["accounting"]["entries"] if "HHS OCR" in row[1]]
    assert hhs[1] == "HHS OCR (hhs ocr)" and hhs[2] == "a compliance review by HHS" and "progress note" in hhs[3] and hhs[4]
    # The access log: my own reads as "You", the practice's people by role, never a psychotherapy row.
    whos = [row[1] for row in data["access_log"]]
    assert "You" in whos and "You" not in [row[1] for row in data["others_log"]]  # mine shown on asking
    assert "are not listed" in data["own_views"]
    assert all(row[2] == "your own copy (right of access)" for row in data["access_log"] if row[1] == "You")
    assert any(row[1].startswith("health plan, ") for row in data["others_log"])  # the demo's payers
    clinician_rows = [row for row in data["others_log"] if row[2] == "treatment"]
    # (other journeys on the shared practice may have had colleagues read this demo patient's notes)
    assert any(row[1] == "the clinician who wrote the note, this practice" and row[3] == "permitted"
               for row in clinician_rows), clinician_rows
    assert all("clinician" in row[1] for row in clinician_rows), clinician_rows
    assert all(clinician.subject not in who for who in whos)  # workforce by role (the practice's default)


def test_the_whole_patient_journey_by_keyboard_alone(practice, journey, new_id):
    patient = new_id("P")
    practice.people.patient(patient, name="Keyboard Patient")
    clinician = practice.people.member(new_id("C"), "clinician")
    note = write_signed(practice, clinician, patient, "typed-only symptoms")
    data = journey("portal.keyboard_journey", patient_id=patient, note_id=note,
                   amendment_text="The session started at 10:15, not 10:00.")

    assert data["skip"]["id"] == "skip-to-content" and data["skip"]["focus_visible"] and data["skip_on_screen"]
    assert data["after_skip"] == "content"
    for walk in data["walks"]:
        assert walk["count"] > 3, walk
        assert walk["order"] == list(range(walk["count"])), walk  # the focus follows the page's order
        assert walk["invisible"] == [], walk  # every element shows where the focus is
    assert data["reason_next"] == "id_reason" and data["back_to_change"] == "id_requested_change"
    assert data["submit_next"] == "amend-submit"
    assert data["amendment"] == "The session started at 10:15, not 10:00."
    assert "You" in data["who"]


@pytest.mark.parametrize("role", ["clinician", "front_desk"])
def test_the_workforce_cannot_open_the_portal(practice, journey, new_id, role):
    member = practice.people.member(new_id("M"), role)
    data = journey("portal.workforce_refused", person_id=member.subject, roles=[role], note_id=str(uuid.uuid4()))
    assert set(data["statuses"].values()) == {403}, data
    assert not {"My notes", "My access log"} & set(data["nav"])

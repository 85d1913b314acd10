"""The clinician's pages in Chromium against the whole stack (demo data plus people registered here):
a progress note written, refused, saved, edited, laid out, signed, addended; a late entry; another
clinician read-only; billing refused; forged requests and hostile text; psychotherapy notes never
shown or printed on the chart."""
from __future__ import annotations

import re
import uuid
from datetime import date

import pytest

from confide import transport

pytestmark = pytest.mark.e2e


def _psychotherapy_note(practice, author, patient_id: str, text: str) -> str:
    with practice.rpc(author) as rpc:
        key = rpc.notes.transport_public_key()
        return rpc.notes.write_psychotherapy_note({"patient_id": patient_id, "session_date": date.today().isoformat(),
                                                   "sealed_text": transport.seal_for(key, text)})["note_id"]


@pytest.fixture
def people(practice, new_id):
    ids = {"clinician": new_id("C"), "other": new_id("C"), "billing": new_id("B"), "patient": new_id("P"),
           "other_patient": new_id("P")}
    author = practice.people.member(ids["clinician"], "clinician", name="Dana Author", credentials="LCSW")
    practice.people.member(ids["other"], "clinician", name="Sam Second")
    practice.people.member(ids["billing"], "billing", name="Billie Billing")
    practice.people.patient(ids["patient"], name="Robin Registered")
    practice.people.patient(ids["other_patient"], name="Other Patient")
    ids["author"] = author
    return ids


def test_a_clinician_writes_edits_signs_and_addends_a_progress_note(practice, journey, people):
    marker = f"PSYMARKER-{uuid.uuid4().hex}"
    psych = _psychotherapy_note(practice, people["author"], people["patient"], f"Process notes. {marker}")
    params = {k: v for k, v in people.items() if k != "author"}
    data = journey("clinician.write_sign_addend", marker=marker, psych_note=psych, **params)

    assert people["patient"] in data["patients_listed"]
    # The chart: the psychotherapy note as a line, no text (on screen or printed).
    assert len(data["chart_psych_rows"]) == 1 and "Private" in data["chart_psych_rows"][0]
    assert not data["chart_html_has_marker"] and not data["print_chart_marker"]
    # A missing required field: refused by the service, shown next to it, the form kept.
    assert data["missing_cpt_status"] == 400
    assert "Missing data for required field" in data["missing_cpt_error"]
    assert data["missing_cpt_described"] == "err-cpt_code"
    assert data["kept_after_error"] == {"dx": "F41.1", "med1": "melatonin", "phq9": "14"}
    # Saved as a draft; hostile text shown as text, never run.
    assert data["draft_status"].startswith("Draft")
    assert not data["window_pwned"] and not data["window_pwned_after_addendum"]
    assert "<script>window.__pwned = 1</script>" in data["symptoms_shown"]
    assert data["edit_prefilled"] == {"cpt": "90834", "med0": "sertraline", "phq9": "14"}
    # SOAP then BIRP.
    assert data["soap_sections"] == ["Subjective", "Objective", "Assessment", "Plan"]
    assert "sertraline, 50 mg" in data["soap_medications"] and "melatonin, 3 mg" in data["soap_medications"]
    assert data["birp_sections"] == ["Behavior", "Intervention", "Response", "Plan"]
    assert {"symptoms", "clinical_tests", "risk_assessment", "diagnosis_codes"} <= set(data["birp_behavior_fields"])
    assert data["decision_rule"].strip() and data["decision_rule"] != "(no rule recorded)"
    # Signed: the forms are gone, the edit page sends back, only an addendum remains.
    assert data["signed_forms"] == {"sign": 0, "edit": 0, "addendum": 1}
    assert data["edit_after_sign_url"] == data["note_url"] and data["edit_after_sign_form"] == 0
    assert data["addendum"] == '''Called the PCP about sleep. <script>window.__pwned = 1</script><img src=x alt="x">'''
    assert data["status_after_resign"] == 400  # NoteSignedError: signed and locked
    assert data["sign_without_csrf"] == 403
    # A late entry: refused without a reason, then shown as one.
    assert data["late_banner"].startswith(f"Late entry — written {data['today']} for session {data['past']}.")
    assert "Clinic network outage" in data["late_banner"]
    # Printed: navigation and forms hidden, the late-entry line kept.
    assert not data["print_nav_visible"] and not data["print_forms_visible"] and data["print_late_visible"]
    # A forged author, signer and patient in the form are ignored: the note is mine, about the URL's patient.
    assert data["forged_status"] == 302
    assert f"written by {people['clinician']}" in data["forged_meta"]
    assert people["patient"] in data["forged_meta"] and people["other_patient"] not in data["forged_meta"]
    # A psychotherapy note id on the note page: not shown here (no text, even sealed).
    assert data["psych_note_status"] == 404 and not data["psych_note_marker"]
    assert data["unknown_note_status"] == 404 and data["unknown_patient_status"] == 404
    assert data["icd10_json"]["results"][0] == {"code": "F33.1", "title": "Major depressive disorder, recurrent, moderate"}

    other = journey("clinician.second_clinician", note_url=data["note_url"], late_note_url=data["late_note_url"],
                    **params)
    assert other["read_only"].startswith("Read-only") and other["forms"] == 0
    assert other["addenda"] == 1
    assert other["addendum_post"] == 403
    assert other["draft_forms"] == 0
    assert other["sign_other_draft"] == 403
    assert other["edit_other_draft_url"] == data["late_note_url"] and other["edit_other_draft_form"] == 0
    assert other["revise_other_draft"] == 302  # sent back to the note, nothing revised
    assert other["late_note_cpt_after"].strip() == "90837"

    billing = journey("clinician.refused", person=people["billing"], patient=people["patient"],
                      note_url=data["note_url"])
    assert "My patients" not in billing["nav"]
    assert set(billing["status"].values()) == {403}, billing["status"]
    assert billing["post_sign"] == 403


def test_a_clinician_reads_the_demo_charts(practice, journey, people):
    data = journey("clinician.demo_chart", clinician=people["clinician"])
    assert len(data["demo_patients"]) >= 2
    assert any(c["progress"] for c in data["charts"]), data["charts"]
    assert all(c["psych_links"] == 0 for c in data["charts"])  # a psychotherapy note is a line, never a link
    assert data["dap_sections"] == ["Data", "Assessment", "Plan"]
    assert data["demo_note_read_only"] == 1
    assert re.match(r"Late entry — written \d{4}-\d\d-\d\d for session \d{4}-\d\d-\d\d\.", data["demo_note_late"])


def test_a_trainee_names_a_supervisor_and_the_signed_note_awaits_co_signature(practice, journey, people, new_id):
    trainee, supervisor = new_id("T"), new_id("S")
    practice.people.member(trainee, "trainee", name="Terry Trainee")
    practice.people.member(supervisor, "supervisor", name="Sue Supervisor")
    practice.people.supervise(supervisor, trainee)
    data = journey("clinician.trainee_note", trainee=trainee, supervisor=supervisor, patient=people["patient"])
    assert any(supervisor in option for option in data["supervisor_options"])
    assert "required when the author is a trainee" in data["supervisor_error"]
    assert data["status"] == f"Signed, awaiting co-signature by {supervisor}"
    assert data["awaiting_rows"] == 1 and supervisor in data["awaiting_text"]

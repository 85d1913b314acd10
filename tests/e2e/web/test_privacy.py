"""The privacy officer's pages in Chromium against the whole stack: amendment requests with their
deadlines, emergency-access reviews, the accounting of disclosures (printable) and sign-in events."""
from __future__ import annotations

from datetime import timedelta

import pytest

from confide.timestamps import parse_ts
from confide.transport import seal_for

pytestmark = pytest.mark.e2e

CONTENT = {
    "session_date": "2026-05-01", "start_time": "14:00", "stop_time": "14:53",
    "modality": "individual psychotherapy", "cpt_code": "90837", "frequency": "weekly",
    "diagnosis_codes": ["F32.1"], "symptoms": "low mood", "functional_status": "working",
    "interventions": "CBT", "treatment_plan": "continue weekly", "prognosis": "fair",
    "progress_to_date": "improving", "medications": [], "clinical_tests": {"phq9": 12, "gad7": 8},
    "risk_assessment": {"level": "low"},
}


def signed_note(practice, author, patient_id) -> str:
    with practice.rpc(author) as rpc:
        note_id = rpc.notes.write_progress_note({"patient_id": patient_id, "content": CONTENT})["note_id"]
        rpc.notes.sign_note(note_id)
    return note_id


def demo_patient_with_insurer_requests(practice, officer) -> tuple[str, str]:
    with practice.rpc(officer) as rpc:
        log = rpc.audit.disclosure_log(limit=1000)
    rows = [r for r in log if r.get("requester_org") and r.get("patient_id")]
    assert rows, "the demo made no insurer request"
    return rows[0]["patient_id"], rows[0]["requester_org"]


def test_the_privacy_officers_day(practice, journey, new_id):
    officer_id, author_id, covering_id, patient_id = new_id("PO"), new_id("C"), new_id("C"), new_id("P")
    officer = practice.people.member(officer_id, "privacy_officer", name="Pat Privacy")
    author = practice.people.member(author_id, "clinician")
    practice.people.member(covering_id, "clinician")
    patient = practice.people.patient(patient_id, name="Amanda Mend")
    note_id = signed_note(practice, author, patient_id)
    with practice.rpc(patient) as rpc:
        amendment = rpc.notes.request_amendment(note_id, "My employer is Acme, not Apex.", "I changed jobs in 2025.")
    demo_patient, insurer = demo_patient_with_insurer_requests(practice, officer)
    with practice.rpc(author) as rpc:
        sealed = seal_for(rpc.notes.transport_public_key(), "PSYMARKER-privacy she spoke about the lake.")
        psych_note_id = rpc.notes.write_psychotherapy_note(
            {"patient_id": patient_id, "session_date": "2026-05-01", "sealed_text": sealed})["note_id"]

    data = journey("privacy.officer_day", officer=officer_id, covering=covering_id, note_id=note_id,
                   amendment_id=amendment["amendment_id"], amendment_patient=patient_id,
                   demo_patient=demo_patient, insurer=insurer, typed_username="Hunter2-not-a-user",
                   psych_note_id=psych_note_id)

    # the clinician: a form needing a reason, access granted under the rules, queued; privacy pages refused
    assert "Emergency access" in data["clinician_nav"] and "Amendments" not in data["clinician_nav"]
    assert "reason" in data["no_reason_error"].lower()
    assert data["granted"].startswith("Access granted: permit")
    assert "Access denied" in data["denied"] and "164.508(a)(2)" in data["denied"]
    assert "PSYMARKER" not in str(data)
    assert set(data["clinician_refused"].values()) == {403}
    # amendment requests: the patient's, with its due date 60 days from receipt
    assert {"Amendments", "Emergency reviews", "Accounting", "Sign-in events"} <= set(data["officer_nav"])
    assert patient_id in data["amendment_row"] and "Amanda Mend" in data["amendment_row"]
    assert "requested" in data["amendment_row"]
    with practice.rpc(officer) as rpc:
        listed = {r["amendment_id"]: r for r in rpc.notes.amendment_requests(open_only=False)["amendments"]}
    mine = listed[amendment["amendment_id"]]
    assert parse_ts(mine["due_at"]) - parse_ts(mine["requested_at"]) == timedelta(days=60)
    assert data["amendment_due"] and parse_ts(data["amendment_due"]).date() == parse_ts(mine["due_at"]).date()
    assert data["requested_change"] == "My employer is Acme, not Apex."
    assert "permit" in data["note_decision"]
    assert "2026-05-01" in data["note_fields"] and "90837" in data["note_fields"]
    # denied in writing on a ground; HTML in the statement stays text
    assert data["denial_ground"] == "accurate_and_complete" and data["amendment_status"] == "denied"
    assert "<b>not bold</b>" in data["denial_statement"] and data["bold_in_denial"] == 0
    assert data["open_after_denial"] == 0
    assert data["note_read_after_decision"] == 0  # a decided request's page does not read the note again
    assert mine["status"] == "denied" and mine["decided_by"] == officer_id
    # the emergency access was queued with who, reason, rule and decision, then reviewed
    assert covering_id in data["queued_row"] and "Patient in crisis" in data["queued_row"]
    assert "permit" in data["queued_row"] and "45 CFR 164.506" in data["queued_row"]
    denied_rows = [row for row in data["queue_rows"] if "Need her psychotherapy notes" in row]
    assert len(denied_rows) == 1 and "deny" in denied_rows[0] and covering_id in denied_rows[0]
    assert data["still_queued"] == 0
    assert "appropriate" in data["reviewed_row"] and officer_id in data["reviewed_row"]
    # the accounting: the demo patient's document, and the insurer's requests on file
    assert demo_patient in data["doc_patient"] and "six years" in data["doc_period"]
    assert data["doc_practice"]
    # the demo's insurer requests are for payment: on file and decided, but 164.528(a)(1)(i) keeps
    # them out of the accounting itself (other journeys on the same practice may have made an
    # accountable disclosure for this patient, e.g. to HHS: those are listed, never a payment one)
    assert not any(insurer in entry for entry in data["entries"]), data["entries"]
    assert all("payment" not in entry for entry in data["entries"]), data["entries"]
    insurer_rows = [row for row in data["disclosure_log"] if insurer in row]
    assert insurer_rows and all("payment" in row for row in insurer_rows)
    assert any("permit" in row or "deny" in row for row in insurer_rows)
    assert data["printed_document_visible"] and not data["printed_header_visible"]
    assert not data["printed_form_visible"] and not data["printed_log_visible"]
    assert data["pdf_bytes"] > 1000
    # sign-in events: the wrong password typed in the browser is counted against the member
    assert int(data["failure_count"]) >= 1
    assert any("SignInFailed" in row and covering_id in row for row in data["failure_rows"])
    assert any(covering_id in row for row in data["failures_by_username"])
    assert "YYYY-MM-DD" in data["bad_date_error"]
    # a username that named no account shows only as the digest the log keeps
    assert "sha256:" in data["unfiltered_page"] and "hunter2" not in data["unfiltered_page"].lower()


def test_review_posts_need_csrf_ignore_a_forged_reviewer_and_escape_text(practice, journey, new_id):
    officer_id, author_id, covering_id, patient_id = new_id("PO"), new_id("C"), new_id("C"), new_id("P")
    practice.people.member(officer_id, "privacy_officer")
    author = practice.people.member(author_id, "clinician")
    covering = practice.people.member(covering_id, "clinician")
    practice.people.patient(patient_id)
    note_id = signed_note(practice, author, patient_id)
    with practice.rpc(covering) as rpc:
        taken = rpc.notes.take_emergency_access(note_id, "treatment",
                                                "<img src=x id=injected> crisis call, clinician away")
    data = journey("privacy.csrf_and_forgery", officer=officer_id, decision_id=taken["emergency_access_id"])
    assert data["no_csrf_status"] == 403
    assert data["forged_status"] == 200
    assert "inappropriate" in data["row"] and officer_id in data["row"] and "SOMEONE-ELSE" not in data["row"]
    assert "<script>alert(1)</script>" in data["row"] and data["script_elements_in_row"] == 0
    assert "<img src=x id=injected>" in data["row"] and data["injected_images"] == 0
    assert data["foreign_patient_status"] == 400 and not data["foreign_patient_body_has_document"]
    assert data["foreign_patient_error"]


def test_the_officer_accepts_an_amendment_with_the_amended_record(practice, journey, new_id):
    officer_id, author_id, patient_id = new_id("PO"), new_id("C"), new_id("P")
    practice.people.member(officer_id, "privacy_officer")
    author = practice.people.member(author_id, "clinician")
    patient = practice.people.patient(patient_id)
    note_id = signed_note(practice, author, patient_id)
    with practice.rpc(patient) as rpc:
        amendment = rpc.notes.request_amendment(note_id, "I work full time now.", "My job changed.")
    data = journey("privacy.accept_amendment", officer=officer_id, note_id=note_id,
                   amendment_id=amendment["amendment_id"])
    assert data["prefilled_cpt"] == "90837" and data["prefilled_plan"] == "continue weekly"
    assert "frequency" in data["missing_frequency_error"]
    assert data["kept_after_error"] == "Working full time at Acme."
    assert data["status"] == "accepted" and "revision 2" in data["accepted"]
    with practice.rpc(author) as rpc:
        note = rpc.notes.read_note(note_id, "treatment")["note"]
    assert note["revision"] == 2 and note["content"]["functional_status"] == "Working full time at Acme."
    assert note["content"]["risk_assessment"]["level"] == "low" and note["content"]["cpt_code"] == "90837"

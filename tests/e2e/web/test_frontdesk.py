"""Front desk and release of information in a real browser, against the whole stack (issue 11, item 2)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def progress_note(patient_id: str, session_date: str) -> dict:
    return {"patient_id": patient_id,
            "content": {"session_date": session_date, "start_time": "10:00:00", "stop_time": "10:50:00",
                        "modality": "individual psychotherapy", "cpt_code": "90834", "frequency": "weekly",
                        "diagnosis_codes": ["F41.1"], "symptoms": "synthetic symptoms summary",
                        "functional_status": "synthetic functional status", "treatment_plan": "synthetic plan",
                        "progress_to_date": "synthetic progress", "risk_assessment": {"level": "low"}}}


@pytest.fixture
def on_file(practice, new_id):
    """A release-of-information member, a clinician, and a patient with two signed progress notes
    (February and June 2026), written by the clinician over RPC."""
    roi, clinician, patient = new_id("ROI"), new_id("C"), new_id("P")
    staff = practice.people.member(roi, "release_of_information")
    author = practice.people.member(clinician, "clinician")
    practice.people.patient(patient)
    notes = []
    with practice.rpc(author) as rpc:
        for day in ("2026-02-10", "2026-06-10"):
            note_id = rpc.notes.write_progress_note(progress_note(patient, day))["note_id"]
            rpc.notes.sign_note(note_id)
            notes.append(note_id)
    return {"roi": roi, "clinician": clinician, "patient": patient, "notes": notes, "staff": staff}


def test_release_of_information_from_authorization_to_revocation(practice, journey, on_file, new_id):
    auth_id = new_id("AUTH")
    data = journey("frontdesk.release_of_information", roi=on_file["roi"], patient=on_file["patient"],
                   authorization_id=auth_id)
    february, june = on_file["notes"]
    # the defect was shown before saving, and nothing was recorded
    assert data["defects"] == ["missing_statement_redisclosure"], data["defects"]
    assert "164.508(c)(2)(iii)" in data["defect_text"]
    assert data["unsaved_status"] == 400 and "not found" in data["unsaved_text"]
    assert data["authorization_status"] == "active"
    assert "patient_id" in data["unknown_patient_error"] and data["unknown_patient_kept"] == "Smith & Jones LLP"
    assert data["unknown_patient_linked"] == "form-error"
    # the paper request: held for verification, escaped, in the queue
    assert "164.514(h)" in data["hold_rule"]
    assert "<script>" in data["requester_shown"] and data["title"] != "pwned"
    assert on_file["patient"] in data["queue_row"] and "On hold: a fact to verify" in data["queue_row"]
    assert data["on_hold_statuses"] == ["on_hold"] and data["on_hold_has_request"]
    assert not data["released_tab_has_request"]
    # verified, then decided: rule, reasons and exactly what will leave
    assert f"By {on_file['roi']} " in data["verified_by"] and "someone-else" not in data["verified_by"]
    assert data["verification"].startswith("bar membership and letter of representation checked: Bar no. 12345")
    decided = data["decided"]
    assert decided["status"] == "decided" and "164.508" in decided["rule"], decided
    assert decided["reasons"] and decided["fields"], decided
    assert sorted(decided["notes_leaving"]) == sorted([february, june])
    # released: exactly those fields of exactly those notes
    assert sorted(data["released_notes"]) == sorted([february, june])
    assert data["released_fields"] == sorted(decided["fields"]), (data["released_fields"], decided["fields"])
    assert "F41.1" in data["released_text"] and "synthetic functional status" in data["released_text"]
    assert data["after_release"]["status"] == "released"
    assert data["after_release"]["fields"] == decided["fields"]
    # the subpoena: structured coverage, progress notes only, February only, decided under 164.512(e)
    assert "subpoena_without_court_order" in data["subpoena_legal"] and "covers progress notes" in data["subpoena_legal"]
    assert "<b>all</b>" in data["subpoena_legal"]
    assert data["subpoena_dates"] == "2026-02-01 to 2026-02-28" and data["subpoena_kind"] == "progress notes"
    subpoena = data["subpoena"]
    assert subpoena["status"] == "decided" and "164.512(e)(1)(ii)(B)" in subpoena["rule"], subpoena
    assert subpoena["notes_leaving"] == [february]
    assert data["subpoena_released_notes"] == [february] and june not in data["subpoena_released_text"]
    # the default minimum-necessary policy for 164.512(e) names a description, not fields: nothing
    # is sent by the system, and the page says so rather than showing an empty release
    assert data["subpoena_released_fields"] == [] and data["subpoena_unreleased"] == subpoena["fields"]
    # revocation only in writing
    assert data["unticked_status"] == "active" and data["revoked_status"] == "revoked"
    # received today: effective from when it was recorded, not from midnight (the release earlier today stands)
    assert "T00:00:00" not in data["revocation_text"]
    assert data["no_csrf_status"] == 403


def test_a_clinician_is_refused_the_queue(practice, journey, on_file):
    with practice.rpc(on_file["staff"]) as rpc:
        held = rpc.disclosures.request_disclosure({"patient_id": on_file["patient"], "purpose": "other",
                                                   "external_requester": {"role": "attorney", "id": "X", "org": "Y"}})
    data = journey("frontdesk.clinician_refused", clinician=on_file["clinician"], request_id=held["request_id"])
    assert "Disclosure requests" not in data["nav"]
    assert data["queue"] == data["new_authorization"] == data["request"] == 403
    assert on_file["patient"] not in data["body"]
    assert data["posts"] == {"verify": 403, "release": 403, "new_request": 403}, data["posts"]
    with practice.rpc(on_file["staff"]) as rpc:
        assert rpc.disclosures.get_disclosure_request(held["request_id"])["status"] == "on_hold"


def test_staff_amend_a_held_requests_facts_and_it_is_decided_again(practice, journey, on_file):
    """A judge's order recorded without what it covers is held after verification (164.512(e)(1)(i));
    on the request's page staff record its coverage (DisclosureFactsAmended) and it is decided again."""
    with practice.rpc(on_file["staff"]) as rpc:
        held = rpc.disclosures.request_disclosure({
            "patient_id": on_file["patient"], "purpose": "judicial", "await_release": True,
            "external_requester": {"role": "attorney", "id": "A. Counsel", "org": "Counsel LLP"},
            "facts": {"legal_process": {"type": "court_order"}}})
        verified = rpc.disclosures.verify_requester({"request_id": held["request_id"], "method": "bar card"})
    assert verified["status"] == "on_hold", verified
    data = journey("frontdesk.amend_held_facts", roi=on_file["roi"], request_id=held["request_id"])
    assert data["held_status"] == "on_hold"
    assert data["empty_error"].startswith("facts:") and data["empty_described_by"] == "amend-error"
    assert len(data["amended"]) == 1 and f"By {on_file['roi']} " in data["amended"][0]
    assert "facts.legal_process" in data["amended"][0] and "legal_process_received" in data["amended"][0]
    assert data["decided"]["status"] == "decided" and "164.512(e)(1)(i)" in data["decided"]["rule"], data["decided"]
    assert sorted(data["decided"]["notes_leaving"]) == sorted(on_file["notes"])
    assert "signed by a judge" in data["legal"] and "progress" in data["legal"]
    assert data["amend_form_left"] == 0
    with practice.rpc(on_file["staff"]) as rpc:
        view = rpc.disclosures.get_disclosure_request(held["request_id"])
    assert [a["amended_by"] for a in view["amendments"]] == [on_file["roi"]]

"""A security review of the psychotherapy pane and the supervision pages (issue 11), against the
whole stack: what a supervisor may do with a trainee's draft, and where psychotherapy text must never
turn up (the stack's log, URLs, cookies, browser storage, a cacheable answer)."""
from __future__ import annotations

import pytest

from confide import transport

pytestmark = pytest.mark.e2e

DIAGNOSIS = "Meets criteria for generalized anxiety disorder (F41.1)."
FACTS = {"pn_start_time": "09:00", "pn_stop_time": "09:50", "pn_cpt_code": "90834",
         "pn_modality": "individual psychotherapy", "pn_frequency": "weekly", "pn_diagnosis_codes": "F41.1",
         "pn_risk_level": "low"}


def _read(practice, person, note_id):
    key, public = transport.ephemeral()
    with practice.rpc(person) as rpc:
        return transport.open_tree(key, rpc.notes.read_note(note_id, "treatment", reply_public_key=public))["note"]


def test_a_supervisor_cannot_edit_move_or_sign_a_trainees_draft_through_the_authors_pane(practice, journey, new_id):
    trainee, supervisor, patient = new_id("T"), new_id("S"), new_id("P")
    trainee_person = practice.people.member(trainee, "trainee")
    supervisor_person = practice.people.member(supervisor, "supervisor")
    practice.people.patient(patient)
    practice.people.supervise(supervisor, trainee)
    private = f"Private marker {new_id('M')}: she named the affair <img id=xss src=x> for the first time."
    text = f"{private} {DIAGNOSIS}"
    content = {"session_date": "2026-06-01", "start_time": "09:00", "stop_time": "09:50",
               "modality": "individual psychotherapy", "cpt_code": "90834", "frequency": "weekly",
               "diagnosis_codes": ["F41.1"], "risk_assessment": {"level": "low"}}
    with practice.rpc(trainee_person) as rpc:
        sealed = transport.seal_for(rpc.notes.transport_public_key(), text)
        note_id = rpc.notes.write_psychotherapy_note({"patient_id": patient, "supervisor_id": supervisor,
                                                      "session_date": "2026-06-01", "sealed_text": sealed})["note_id"]
    with practice.rpc(supervisor_person) as rpc:  # the supervisor's own draft progress note of that session
        progress_id = rpc.notes.write_progress_note({"patient_id": patient, "content": content})["note_id"]

    data = journey("psychotherapy_attacks.supervisor_on_trainee_draft", supervisor=supervisor, note_id=note_id, text=text)

    assert data["opened"]["status"] == 200 and data["opened"]["text"] == text  # reading is the service's decision
    assert data["opened"]["injected"] == 0  # the author's markup is shown as text to the reader
    assert data["opened"]["editor"] == 0 and data["opened"]["move_buttons"] == 0
    assert "only its author edits" in data["opened"]["read_only"]
    assert data["move"] == 403 and data["save"] == 403 and data["sign"] == 403
    # an addendum to a draft is not offered either (the editor must not come back on its error)
    assert data["addendum"] == 403 and 'id="psy-form"' not in data["addendum_page"]
    # Nothing of the trainee's note reached the supervisor's progress note (the chart); the draft is as written.
    progress = _read(practice, supervisor_person, progress_id)
    assert DIAGNOSIS not in str(progress["content"]) and "affair" not in str(progress["content"])
    psych = _read(practice, trainee_person, note_id)
    assert psych["text"] == text and psych["status"] == "draft"


def test_psychotherapy_text_stays_out_of_the_log_urls_cookies_storage_and_caches(practice, journey, new_id):
    clinician, patient = new_id("C"), new_id("P")
    practice.people.member(clinician, "clinician")
    practice.people.patient(patient)
    marker, addendum_marker = new_id("SECRETTEXT"), new_id("SECRETADDENDUM")
    text = f"She said {marker} about her brother. {DIAGNOSIS}"
    addendum = f"Addendum {addendum_marker}: she called to say she was safe."

    data = journey("psychotherapy_attacks.where_the_text_goes", clinician=clinician, patient=patient, session_date="2026-06-02",
                   text=text, addendum=addendum, facts=FACTS)

    own = [a for a in data["answers"] if a["url"].startswith(practice.web_url)]
    assert own, data
    for needle in (marker, addendum_marker, "brother", "generalized anxiety"):
        assert not [a for a in own if needle in a["url"] or needle in a["location"]]
        assert not [c for c in data["cookies"] if needle in c["value"]]
        assert not [a for a in own if needle in a["set_cookie"]]
        assert needle not in data["storage"]
    assert not [a for a in own if "no-store" not in a["cache"]], [a for a in own if "no-store" not in a["cache"]]
    log = practice.log.read_text(errors="replace")
    assert marker not in log and addendum_marker not in log and "brother" not in log

"""The psychotherapy note in the browser: private pane, live 164.501 hints, the one-click move into
the progress note, sign, addendum, the supervisor's queue and co-signature, a colleague's refusal,
the print rule; and a supervision that ended."""
from __future__ import annotations

import pytest

from confide import transport

pytestmark = pytest.mark.e2e

DIAGNOSIS = "Meets criteria for major depressive disorder, recurrent, moderate (F33.1)."


def _read(practice, person, note_id):
    key, public = transport.ephemeral()
    with practice.rpc(person) as rpc:
        return transport.open_tree(key, rpc.notes.read_note(note_id, "treatment", reply_public_key=public))["note"]


def test_a_trainee_moves_a_diagnosis_sentence_signs_and_the_supervisor_cosigns(practice, journey, new_id):
    trainee, supervisor, colleague, patient = new_id("T"), new_id("S"), new_id("C"), new_id("P")
    trainee_person = practice.people.member(trainee, "trainee")
    practice.people.member(supervisor, "supervisor")
    practice.people.member(colleague, "clinician")
    practice.people.patient(patient)
    practice.people.supervise(supervisor, trainee)

    data = journey("psychotherapy.write_move_sign_cosign", trainee=trainee, supervisor=supervisor,
                   colleague=colleague, patient=patient, session_date="2026-05-01")

    assert "reads like a diagnosis summary" in data["hint"]
    assert DIAGNOSIS not in data["psych_after_move"] and DIAGNOSIS not in data["signed_text"]
    assert "<i>sic</i>" in data["signed_text"]
    assert data["refused_status"] == 403 and "164.508(a)(2)" in data["refusal"]
    assert data["no_csrf"] == 403
    assert "164.508(a)(2)" in data["colleague_post"] and data["colleague_supervision_status"] == 403
    assert data["checked_hint"] == "\u201cRefer to DBT skills group.\u201d"
    assert "no longer flagged" in data["forged_move"]
    assert "start time, stop time, CPT code" in data["missing_facts"] and "Nothing was moved" in data["missing_facts"]
    # What the services hold: the sentence is in the progress note, not in the psychotherapy note.
    progress = _read(practice, trainee_person, data["progress_id"])
    assert progress["kind"] == "progress" and progress["status"] == "draft"
    assert DIAGNOSIS in progress["content"]["symptoms"]
    assert progress["content"]["diagnosis_codes"] == ["F32.1", "F33.1"]
    assert progress["content"]["treatment_plan"] == "Refer to DBT skills group."
    psych = _read(practice, trainee_person, data["note_id"])
    assert DIAGNOSIS not in psych["text"] and "DBT" not in psych["text"] and "father's funeral" in psych["text"]
    assert psych["status"] == "signed" and psych["cosigned_by"] == supervisor
    assert "felt lighter" in psych["addenda"][0]["text"]
    # The auditor's re-judging (the audit service's RPC behind /audit/integrity/) believes the
    # supervisor's training read (164.508(a)(2)(i)(B)): the directory's sealed link supports it.
    with practice.rpc(practice.people.member(new_id("AU"), "auditor"), timeout=120) as rpc:
        rejudged = rpc.audit.rejudge_decisions()
    on_this_note = [m for m in rejudged["mismatches"] if data["note_id"] in m["recorded"]["note_ids"]]
    assert on_this_note == [], on_this_note


def test_a_supervisor_whose_supervision_ended_sees_nothing_and_cannot_cosign(practice, journey, new_id):
    trainee, supervisor, patient, billing = new_id("T"), new_id("S"), new_id("P"), new_id("B")
    practice.people.member(billing, "billing")
    trainee_person = practice.people.member(trainee, "trainee")
    practice.people.member(supervisor, "supervisor")
    practice.people.patient(patient)
    practice.people.supervise(supervisor, trainee)
    with practice.rpc(trainee_person) as rpc:
        sealed = transport.seal_for(rpc.notes.transport_public_key(), "We talked about the move.")
        note_id = rpc.notes.write_psychotherapy_note({"patient_id": patient, "supervisor_id": supervisor,
                                                      "session_date": "2026-05-02", "sealed_text": sealed})["note_id"]
        rpc.notes.sign_note(note_id)
    practice.people.end_supervision(supervisor, trainee)

    data = journey("psychotherapy.ended_supervision", supervisor=supervisor, note_id=note_id, billing=billing)

    assert data["queue_rows"] == 0
    assert data["outsider_status"] == [403, 403, 403]  # a role that writes no notes: no pane, no queue
    assert data["read_status"] == 403 and "164.508(a)(2)" in data["read_reason"]
    assert "no longer supervises" in data["cosign_reason"]
    assert _read(practice, trainee_person, note_id)["cosigned_by"] is None


def test_a_supervisor_reviews_and_cosigns_a_trainees_progress_note(practice, journey, new_id):
    trainee, supervisor, patient = new_id("T"), new_id("S"), new_id("P")
    trainee_person = practice.people.member(trainee, "trainee")
    practice.people.member(supervisor, "supervisor")
    practice.people.patient(patient)
    practice.people.supervise(supervisor, trainee)
    content = {"session_date": "2026-05-03", "start_time": "10:00", "stop_time": "10:50",
               "modality": "individual psychotherapy", "cpt_code": "90834", "frequency": "weekly",
               "diagnosis_codes": ["F41.1"], "symptoms": "worry <b>most days</b>", "risk_assessment": {"level": "low"}}
    with practice.rpc(trainee_person) as rpc:
        note_id = rpc.notes.write_progress_note({"patient_id": patient, "supervisor_id": supervisor,
                                                 "content": content})["note_id"]
        rpc.notes.sign_note(note_id)

    data = journey("psychotherapy.cosign_progress_note", supervisor=supervisor, note_id=note_id)

    assert "90834" in data["content"] and "worry <b>most days</b>" in data["content"]
    assert data["left_in_queue"] == 0
    assert _read(practice, trainee_person, note_id)["cosigned_by"] == supervisor

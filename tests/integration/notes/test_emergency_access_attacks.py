"""Attacks on break-the-glass access as a clinician would try them: whatever the claim, an emergency
read gives nothing a read with the same purpose would not; another clinician's psychotherapy note
stays closed under every claim (164.508(a)(2): only its originator, or the narrow exceptions a
clinician cannot claim for themself)."""
import pytest

from notes.domain import errors

from .conftest import call, seal_to

CLAIMS = ("treatment", "serious_threat", "required_by_law")


def psych_note(container, person, patient_id, text):
    return call(container, person, "write_psychotherapy_note", {
        "patient_id": patient_id, "session_date": "2026-05-01", "sealed_text": seal_to(container, text)})


@pytest.mark.parametrize("claim", CLAIMS)
def test_no_emergency_claim_opens_another_clinicians_psychotherapy_note(notes_container, patient_id, clinician,
                                                                         other_clinician, marker, claim):
    psych = psych_note(notes_container, clinician, patient_id, f"session {marker}")["note_id"]
    with pytest.raises(errors.AccessDeniedError):
        call(notes_container, other_clinician, "take_emergency_access", psych, claim,
             "Patient in crisis; her clinician is away and cannot be reached.")


@pytest.mark.parametrize("purpose", ["serious_threat", "required_by_law"])
@pytest.mark.parametrize("claimed", ["45 CFR 164.508(a)(2)(i)(A)", "45 CFR 164.512(j)(1)(i)", "45 CFR 164.512(a)"])
def test_a_claimed_exception_does_not_open_another_clinicians_psychotherapy_note(notes_container, patient_id,
                                                                                  clinician, other_clinician,
                                                                                  marker, purpose, claimed):
    psych = psych_note(notes_container, clinician, patient_id, f"session {marker}")["note_id"]
    with pytest.raises(errors.AccessDeniedError):
        call(notes_container, other_clinician, "read_note", psych, purpose, exception_claimed=claimed)

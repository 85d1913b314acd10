"""The engine's requester comes from the verified principal alone."""
from datetime import datetime, timezone

from confide.hipaa.engine import decide
from confide.identity.assertions import Principal
from confide.identity.requester import NO_ENGINE_ROLE, acting_role, decision_identity, requester_for

T = datetime(2026, 5, 1, 15, tzinfo=timezone.utc)


def principal(*roles, subject="C-A", org="practice"):
    return Principal(subject, tuple(roles), org, "sess-1", T, ("pwd", "otp"), None, "confide-services", T, "jti-1")


def test_a_clinician_is_a_colleague_until_the_notes_show_authorship():
    assert requester_for(principal("clinician", "supervisor"))["role"] == "clinician_same_practice"
    assert acting_role(principal("supervisor", "clinician")) == "clinician"


def test_roles_the_catalogue_settles():
    assert requester_for(principal("billing"))["role"] == "billing_staff"
    assert requester_for(principal("privacy_officer"))["role"] == "compliance_staff"
    assert requester_for(principal("patient", subject="P-1"))["role"] == "patient"


def test_authentication_is_the_164_514_h_verification_and_workforce_is_a_fact_of_the_roles():
    staff, patient = requester_for(principal("billing")), requester_for(principal("patient", subject="P-1"))
    assert staff["identity_verified"] is True and staff["is_workforce"] is True
    assert patient["identity_verified"] is True and patient["is_workforce"] is False


def test_a_payer_decides_as_registered_and_without_registration_has_no_role():
    assert requester_for(principal("insurer", subject="Payer1", org="Payer1"), "insurer_health_plan")["role"] \
        == "insurer_health_plan"
    assert requester_for(principal("insurer", subject="Payer1", org="Payer1"))["role"] == NO_ENGINE_ROLE


def test_front_desk_has_no_engine_role_and_the_engine_refuses_it():
    requester = requester_for(principal("front_desk"))
    assert requester["role"] == NO_ENGINE_ROLE
    case = {"requester": requester, "purpose": "treatment", "note_kind": "progress", "action": "use",
            "patient": "P-1", "decision_time": "2026-05-01T15:00:00Z", "authorization": None}
    try:
        outcome = decide(case)
    except ValueError as exc:  # CaseFileError naming the field
        assert "role" in str(exc)
    else:
        assert outcome.decision == "deny"


def test_a_decision_names_the_subject_session_and_authentication():
    assert decision_identity(principal("clinician")) == {
        "subject": "C-A", "session_id": "sess-1", "amr": ["pwd", "otp"], "auth_time": "2026-05-01T15:00:00.000000Z",
        "acting_service": None}

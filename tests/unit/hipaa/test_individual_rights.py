"""45 CFR 164.524 (access, designees), 164.526 (amendment), 164.502(g) (personal representatives)."""
from __future__ import annotations

import pytest

PATIENT = {"role": "patient", "org": "self"}

CASES = [
    ("524a1_patient_access_progress_notes",
     {"requester": PATIENT, "purpose": "individual_access"},
     {"decision": "permit", "cites": "164.524(a)(1)", "minimum_necessary_applies": False,
      "accounting_required": False, "reason": "2026-05-31"}),
    ("524a1_someone_else_verified_is_not_the_patient",
     {"requester": {"role": "patient", "id": "P-002", "identity_verified": True}, "purpose": "individual_access"},
     {"decision": "deny", "cites": "164.524(a)(1)"}),
    ("514h1_someone_asking_as_the_patient_unverified_is_held",
     {"requester": {"role": "patient", "id": "P-002"}, "purpose": "individual_access"},
     {"decision": "hold", "cites": ["164.514(h)(1)", "164.524(a)(1)"], "reason": "identity_verified",
      "fields_released": None}),
    ("524c3ii_designee_written_signed_identified",
     {"requester": {"role": "patient_designee", "org": "Law Office"}, "purpose": "individual_access",
      "directed_by_patient": {"in_writing": True, "signed": True, "designee_identified": True}},
     {"decision": "permit", "cites": "164.524(c)(3)(ii)", "accounting_required": False,
      "minimum_necessary_applies": False}),
    ("524c3ii_designee_unsigned_direction",
     {"requester": {"role": "patient_designee"}, "purpose": "individual_access",
      "directed_by_patient": {"in_writing": True, "signed": False, "designee_identified": True}},
     {"decision": "deny", "cites": "164.524(c)(3)(ii)"}),
    ("524c3ii_designee_oral_direction",
     {"requester": {"role": "patient_designee"}, "purpose": "individual_access",
      "directed_by_patient": {"in_writing": False, "signed": False, "designee_identified": True}},
     {"decision": "deny"}),
    ("502g_parent_of_minor_is_personal_representative",
     {"requester": {"role": "parent"}, "purpose": "individual_access"},
     {"decision": "permit", "cites": "164.524(a)(1)"}),
    ("502g3_minor_consented_to_own_care",
     {"requester": {"role": "parent"}, "purpose": "individual_access", "minor_consented_to_care": True},
     {"decision": "deny"}),
    ("502g_parent_of_adult_is_not_representative",
     {"requester": {"role": "parent"}, "purpose": "individual_access", "patient_is_minor": False},
     {"decision": "deny"}),
    ("524_access_to_group_note_redacts_others",
     {"requester": PATIENT, "purpose": "individual_access", "session_type": "group",
      "other_identified_participants": ["P-007", "P-009"]},
     {"decision": "permit_redacted", "cites": "164.524(a)(1)"}),
    ("526a1_amend_progress_note",
     {"requester": PATIENT, "purpose": "amendment"},
     {"decision": "permit", "cites": "164.526(a)(1)", "fields_released": None, "accounting_required": False,
      "reason": "2026-06-30"}),
    ("526a2iii_amend_psychotherapy_note_may_be_denied",
     {"requester": PATIENT, "purpose": "amendment", "note_kind": "psychotherapy"},
     {"decision": "discretionary", "cites": "164.526(a)(2)(iii)"}),
    ("526a1_only_the_individual_requests_amendment",
     {"purpose": "amendment"},
     {"decision": "deny", "cites": "164.526(a)(1)"}),
]


@pytest.mark.parametrize("overrides,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_164_524_and_164_526_individual_rights(run, expect, overrides, expected):
    """45 CFR 164.524(a)(1), (b)(2), (c)(3)(ii); 164.526(a); 164.502(g)(1), (g)(3)."""
    expect(run(overrides), expected)


def test_164_524_b_2_and_164_526_b_2_deadline_at_the_end_of_the_calendar(run, expect):
    """45 CFR 164.524(b)(2) (30 days) and 164.526(b)(2) (60 days): a decision instant near
    9999-12-31 still gets a decision (the deadline is capped), not an OverflowError."""
    late = "9999-12-31T23:59:59Z"
    expect(run({"requester": {"role": "patient", "org": "self"}, "purpose": "individual_access",
                "decision_time": late}), {"decision": "permit"})
    out = run({"requester": {"role": "patient", "org": "self"}, "purpose": "amendment",
               "decision_time": late})
    assert out["decision"] in ("permit", "deny", "discretionary")

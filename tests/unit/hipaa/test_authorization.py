"""45 CFR 164.508(b)-(c): authorization defects, compound and conditioned authorizations,
revocation with reliance, expiration by date and by event."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from confide.hipaa.authorization import Defect, authorization_defects

AT = datetime(2026, 5, 1, 15, tzinfo=timezone.utc)
REQUEST = {"patient": "P-001", "note_kind": "psychotherapy",
           "requester": {"role": "insurer_health_plan", "org": "Acme Health Plan"}}

# (id, template, changes, defect code, citation)
DEFECTS = [
    ("b2i_expired_by_date", "psych", {"expiration_date": "2026-04-30"}, "expired", "164.508(b)(2)(i)"),
    ("b2i_expired_by_event", "psych", {"expiration_date": None, "expiration_event": "end of treatment",
                                       "expiration_event_occurred": True},
     "expiration_event_occurred", "164.508(b)(2)(i)"),
    ("c1i_description", "psych", {"description": ""}, "missing_description", "164.508(c)(1)(i)"),
    ("c1ii_discloser", "psych", {"authorized_discloser": None}, "missing_authorized_discloser",
     "164.508(c)(1)(ii)"),
    ("c1iii_recipients", "psych", {"recipients": []}, "missing_recipients", "164.508(c)(1)(iii)"),
    ("c1iv_purposes", "psych", {"purposes": []}, "missing_purposes", "164.508(c)(1)(iv)"),
    ("c1v_expiration", "psych", {"expiration_date": None, "expiration_event": None},
     "missing_expiration", "164.508(c)(1)(v)"),
    ("c1vi_signature", "psych", {"signed_by": None}, "missing_signature", "164.508(c)(1)(vi)"),
    ("c1vi_representative_authority", "psych", {"signer_role": "personal_representative",
                                                "signed_by": "mother", "rep_authority_described": None},
     "personal_representative_authority_missing", "164.508(c)(1)(vi)"),
    ("c1vi_signed_after_the_decision", "psych", {"signed_date": "2026-05-02"}, "not_yet_signed",
     "164.508(c)(1)(vi)"),
    ("c2i_right_to_revoke", "psych", {"statements_present": {"right_to_revoke": False, "conditioning": True,
                                                             "redisclosure": True}},
     "missing_statement_right_to_revoke", "164.508(c)(2)(i)"),
    ("c2ii_conditioning", "psych", {"statements_present": {"right_to_revoke": True, "conditioning": False,
                                                           "redisclosure": True}},
     "missing_statement_conditioning", "164.508(c)(2)(ii)"),
    ("c2iii_redisclosure", "psych", {"statements_present": {"right_to_revoke": True, "conditioning": True,
                                                            "redisclosure": False}},
     "missing_statement_redisclosure", "164.508(c)(2)(iii)"),
    ("c3_plain_language", "psych", {"plain_language": False}, "not_plain_language", "164.508(c)(3)(i)"),
    ("b5_written_revocation_received_before", "psych",
     {"revoked": True, "revocation": {"in_writing": True, "received_at": "2026-04-20T09:00:00Z"}},
     "revoked", "164.508(b)(5)"),
    ("b3ii_psychotherapy_with_progress_notes", "psych",
     {"covers": ["psychotherapy_notes", "progress_notes"], "compound": True}, "compound_psychotherapy_notes",
     "164.508(b)(3)(ii)"),
    ("b3ii_psychotherapy_with_consent_to_treatment", "psych",
     {"compound": True, "combined_with": ["consent_to_treatment"]}, "compound_psychotherapy_notes",
     "164.508(b)(3)(ii)"),
    ("b3_other_authorization_with_non_authorization_document", "progress",
     {"compound": True, "combined_with": ["notice_of_privacy_practices_acknowledgment"]},
     "compound_with_other_document", "164.508(b)(3)"),
    ("b3iii_conditioned_authorization_combined", "progress",
     {"compound": True, "combined_with": ["release_of_billing_records"], "conditioned_on": "enrollment"},
     "compound_conditioned", "164.508(b)(3)(iii)"),
    ("b4_payment_conditioned_on_signing", "psych", {"conditioned_on": "payment of claims"}, "conditioned",
     "164.508(b)(4)"),
    ("b4_treatment_conditioned_on_signing", "progress", {"conditioned_on": "treatment"}, "conditioned",
     "164.508(b)(4)"),
    ("b4iiB_enrollment_never_on_psychotherapy_notes", "psych", {"conditioned_on": "enrollment"},
     "conditioned", "164.508(b)(4)(ii)(B)"),
    ("b2v_material_information_false", "psych", {"material_information_known_false": True},
     "material_information_false", "164.508(b)(2)(v)"),
]


@pytest.mark.parametrize("template,changes,code,citation", [d[1:] for d in DEFECTS], ids=[d[0] for d in DEFECTS])
def test_164_508_b_2_defects(auth, template, changes, code, citation):
    """45 CFR 164.508(b)(2)(i)-(v), (b)(3), (b)(4), (b)(5), (c)(1)-(3): each defect is named
    with its citation."""
    defects = authorization_defects(auth(template, **changes), request=None, at=AT)
    assert code in [d.code for d in defects], defects
    found = next(d for d in defects if d.code == code)
    assert found.citation.endswith(citation)
    assert isinstance(found, Defect) and found.message
    assert set(found.to_dict()) == {"code", "citation", "ground", "message"}


VALID = [
    ("valid_psychotherapy_authorization", "psych", {}),
    ("b3ii_psychotherapy_with_another_psychotherapy_authorization", "psych",
     {"compound": True, "combined_with": ["psychotherapy_notes_authorization_to_dr_b"]}),
    ("b3_two_ordinary_authorizations", "progress",
     {"compound": True, "combined_with": ["authorization_release_of_billing_records"]}),
    ("b3i_research_with_research_consent", "progress",
     {"purposes": ["research study X"], "compound": True, "combined_with": ["research_informed_consent"],
      "expiration_event": "end of the research study", "expiration_date": None}),
    ("b4i_research_related_treatment", "progress", {"conditioned_on": "research-related treatment"}),
    ("b4ii_pre_enrollment_underwriting", "progress", {"conditioned_on": "enrollment"}),
    ("b4iii_care_solely_for_third_party", "progress",
     {"conditioned_on": "health care solely to create information for a third party"}),
    ("b2i_expiration_event_not_occurred", "psych", {"expiration_date": None,
                                                    "expiration_event": "end of treatment",
                                                    "expiration_event_occurred": False}),
    ("b2i_expires_today_still_valid", "psych", {"expiration_date": "2026-05-01"}),
    ("b5_revocation_received_after_decision_reliance", "psych",
     {"revoked": True, "revocation": {"in_writing": True, "received_at": "2026-05-02T09:00:00Z"}}),
    ("b5_oral_revocation_not_effective", "psych",
     {"revoked": True, "revocation": {"in_writing": False, "received_at": "2026-04-20T09:00:00Z"}}),
    ("c1vi_representative_with_authority", "psych",
     {"signer_role": "personal_representative", "signed_by": "mother",
      "rep_authority_described": "parent of minor patient"}),
]


@pytest.mark.parametrize("template,changes", [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_164_508_c_valid_authorizations_have_no_defects(auth, template, changes):
    """45 CFR 164.508(b)(3)(i)-(iii), (b)(4)(i)-(iii), (b)(5)(i), (c)(1): lawful forms pass."""
    assert authorization_defects(auth(template, **changes), request=None, at=AT) == []


def test_164_508_a_1_consistency_with_the_request(auth):
    """45 CFR 164.508(a)(1): the disclosure must match the authorization's patient, recipient and
    description."""
    defects = authorization_defects(auth(patient="P-002", recipients=["Other Plan"], covers=["progress_notes"]),
                                    request=REQUEST, at=AT)
    assert {"patient_mismatch", "recipient_not_named", "not_covered"} <= {d.code for d in defects}


def test_authorization_defects_accepts_rfc3339_string_instant(auth):
    """The disclosures service passes the instant as RFC 3339 text."""
    assert authorization_defects(auth(), request=None, at="2026-05-01T15:00:00Z") == []


ENGINE = [
    ("b5_reliance_decision_before_revocation_received",
     {"note_kind": "psychotherapy", "decision_time": "2026-04-19T10:00:00Z",
      "authorization": {"$template": "psych", "revoked": True,
                        "revocation": {"in_writing": True, "received_at": "2026-04-20T09:00:00Z"}}},
     {"decision": "permit", "accounting_required": False, "minimum_necessary_applies": False}),
    ("b5_replayed_after_revocation_denied",
     {"note_kind": "psychotherapy", "decision_time": "2026-04-20T09:00:00Z", "replay": True,
      "authorization": {"$template": "psych", "revoked": True,
                        "revocation": {"in_writing": True, "received_at": "2026-04-20T09:00:00Z"}}},
     {"decision": "deny", "cites": ["164.508(b)(5)", "164.508(b)(2)(iii)"]}),
    ("b2i_expired_by_event_denied",
     {"note_kind": "psychotherapy",
      "authorization": {"$template": "psych", "expiration_date": None, "expiration_event": "discharge",
                        "expiration_event_occurred": True}},
     {"decision": "deny", "cites": "164.508(b)(2)(i)"}),
    ("b4_conditioned_psychotherapy_authorization_denied",
     {"note_kind": "psychotherapy", "authorization": {"$template": "psych", "conditioned_on": "payment"}},
     {"decision": "deny", "cites": ["164.508(b)(4)", "164.508(b)(2)(iv)"]}),
    ("a1_progress_notes_to_non_covered_insurer_under_authorization",
     {"requester": {"role": "insurer_non_covered", "org": "Acme Health Plan"},
      "authorization": {"$template": "progress"}},
     {"decision": "permit", "cites": ["164.508(a)(1)", "164.528(a)(1)(iv)"], "accounting_required": False,
      "minimum_necessary_applies": False}),
    ("a1_non_covered_insurer_without_authorization",
     {"requester": {"role": "insurer_non_covered", "org": "Life Co"}},
     {"decision": "deny", "cites": "164.508(a)(1)"}),
    ("a1_wrong_recipient",
     {"note_kind": "psychotherapy", "requester": {"role": "insurer_health_plan", "org": "Other Plan"},
      "authorization": {"$template": "psych"}},
     {"decision": "deny", "cites": ["164.508(a)(1)", "164.508(c)(1)(iii)"]}),
]


@pytest.mark.parametrize("overrides,expected", [e[1:] for e in ENGINE], ids=[e[0] for e in ENGINE])
def test_164_508_b_5_and_a_1_engine_relies_only_on_valid_authorizations(run, expect, overrides, expected):
    """45 CFR 164.508(a)(1), (b)(2), (b)(4), (b)(5): decisions under an authorization on file."""
    expect(run(overrides), expected)

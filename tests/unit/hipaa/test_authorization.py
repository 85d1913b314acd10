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
      "expiration_event": "end of the research study", "expiration_date": None,
      "expiration_event_occurred": False}),
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


# 45 CFR 164.508(a)(2), (c)(1)(i): the description must describe psychotherapy notes; an item
# that excepts or negates them does not, however it spells "psychotherapy".
COVERS = [
    ("canonical_token", ["psychotherapy_notes"], True),
    ("spelled_out", ["Psychotherapy notes of Dr. A, 2026-01 to 2026-03"], True),
    ("with_another_psychotherapy_item", ["psychotherapy notes (not progress notes)"], True),
    ("all_records_except", ["all records except psychotherapy notes"], False),
    ("progress_only_not_psychotherapy", ["progress notes only, NOT psychotherapy notes"], False),
    ("excluding", ["entire chart excluding psychotherapy notes"], False),
    ("other_than", ["records other than psychotherapy notes"], False),
    ("excluded_after", ["psychotherapy notes excluded"], False),
    ("limited_to_something_else", ["progress notes only"], False),
]


@pytest.mark.parametrize("covers,expected", [c[1:] for c in COVERS], ids=[c[0] for c in COVERS])
def test_164_508_c_1_i_coverage_of_psychotherapy_notes_is_parsed_not_keyword_matched(auth, covers, expected):
    """45 CFR 164.508(a)(2), (c)(1)(i): "all records except psychotherapy notes" is not a
    psychotherapy-notes authorization."""
    codes = [d.code for d in authorization_defects(auth(covers=covers), request=REQUEST, at=AT)]
    assert ("not_covered" not in codes) is expected, codes


def test_164_508_c_1_i_records_except_psychotherapy_notes_still_cover_progress_notes(auth):
    """45 CFR 164.508(a)(1), (c)(1)(i): the excepting item describes the rest of the record."""
    request = {**REQUEST, "note_kind": "progress"}
    for covers in (["all records except psychotherapy notes"], ["progress notes only, NOT psychotherapy notes"]):
        assert authorization_defects(auth(covers=covers), request=request, at=AT) == []


# 45 CFR 164.508(a)(1), (c)(1)(iii): the requester must be a recipient the authorization names.
RECIPIENTS = [
    ("same_name", {"org": "Acme Health Plan"}, ["Acme Health Plan"], True),
    ("case_punctuation_and_suffix", {"org": "ACME  Health Plan, Inc."}, ["Acme Health Plan"], True),
    ("named_among_others", {"org": "Acme Health Plan"}, ["Acme Health Plan and Riverside Psychiatry"], True),
    ("one_letter_org_is_not_a_name_match", {"org": "a", "id": "a"}, ["Acme Health Plan"], False),
    ("word_fragment_of_the_id", {"org": "Evil Corp", "id": "Health"}, ["Acme Health Plan"], False),
    ("id_equal_to_a_full_recipient_name", {"org": "Acme", "id": "acme health plan"}, ["Acme Health Plan"], True),
    ("single_word_org_inside_a_longer_name", {"org": "Acme"}, ["Acme Health Plan"], False),
]


@pytest.mark.parametrize("requester,recipients,named", [r[1:] for r in RECIPIENTS], ids=[r[0] for r in RECIPIENTS])
def test_164_508_c_1_iii_recipient_is_matched_by_whole_name(auth, requester, recipients, named):
    """45 CFR 164.508(c)(1)(iii): whole names (normalised), never substrings."""
    request = {**REQUEST, "requester": {"role": "insurer_health_plan", **requester}}
    codes = [d.code for d in authorization_defects(auth(recipients=recipients), request=request, at=AT)]
    assert ("recipient_not_named" not in codes) is named, codes


def test_164_508_b_2_v_material_information_false_either_spelling(auth):
    """45 CFR 164.508(b)(2)(v): material information known to be false -- under the field name the
    disclosures service records (``material_information_false``) and the long one."""
    for key in ("material_information_false", "material_information_known_false"):
        defects = authorization_defects(auth(**{key: True}), request=None, at=AT)
        assert [d.citation for d in defects if d.code == "material_information_false"] == ["45 CFR 164.508(b)(2)(v)"]


def test_164_508_c_1_i_authorization_must_identify_the_individual(run, expect):
    """45 CFR 164.508(a)(1), (c)(1)(i): an authorization with no ``patient`` does not identify
    whose information it describes; it cannot be relied on for this patient's notes."""
    expect(run({"note_kind": "psychotherapy", "authorization": {"$template": "psych", "patient": None,
                                                                "signed_by": "P-001"}}),
           {"decision": "deny", "cites": ["164.508(a)(1)", "164.508(c)(1)(i)"]})


# 45 CFR 164.508(a)(1), (c)(1)(iv): the use or disclosure must be consistent with the stated
# purposes; "at the request of the individual" covers any purpose.
PURPOSES = [
    ("marketing_for_payment", "payment", ["marketing"], False),
    ("payment_for_payment", "payment", ["payment"], True),
    ("claims_review_for_payment", "payment", ["Claims review by my health plan"], True),
    ("individuals_request_covers_anything", "payment", ["At the request of the individual"], True),
    ("patients_request", "judicial", ["patient's request"], True),
    ("treatment_for_research", "research", ["continuity of care"], False),
    ("study_for_research", "research", ["Depression outcomes study"], True),
    ("litigation_for_judicial", "judicial", ["custody litigation"], True),
    ("injury_claim_for_workers_comp", "workers_comp", ["work injury claim"], True),
    ("unknown_request_purpose_is_not_checked", "other", ["employment screening"], True),
]


@pytest.mark.parametrize("purpose,stated,consistent", [p[1:] for p in PURPOSES], ids=[p[0] for p in PURPOSES])
def test_164_508_c_1_iv_purpose_must_be_consistent(auth, purpose, stated, consistent):
    """45 CFR 164.508(a)(1), (c)(1)(iv)."""
    request = {**REQUEST, "purpose": purpose}
    codes = [d.code for d in authorization_defects(auth(purposes=stated), request=request, at=AT)]
    assert ("purpose_inconsistent" not in codes) is consistent, codes


def test_164_508_a_1_marketing_authorization_does_not_permit_a_payment_disclosure(run, expect):
    """45 CFR 164.508(a)(1), (c)(1)(iv): engine level."""
    expect(run({"note_kind": "psychotherapy", "authorization": {"$template": "psych", "purposes": ["marketing"]}}),
           {"decision": "deny", "cites": "164.508(c)(1)(iv)"})


SIGNED = [
    ("signed_later_the_same_day", "2026-05-01T23:00:00Z", "not_yet_signed"),
    ("signed_earlier_the_same_day", "2026-05-01T09:00:00Z", None),
    ("date_only_same_day", "2026-05-01", None),
    ("date_only_next_day", "2026-05-02", "not_yet_signed"),
]


@pytest.mark.parametrize("signed,code", [s[1:] for s in SIGNED], ids=[s[0] for s in SIGNED])
def test_164_508_c_1_vi_signed_instant_is_compared_with_the_decision_instant(auth, signed, code):
    """45 CFR 164.508(c)(1)(vi), (b)(2)(ii): an authorization signed after the decision instant was
    not on file; with a time given, instants are compared, otherwise dates."""
    codes = [d.code for d in authorization_defects(auth(signed_date=signed), request=None, at=AT)]
    assert (code in codes) if code else codes == [], codes


def test_164_508_b_2_i_expiration_instant_is_compared_with_the_decision_instant(auth):
    """45 CFR 164.508(b)(2)(i): an expiration instant earlier the same day has passed; an
    expiration date runs to the end of that day."""
    assert "expired" in [d.code for d in authorization_defects(
        auth(expiration_date="2026-05-01T10:00:00Z"), request=None, at=AT)]
    assert authorization_defects(auth(expiration_date="2026-05-01"), request=None, at=AT) == []


CONDITIONED = [
    ("payment_solely", "payment solely", True),
    ("third_party_payment", "third party payment of claims", True),
    ("care_solely_for_third_party", "health care solely to create information for a third party", False),
    ("pre_employment_exam_only_for_employer", "pre-employment physical solely for the employer", False),
    ("research_related_treatment", "research-related treatment", False),
    ("payment_for_research", "payment of research claims", True),
]


@pytest.mark.parametrize("cond,defective", [c[1:] for c in CONDITIONED], ids=[c[0] for c in CONDITIONED])
def test_164_508_b_4_conditioning_exceptions_read_as_written(auth, cond, defective):
    """45 CFR 164.508(b)(4)(i)/(iii): research-related treatment, and health care solely to
    create PHI for a third party -- not any text containing "solely" or "third party"."""
    codes = [d.code for d in authorization_defects(auth("progress", conditioned_on=cond), request=None, at=AT)]
    assert ("conditioned" in codes) is defective, codes


def test_164_508_b_3_ii_psychotherapy_form_combined_with_a_questionnaire(auth):
    """45 CFR 164.508(b)(3)(ii): a psychotherapy-notes authorization may be combined only with
    another psychotherapy-notes authorization, not an employment questionnaire about therapy."""
    codes = [d.code for d in authorization_defects(
        auth(combined_with=["employment psychotherapy questionnaire"]), request=None, at=AT)]
    assert "compound_psychotherapy_notes" in codes


def test_164_508_c_1_iii_recipient_named_with_a_gloss(auth):
    """45 CFR 164.508(c)(1)(iii): "Jane Roe (sister)" names the requester Jane Roe; a patient is
    a recipient named as "the patient" or by the patient's id."""
    request = {**REQUEST, "requester": {"role": "patient_designee", "id": "Jane Roe"}}
    assert "recipient_not_named" not in [d.code for d in authorization_defects(
        auth(recipients=["Jane Roe (sister)"]), request=request, at=AT)]
    request = {**REQUEST, "requester": {"role": "patient", "org": "self"}}
    for recipients in (["The patient"], ["P-001"]):
        assert "recipient_not_named" not in [d.code for d in authorization_defects(
            auth(recipients=recipients), request=request, at=AT)]


# Attacks: a form that passes ``check_authorization`` by filling a core element with blanks, or by
# naming other records inside the psychotherapy-notes item itself.
BLANK_ELEMENTS = [
    ("c1ii_discloser_blank", {"authorized_discloser": "   "}, "missing_authorized_discloser"),
    ("c1iii_recipients_blank", {"recipients": [" ", ""]}, "missing_recipients"),
    ("c1iv_purposes_blank", {"purposes": [""]}, "missing_purposes"),
    ("c1i_description_blank", {"description": "\t"}, "missing_description"),
    ("c1vi_signature_blank", {"signed_by": "  "}, "missing_signature"),
    ("c1v_expiration_event_blank", {"expiration_date": None, "expiration_event": " "}, "missing_expiration"),
]


@pytest.mark.parametrize("changes,code", [b[1:] for b in BLANK_ELEMENTS], ids=[b[0] for b in BLANK_ELEMENTS])
def test_164_508_c_1_a_core_element_of_blanks_is_missing(auth, changes, code):
    """45 CFR 164.508(c)(1)(i)-(vi), (b)(2)(ii): whitespace is not a name, a purpose or a signature."""
    assert code in [d.code for d in authorization_defects(auth(**changes), request=None, at=AT)]


@pytest.mark.parametrize("covers", [["psychotherapy notes and progress notes"], ["psychotherapy notes; progress notes"],
                                    ["psychotherapy notes, all records"],
                                    ["psychotherapy_notes", "psychotherapy notes and the entire chart"],
                                    ["psychotherapy notes plus billing records"]])
def test_164_508_b_3_ii_other_records_inside_the_psychotherapy_item_make_it_compound(auth, covers):
    """45 CFR 164.508(b)(3)(ii): naming other records in the same item as the psychotherapy notes is
    combining the psychotherapy-notes authorization with another."""
    codes = [d.code for d in authorization_defects(auth(covers=covers), request=None, at=AT)]
    assert "compound_psychotherapy_notes" in codes, codes


@pytest.mark.parametrize("covers", [["psychotherapy notes"], ["psychotherapy notes, excluding progress notes"],
                                    ["psychotherapy notes of Dr. A, 2026"], ["psychotherapy notes (not the chart)"]])
def test_164_508_b_3_ii_a_psychotherapy_item_alone_is_not_compound(auth, covers):
    """45 CFR 164.508(b)(3)(ii): an item naming only psychotherapy notes (or excluding the rest) stands alone."""
    codes = [d.code for d in authorization_defects(auth(covers=covers), request=None, at=AT)]
    assert "compound_psychotherapy_notes" not in codes, codes


def test_164_508_a_1_sessions_outside_the_described_ones_are_not_covered(auth):
    """45 CFR 164.508(a)(1), (c)(1)(i): an authorization describing sessions by date covers those only."""
    january = auth("progress", description="progress notes of sessions 2026-01-01 to 2026-01-31")
    request = {**REQUEST, "note_kind": "progress"}
    codes = lambda sessions: [d.code for d in authorization_defects(  # noqa: E731
        january, request={**request, "note_sessions": sessions}, at=AT)]
    assert "outside_description" in codes(["2026-01-20", "2026-02-10"])
    assert "outside_description" in codes([""])  # a note without a session date is not shown to be within
    assert "outside_description" not in codes(["2026-01-01", "2026-01-31"])
    assert "outside_description" not in [d.code for d in authorization_defects(
        auth("progress", description="progress notes of 2026"), request={**request, "note_sessions": ["2026-02-10"]},
        at=AT)]

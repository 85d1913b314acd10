"""42 CFR Part 2 as amended in 2024 (89 FR 12472): SUD counseling notes (2.11, 2.31(b)), the single
consent for treatment, payment and health care operations (2.31(a)(4)(i), 2.33), the redisclosure
notice (2.32) and the records' segregation flag (record_is_part2)."""
from __future__ import annotations

import pytest

from confide.hipaa.rules.cfr42_part2 import REDISCLOSURE_NOTICE

SUD = {"note_kind": "sud_counseling"}
PAYER = {"role": "insurer_health_plan", "org": "Acme Health Plan", "is_covered_entity": True}


def consent(auth, **changes):
    """A Part 2 consent on the authorization form: covers Part 2 records."""
    base = {"covers": ["part2_records"], "description": "SUD treatment records of P-001",
            "recipients": ["Acme Health Plan"], "purposes": ["payment of claims"]}
    return auth("progress", **{**base, **changes})


def sud_consent(auth, **changes):
    """A consent naming SUD counseling notes alone (2.31(b))."""
    base = {"covers": ["sud_counseling_notes"], "description": "SUD counseling notes of 2026 by C-A",
            "recipients": ["Acme Health Plan"], "purposes": ["at the request of the individual"]}
    return auth("psych", **{**base, **changes})


def test_2_11_sud_counseling_notes_are_part2_records_whatever_the_flag(run, expect):
    """42 CFR 2.11: SUD counseling notes are a Part 2 program's notes; record_is_part2: false does
    not take them out of Part 2."""
    out = run({**SUD, "requester": PAYER, "record_is_part2": False})
    expect(out, {"decision": "deny", "cites": ["164.508(a)(2)", "42 CFR 2.31(b)(1)"], "reason": "2.11"})


@pytest.mark.parametrize("overrides,decision,cites", [
    # (b)(1)(i)(A) the originator's own treatment use
    ({"requester": {"role": "originator_clinician", "id": "C-A", "is_originator": True}, "purpose": "treatment",
      "action": "use", "note_originator": "C-A"}, "permit", ["164.508(a)(2)(i)(A)", "42 CFR 2.31(b)(1)(i)(A)"]),
    # (b)(1)(i)(B) the program's own supervised training
    ({"requester": {"role": "trainee", "in_ce_training_program": True, "supervised": True}, "purpose": "training",
      "action": "use"}, "permit", ["42 CFR 2.31(b)(1)(i)(B)"]),
    # (b)(1)(i)(C) the program defends itself against the patient
    ({"requester": {"role": "defense_counsel", "org": "Program's counsel"}, "purpose": "legal_defense_vs_individual",
      "proceeding": {"initiator": "P-001", "defendant": "Northside Recovery Program"}},
     "permit", ["42 CFR 2.31(b)(1)(i)(C)", "42 CFR 2.32(a)"]),
    # (b)(1)(ii) audit/oversight of the originator (2.53)
    ({"requester": {"role": "health_oversight_agency", "org": "State Board", "identity_verified": True},
      "purpose": "health_oversight", "oversight_subject": "C-A", "note_originator": "C-A"},
     "permit_minimum_necessary", ["42 CFR 2.31(b)(1)(ii)", "42 CFR 2.53"]),
    # oversight of someone else: no exception
    ({"requester": {"role": "health_oversight_agency", "org": "State Board", "identity_verified": True},
      "purpose": "health_oversight", "oversight_subject": "C-B", "note_originator": "C-A"},
     "deny", ["164.508(a)(2)(ii)", "42 CFR 2.31(b)(1)"]),
    # a colleague's treatment use is not the originator's
    ({"requester": {"role": "clinician_same_practice", "id": "C-B"}, "purpose": "treatment", "action": "use",
      "note_originator": "C-A"}, "deny", ["42 CFR 2.31(b)(1)"]),
])
def test_2_31_b_1_sud_counseling_notes_exceptions(run, expect, overrides, decision, cites):
    """42 CFR 2.31(b)(1)(i)(A)-(C), (ii): the only uses and disclosures of SUD counseling notes
    without a consent naming them."""
    expect(run({**SUD, **overrides}), {"decision": decision, "cites": cites})


def test_2_31_b_1_general_part2_consent_does_not_reach_sud_counseling_notes(run, expect, auth):
    """42 CFR 2.31(b)(1): a general Part 2 consent (`patient_consent`, or an authorization covering
    `part2_records`) does not release SUD counseling notes; one naming them does."""
    general = run({**SUD, "requester": PAYER, "patient_consent": True, "authorization": consent(auth)})
    expect(general, {"decision": "deny", "cites": "42 CFR 2.31(b)(1)"})
    named = run({**SUD, "requester": PAYER, "authorization": sud_consent(auth)})
    expect(named, {"decision": "permit", "cites": ["164.508(a)(2)", "42 CFR 2.31(b)(1)", "42 CFR 2.32(a)"],
                   "reason": REDISCLOSURE_NOTICE})


def test_2_31_b_2_sud_counseling_notes_consent_combined_only_with_its_like(run, expect, auth):
    """42 CFR 2.31(b)(2): a consent for SUD counseling notes may be combined only with another
    consent for SUD counseling notes."""
    out = run({**SUD, "requester": PAYER,
               "authorization": sud_consent(auth, covers=["sud_counseling_notes", "part2_records"])})
    expect(out, {"decision": "deny", "cites": "42 CFR 2.31(b)(2)"})
    twin = run({**SUD, "requester": PAYER,
                "authorization": sud_consent(auth, compound=True,
                                             combined_with=["SUD counseling notes consent to Dr. B"])})
    expect(twin, {"decision": "permit"})


def test_2_31_sud_counseling_notes_kept_with_the_record_are_part2_records(run, expect):
    """42 CFR 2.11: notes not kept apart are not SUD counseling notes -- decided as Part 2
    progress-note content, which still needs consent for payment (2.31, 2.33)."""
    out = run({**SUD, "requester": PAYER, "stored_separately": False})
    expect(out, {"decision": "deny", "cites": ["42 CFR 2.31", "164.506(c)(3)"]})
    out = run({**SUD, "requester": PAYER, "stored_separately": False, "patient_consent": True})
    expect(out, {"decision": "permit_minimum_necessary", "cites": "42 CFR 2.32(a)"})


def test_2_33_a_2_single_tpo_consent_reaches_every_tpo_disclosure(run, expect, auth):
    """42 CFR 2.31(a)(4)(i), 2.33(a)(2): the single consent for all future TPO uses and
    disclosures, recipients described generally, permits what HIPAA permits for TPO; 2.33(b)(1) is
    told to the recipient."""
    tpo = consent(auth, part2_tpo_consent=True, recipients=["my treating providers, health plans, "
                                                            "third-party payers"],
                  purposes=["treatment, payment and health care operations"])
    out = run({"requester": PAYER, "record_is_part2": True, "authorization": tpo})
    expect(out, {"decision": "permit_minimum_necessary",
                 "cites": ["164.506(c)(3)", "42 CFR 2.33(a)(2)", "42 CFR 2.33(b)(1)", "42 CFR 2.32(a)"],
                 "reason": "proceedings against the patient"})
    treat = run({"requester": {"role": "external_clinician", "org": "Riverside Psychiatry"}, "purpose": "treatment",
                 "record_is_part2": True, "authorization": tpo})
    expect(treat, {"decision": "permit", "cites": "42 CFR 2.33(a)(2)"})


@pytest.mark.parametrize("changes,why", [
    ({"part2_tpo_consent": False}, "not a TPO consent"),
    ({"part2_tpo_consent": None}, "TPO consent unknown"),
    ({"covers": ["progress_notes"]}, "a general HIPAA authorization is not a Part 2 consent"),
    ({"revoked": True, "revocation": {"in_writing": True, "received_at": "2026-04-20T09:00:00Z"}}, "revoked"),
    ({"plain_language": None}, "validity not established"),
])
def test_2_33_a_2_tpo_consent_only_when_established_and_valid(run, expect, auth, changes, why):
    """42 CFR 2.31, 2.33(a)(2): without a valid single TPO consent covering Part 2 records (and no
    other consent), a TPO disclosure of a Part 2 record is denied."""
    tpo = consent(auth, part2_tpo_consent=True, recipients=["my health plans"],
                  purposes=["treatment, payment and health care operations"])
    out = run({"requester": PAYER, "record_is_part2": True, "authorization": {**tpo, **changes}})
    expect(out, {"decision": "deny", "cites": "42 CFR 2.31"})


def test_2_33_a_2_tpo_consent_does_not_reach_other_purposes(run, expect, auth):
    """42 CFR 2.33(a)(2): the TPO consent is for treatment, payment and health care operations only;
    a research disclosure without a waiver or other consent stays denied, a judicial one needs an
    order (2.61-2.64)."""
    tpo = consent(auth, part2_tpo_consent=True, recipients=["my health plans"], purposes=["TPO"])
    out = run({"requester": {"role": "attorney", "org": "Opposing counsel"}, "purpose": "judicial",
               "record_is_part2": True, "authorization": tpo,
               "legal_process": {"type": "subpoena_without_court_order", "satisfactory_assurance": True}})
    expect(out, {"decision": "deny", "cites": ["42 CFR 2.61", "42 CFR 2.64"]})


def test_2_31_general_authorization_is_not_a_part2_consent(run, expect, auth):
    """42 CFR 2.31, 2.32(a) ("a general authorization for the release of medical or other
    information is NOT sufficient"): a HIPAA authorization that does not name Part 2 records."""
    out = run({"requester": {"role": "insurer_non_covered", "org": "Acme Health Plan"}, "purpose": "other",
               "record_is_part2": True, "authorization": auth("progress")})
    expect(out, {"decision": "deny", "cites": "42 CFR 2.31", "reason": "does not name Part 2 records"})
    named = run({"requester": {"role": "insurer_non_covered", "org": "Acme Health Plan"}, "purpose": "other",
                 "record_is_part2": True, "authorization": consent(auth, purposes=["at the request of the individual"])})
    expect(named, {"decision": "permit", "cites": ["164.508(a)(1)", "42 CFR 2.32(a)"], "reason": "2.32(b)"})


@pytest.mark.parametrize("overrides", [
    {"patient_consent": True},                                                     # with consent
    {"requester": {"role": "patient"}, "purpose": "individual_access"},            # 2.23
    {"requester": {"role": "health_oversight_agency", "identity_verified": True}, "purpose": "health_oversight"},
])
def test_2_32_every_released_part2_record_carries_the_notice(run, expect, overrides):
    """42 CFR 2.32(a): the notice prohibiting redisclosure goes with the records; the decision
    carries its text and citation."""
    out = run({"record_is_part2": True, **overrides})
    assert out["decision"].startswith("permit"), out
    expect(out, {"cites": "42 CFR 2.32(a)", "reason": REDISCLOSURE_NOTICE})


def test_2_32_no_notice_when_nothing_is_released_or_record_not_part2(run):
    """42 CFR 2.32 applies to Part 2 records that leave: not to a denial, not to other records."""
    denied = run({"record_is_part2": True})
    assert "42 CFR 2.32(a)" not in denied["citations"]
    plain = run({})
    assert not any("2.32" in c for c in plain["citations"])


def test_2_61_order_not_signed_by_a_judge_is_no_part2_order(run, expect):
    """42 CFR 2.61, 2.64: a paper called an order but not signed by a judge is a subpoena; it never
    releases Part 2 records without consent."""
    out = run({"requester": {"role": "attorney", "org": "Counsel"}, "purpose": "judicial", "record_is_part2": True,
               "legal_process": {"type": "court_order", "signed_by_judge": False,
                                 "satisfactory_assurance": "qualified_protective_order", "covers": ["progress"]}})
    expect(out, {"decision": "deny", "cites": "42 CFR 2.61"})


def test_2_64_judges_order_releases_part2_records_it_names(run, expect):
    """42 CFR 2.64: a court's order (with its findings) reaches Part 2 records; it must name them
    (45 CFR 164.512(e)(1)(i)) and the notice goes with them."""
    out = run({"requester": {"role": "court", "org": "Court"}, "purpose": "judicial", "record_is_part2": True,
               "legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["progress"]}})
    expect(out, {"decision": "permit", "cites": ["42 CFR 2.64", "42 CFR 2.32(a)"]})


def test_2_64_order_whose_signature_is_unknown_stays_held(run, expect):
    """42 CFR 2.61, 2.64 with 45 CFR 164.512(e)(1)(i): a paper called a court order whose signature
    is not on file may be a judge's (2.64) order; it is held until verified, not released and not
    refused."""
    out = run({"requester": {"role": "court", "org": "Court"}, "purpose": "judicial", "record_is_part2": True,
               "legal_process": {"type": "court_order", "covers": ["progress"]}})
    expect(out, {"decision": "hold", "cites": ["164.512(e)(1)(i)", "42 CFR 2.64"], "reason": "signed_by_judge"})

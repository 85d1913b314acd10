"""42 CFR Part 2 as amended in 2024 (89 FR 12472): SUD counseling notes (2.11, 2.31(b)), the single
consent for treatment, payment and health care operations (2.31(a)(4)(i), 2.33(a)(2), 2.33(b)(1)),
the redisclosure notice (2.32), the disclosures without consent (2.12(c)(6), 2.15(b)(1), 2.51, 2.53),
court orders (2.61, 2.63-2.65) and the records' segregation flag (record_is_part2).  Sources:
docs/law-sources.md."""
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
    # (b)(1)(ii) audit/oversight of the originator (2.53, with the auditor's written agreement)
    ({"requester": {"role": "health_oversight_agency", "org": "State Board", "identity_verified": True},
      "purpose": "health_oversight", "oversight_subject": "C-A", "note_originator": "C-A",
      "part2_audit_agreement": True},
     "permit_minimum_necessary", ["42 CFR 2.31(b)(1)(ii)", "42 CFR 2.53"]),
    # ... whose written agreement is not on file: held (2.53)
    ({"requester": {"role": "health_oversight_agency", "org": "State Board", "identity_verified": True},
      "purpose": "health_oversight", "oversight_subject": "C-A", "note_originator": "C-A"},
     "hold", ["42 CFR 2.53", "42 CFR 2.31(b)(1)(ii)"]),
    # (b)(1)(ii) cause of death (2.15(b)(1))
    ({"requester": {"role": "coroner_me", "org": "County ME"}, "purpose": "coroner_me", "patient_deceased": True},
     "permit_minimum_necessary", ["42 CFR 2.31(b)(1)(ii)", "42 CFR 2.15(b)(1)"]),
    # a judge's order naming the notes: the patient's confidential communications (2.63(a))
    ({"requester": {"role": "court", "org": "Court"}, "purpose": "judicial",
      "legal_process": {"type": "court_order", "signed_by_judge": True, "scope": "SUD counseling notes of 2026"}},
     "permit", ["42 CFR 2.63(a)", "42 CFR 2.64", "42 CFR 2.32(a)"]),
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


@pytest.mark.parametrize("overrides,hipaa", [
    ({"requester": {"role": "person_able_to_prevent_threat"}, "purpose": "serious_threat",
      "good_faith_belief_imminent": True}, "164.512(j)(1)(i)"),
    ({"requester": {"role": "health_oversight_agency", "org": "State"}, "purpose": "required_by_law",
      "mandate": {"statute": "State reporting law", "compels": True}}, "164.512(a)(1)"),
])
def test_2_31_b_1_ii_hipaa_exceptions_without_a_part2_counterpart_are_denied(run, expect, overrides, hipaa):
    """42 CFR 2.31(b)(1)(ii): HIPAA's 164.508(a)(2)(ii) also excepts the serious-threat disclosure
    and what a law requires; Part 2 permits neither without consent or a court order, so SUD
    counseling notes do not go (the denial says 2.31(b)(1)(ii)'s list was not verified)."""
    out = run({**SUD, **overrides})
    expect(out, {"decision": "deny", "cites": ["42 CFR 2.31(b)(1)(ii)", hipaa], "fields_released": None,
                 "reason": "could not be checked"})


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
    {"requester": {"role": "health_oversight_agency", "identity_verified": True}, "purpose": "health_oversight",
     "part2_audit_agreement": True},                                               # 2.53
])
def test_2_32_every_released_part2_record_carries_the_notice(run, expect, overrides):
    """42 CFR 2.32(a): each disclosure made with consent carries the notice prohibiting
    redisclosure; the engine attaches it to every released Part 2 record, and the decision carries
    its text and citation."""
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
    """42 CFR 2.61(b)(1), 2.64: a paper called an order but not signed by a judge is a subpoena; it
    never releases Part 2 records without consent."""
    out = run({"requester": {"role": "attorney", "org": "Counsel"}, "purpose": "judicial", "record_is_part2": True,
               "legal_process": {"type": "court_order", "signed_by_judge": False,
                                 "satisfactory_assurance": "qualified_protective_order", "covers": ["progress"]}})
    expect(out, {"decision": "deny", "cites": "42 CFR 2.61"})


def test_2_64_judges_order_releases_part2_records_it_names(run, expect):
    """42 CFR 2.64: a court's order for a noncriminal purpose (with its findings) reaches Part 2
    records; it must name them (45 CFR 164.512(e)(1)(i)) and the notice goes with them."""
    out = run({"requester": {"role": "court", "org": "Court"}, "purpose": "judicial", "record_is_part2": True,
               "legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["progress"]}})
    expect(out, {"decision": "permit", "cites": ["42 CFR 2.64", "42 CFR 2.32(a)"]})


def test_2_65_law_enforcement_needs_a_2_65_order(run, expect):
    """42 CFR 2.61(b)(1), 2.64(a), 2.65: an order for a criminal investigation or prosecution is a
    2.65 order (2.64 is for noncriminal purposes); a subpoena alone never releases the records."""
    order = run({"requester": {"role": "law_enforcement", "org": "City PD"}, "purpose": "law_enforcement",
                 "record_is_part2": True,
                 "legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["progress"]}})
    expect(order, {"decision": "permit", "cites": "42 CFR 2.65", "reason": "2.66"})
    assert "42 CFR 2.64" not in order["citations"]
    subpoena = run({"requester": {"role": "law_enforcement", "org": "City PD"}, "purpose": "law_enforcement",
                    "record_is_part2": True,
                    "legal_process": {"type": "subpoena_without_part2_order", "satisfactory_assurance": True}})
    expect(subpoena, {"decision": "deny", "cites": ["42 CFR 2.61(b)(1)", "42 CFR 2.65"]})


def test_2_12_c_6_child_abuse_report_is_not_a_release_of_the_records(run, expect):
    """42 CFR 2.12(c)(6): Part 2 does not restrict the report of suspected child abuse or neglect
    made under State law, but the restrictions continue to apply to the program's original records:
    releasing the note to child protective services needs consent or a court order."""
    out = run({"requester": {"role": "child_protective_services", "org": "County CPS", "identity_verified": True},
               "purpose": "required_by_law", "mandate": {"statute": "State child abuse reporting law",
                                                          "compels": True},
               "record_is_part2": True})
    expect(out, {"decision": "deny", "cites": "42 CFR 2.12(c)(6)", "reason": "original records"})
    consented = run({"requester": {"role": "child_protective_services", "org": "County CPS",
                                   "identity_verified": True},
                     "purpose": "required_by_law", "mandate": {"statute": "State law", "compels": True},
                     "record_is_part2": True, "patient_consent": True})
    expect(consented, {"decision": "permit", "cites": "42 CFR 2.32(a)"})


@pytest.mark.parametrize("requester,emergency,decision", [
    ({"role": "external_clinician", "org": "County ER"}, True, "permit"),
    ({"role": "external_clinician", "org": "County ER"}, None, "deny"),
])
def test_2_51_medical_emergency_to_medical_personnel(run, expect, requester, emergency, decision):
    """42 CFR 2.51(a)(1), (c): without consent, only to medical personnel in a bona fide medical
    emergency; the program documents the disclosure afterwards."""
    out = run({"requester": requester, "purpose": "treatment", "record_is_part2": True, "emergency": emergency})
    expect(out, {"decision": decision})
    if decision == "permit":
        expect(out, {"cites": "42 CFR 2.51(a)(1)", "reason": "2.51(c)"})
    else:
        expect(out, {"cites": "42 CFR 2.13(a)"})


@pytest.mark.parametrize("agreement,decision", [(True, "permit_minimum_necessary"), (None, "hold"),
                                                 (False, "deny")])
def test_2_53_oversight_needs_the_auditors_written_agreement(run, expect, agreement, decision):
    """42 CFR 2.53: records go to an auditor or evaluator (an oversight agency) only if it agrees
    in writing to 2.53's limits on use and redisclosure; not on file: held, naming the fact."""
    out = run({"requester": {"role": "health_oversight_agency", "org": "State", "identity_verified": True},
               "purpose": "health_oversight", "record_is_part2": True, "part2_audit_agreement": agreement})
    expect(out, {"decision": decision, "cites": "42 CFR 2.53"})
    if decision == "hold":
        expect(out, {"reason": "part2_audit_agreement", "fields_released": None})


def test_2_15_b_1_coroner_gets_cause_of_death_information(run, expect):
    """42 CFR 2.15(b)(1): Part 2 does not restrict information relating to the cause of death
    under laws requiring vital statistics or permitting inquiry into the cause of death."""
    out = run({"requester": {"role": "coroner_me", "org": "County ME"}, "purpose": "coroner_me",
               "patient_deceased": True, "record_is_part2": True})
    expect(out, {"decision": "permit_minimum_necessary", "cites": "42 CFR 2.15(b)(1)", "reason": "cause of death"})


def test_2_64_order_whose_signature_is_unknown_stays_held(run, expect):
    """42 CFR 2.61, 2.64 with 45 CFR 164.512(e)(1)(i): a paper called a court order whose signature
    is not on file may be a judge's (2.64) order; it is held until verified, not released and not
    refused."""
    out = run({"requester": {"role": "court", "org": "Court"}, "purpose": "judicial", "record_is_part2": True,
               "legal_process": {"type": "court_order", "covers": ["progress"]}})
    expect(out, {"decision": "hold", "cites": ["164.512(e)(1)(i)", "42 CFR 2.64"], "reason": "signed_by_judge"})

"""State overlays (45 CFR 160.203(b)): California (Civ. Code 56.104; Welf. & Inst. Code 5328) and
New York (Mental Hyg. Law 33.13, 33.16; Pub. Health Law 18), selected by the case's `jurisdiction`
and `practice_setting`; each stricter than HIPAA only, never looser; an unknown jurisdiction
releases nothing it would release only on HIPAA's permission.  Sources: docs/law-sources.md."""
from __future__ import annotations

import pytest

from confide.hipaa.rules import states

CA_REQUEST = {"signed": True, "specific_information_and_intended_use": True, "retention_period": True,
              "use_limited_to_intended_use": True, "destroy_or_return": True}
SUBPOENA_QPO = {"type": "subpoena_without_court_order", "satisfactory_assurance": "qualified_protective_order"}
ATTORNEY = {"role": "attorney", "org": "Plaintiff's counsel"}


def test_every_overlay_module_cites_its_sections():
    """Each state module names its code and cites its sections in its docstring."""
    assert set(states.OVERLAYS) == {"CA", "NY"}
    assert "56.104" in states.OVERLAYS["CA"].__doc__ and "5328" in states.OVERLAYS["CA"].__doc__
    assert "33.13" in states.OVERLAYS["NY"].__doc__ and "Public Health Law 18" in states.OVERLAYS["NY"].__doc__


def test_no_jurisdiction_is_federal_only(run, expect):
    """shared/cases/README.md: `jurisdiction` null or absent -- federal rules only."""
    expect(run({"jurisdiction": None}), {"decision": "permit_minimum_necessary"})
    expect(run({}), {"decision": "permit_minimum_necessary"})


@pytest.mark.parametrize("code", ["TX", "XX", "California"])
def test_unknown_jurisdiction_fails_closed_naming_it(run, expect, code):
    """45 CFR 160.203(b): a jurisdiction without an overlay -- its stricter law is unknown, so a
    release on HIPAA's permission is denied and the reason names the code."""
    out = run({"jurisdiction": code})
    expect(out, {"decision": "deny", "cites": "160.203(b)", "reason": repr(code), "fields_released": None})


def test_unknown_jurisdiction_leaves_the_individuals_access_and_hhs(run, expect):
    """45 CFR 160.202 ("more stringent"), 164.524, 164.502(a)(2)(ii): no state law narrows the
    individual's own access or a disclosure the Secretary requires."""
    expect(run({"jurisdiction": "TX", "requester": {"role": "patient"}, "purpose": "individual_access"}),
           {"decision": "permit"})
    expect(run({"jurisdiction": "TX", "requester": {"role": "hhs_ocr"}, "purpose": "hhs_compliance"}),
           {"decision": "permit"})


def test_jurisdiction_code_is_case_insensitive(run, expect):
    """The overlay is chosen by the two-letter code in any case."""
    expect(run({"jurisdiction": "ca"}), {"decision": "hold", "cites": "Cal. Civ. Code 56.104(a)"})


# -- California ---------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides", [
    {},                                                                            # payment (56.10(c)(2))
    {"requester": {"role": "researcher", "org": "State University"}, "purpose": "research",
     "irb_waiver": {"documented": True, "date": "2026-03-01"}},
])
def test_cal_civ_code_56_104_a_holds_until_the_written_request(run, expect, overrides):
    """Cal. Civ. Code 56.104(a): outpatient psychotherapy information goes to a 56.10(c) recipient
    (a payer, research) only on its signed written request stating (1)-(4); without it: hold,
    naming the request."""
    out = run({"jurisdiction": "CA", "practice_setting": "outpatient_practice", **overrides})
    expect(out, {"decision": "hold", "cites": ["160.203(b)", "Cal. Civ. Code 56.104(a)"], "fields_released": None,
                 "reason": "56.104(a)"})


def test_cal_civ_code_56_104_complete_request_permits_with_the_patients_copy(run, expect):
    """Cal. Civ. Code 56.104(a)-(b): with the complete signed request HIPAA's answer stands, and the
    requester must send the patient a copy within 30 days unless waived."""
    out = run({"jurisdiction": "CA", "psychotherapy_information_request": CA_REQUEST})
    expect(out, {"decision": "permit_minimum_necessary",
                 "cites": ["164.506(c)(3)", "Cal. Civ. Code 56.104(a)", "Cal. Civ. Code 56.104(b)"],
                 "reason": "within 30 days"})
    waived = run({"jurisdiction": "CA", "psychotherapy_information_request": {**CA_REQUEST, "patient_waived_copy": True}})
    expect(waived, {"decision": "permit_minimum_necessary", "reason": "waived"})


@pytest.mark.parametrize("missing", [k for k in CA_REQUEST])
def test_cal_civ_code_56_104_a_each_element_is_required(run, expect, missing):
    """Cal. Civ. Code 56.104(a)(1)-(4) and the signature: an incomplete request holds."""
    out = run({"jurisdiction": "CA", "psychotherapy_information_request": {**CA_REQUEST, missing: None}})
    expect(out, {"decision": "hold", "reason": "lacks"})


@pytest.mark.parametrize("overrides,decision", [
    ({"requester": {"role": "patient"}, "purpose": "individual_access"}, "permit"),          # 56.10(b)(7)
    ({"note_kind": "psychotherapy", "authorization": {"$template": "psych"}}, "permit"),    # 56.11 authorization
    ({"requester": {"role": "court", "identity_verified": True}, "purpose": "judicial",
      "legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["progress"]}}, "permit"),
    ({"requester": {"role": "originator_clinician", "id": "C-A"}, "purpose": "treatment", "action": "use",
      "note_originator": "C-A"}, "permit"),                                                  # a use, not a disclosure
])
def test_cal_civ_code_56_104_leaves_compelled_authorized_and_internal_releases(run, expect, overrides, decision):
    """Cal. Civ. Code 56.104 reaches 56.10(c) disclosures only: not the patient's access or a court
    order (56.10(b)), not an authorization (56.11), not a use."""
    expect(run({"jurisdiction": "CA", "practice_setting": "outpatient_practice", **overrides}),
           {"decision": decision})


@pytest.mark.parametrize("overrides,decision", [
    ({"requester": {"role": "external_clinician", "org": "Riverside Psychiatry"}, "purpose": "treatment"},
     "permit"),
    ({"requester": {"role": "person_able_to_prevent_threat"}, "purpose": "serious_threat",
      "good_faith_belief_imminent": True}, "permit_minimum_necessary"),
])
def test_cal_civ_code_56_104_excepts_treatment_and_serious_threat_disclosures(run, expect, overrides, decision):
    """Cal. Civ. Code 56.104 as amended by Stats. 2009, ch. 464 (AB 681; Legislative Counsel's
    Digest): the written request is not required for a disclosure for the diagnosis or treatment of
    the patient, nor for one to prevent or lessen a serious and imminent threat to a reasonably
    foreseeable victim; HIPAA's answer stands and the decision says why."""
    out = run({"jurisdiction": "CA", "practice_setting": "outpatient_practice", **overrides})
    expect(out, {"decision": decision, "cites": "Cal. Civ. Code 56.104", "reason": "excepts"})


@pytest.mark.parametrize("setting,decision", [
    ("lps_facility", "deny"), (None, "deny"), ("outpatient_practice", "permit_minimum_necessary"),
])
def test_cal_wic_5328_lps_records_reach_proceedings_only_through_the_court(run, expect, setting, decision):
    """Cal. Welf. & Inst. Code 5328(f): records of LPS services go "to the courts, as necessary to
    the administration of justice": a subpoena with a qualified protective order (enough under
    164.512(e)(1)(ii)(B)) is not; an outpatient practice is not an LPS facility. An unknown setting
    applies the stricter rule and says so."""
    out = run({"jurisdiction": "CA", "practice_setting": setting, "requester": ATTORNEY, "purpose": "judicial",
               "legal_process": SUBPOENA_QPO})
    expect(out, {"decision": decision})
    if decision == "deny":
        expect(out, {"cites": ["160.203(b)", "Cal. Welf. & Inst. Code 5328(f)"]})
    if setting is None:
        expect(out, {"reason": "practice_setting"})


@pytest.mark.parametrize("setting,overrides", [
    ("lps_facility", {"requester": {"role": "person_able_to_prevent_threat"}, "purpose": "serious_threat",
                      "good_faith_belief_imminent": True}),
    ("lps_facility", {"requester": {"role": "coroner_me", "org": "County"}, "purpose": "coroner_me",
                      "patient_deceased": True}),
    (None, {"requester": {"role": "health_oversight_agency", "org": "State", "identity_verified": True},
            "purpose": "health_oversight"}),
])
def test_cal_wic_5328_other_public_interest_releases_need_a_5328_case(run, expect, setting, overrides):
    """Cal. Welf. & Inst. Code 5328: LPS records are "disclosed only in any of the following
    cases"; a 164.512 release whose 5328 subdivision is not modelled is denied, saying so (an
    unknown setting applies the LPS rule and says that too)."""
    out = run({"jurisdiction": "CA", "practice_setting": setting, **overrides})
    expect(out, {"decision": "deny", "cites": ["160.203(b)", "Cal. Welf. & Inst. Code 5328"],
                 "reason": "5328 subdivision", "fields_released": None})
    if setting is None:
        expect(out, {"reason": "practice_setting"})
    outpatient = run({"jurisdiction": "CA", "practice_setting": "outpatient_practice", **overrides})
    assert outpatient["decision"].startswith("permit"), outpatient


def test_cal_wic_5328_judges_order_is_the_courts_release(run, expect):
    """Cal. Welf. & Inst. Code 5328(f): a judge's order reaches LPS records it names."""
    out = run({"jurisdiction": "CA", "practice_setting": "lps_facility", "requester": {"role": "court"},
               "purpose": "judicial",
               "legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["progress"]}})
    expect(out, {"decision": "permit", "cites": "164.512(e)(1)(i)"})


# -- New York -----------------------------------------------------------------------------------

@pytest.mark.parametrize("setting,decision", [
    ("omh_facility", "deny"), (None, "deny"), ("outpatient_practice", "permit_minimum_necessary"),
])
def test_ny_mhl_33_13_c_1_subpoena_is_not_a_court_order(run, expect, setting, decision):
    """N.Y. Mental Hyg. Law 33.13(c)(1): clinical records of an OMH facility go to a proceeding only
    on a court's order with the interests-of-justice finding."""
    out = run({"jurisdiction": "NY", "practice_setting": setting, "requester": ATTORNEY, "purpose": "judicial",
               "legal_process": SUBPOENA_QPO})
    expect(out, {"decision": decision})
    if decision == "deny":
        expect(out, {"cites": ["160.203(b)", "N.Y. Mental Hyg. Law 33.13(c)(1)"]})


def test_ny_mhl_33_13_c_1_court_order_notes_the_finding(run, expect):
    """N.Y. Mental Hyg. Law 33.13(c)(1): a judge's order is relied on; the finding it rests on is
    named."""
    out = run({"jurisdiction": "NY", "practice_setting": "omh_facility", "requester": {"role": "court"},
               "purpose": "judicial",
               "legal_process": {"type": "court_order", "signed_by_judge": True, "covers": ["progress"]}})
    expect(out, {"decision": "permit", "cites": "N.Y. Mental Hyg. Law 33.13(c)(1)",
                 "reason": "interests of justice"})


DANGER = {"purpose": "serious_threat", "good_faith_belief_imminent": True,
          "danger_determined_by": "treating_psychiatrist", "recipient_is_endangered_individual": True}


@pytest.mark.parametrize("role,decision", [
    ("person_able_to_prevent_threat", "permit_minimum_necessary"),
    ("law_enforcement", "permit_minimum_necessary"),
    ("parent", "deny"),
    ("external_clinician", "deny"),
])
def test_ny_mhl_33_13_c_6_danger_disclosures_to_the_endangered_and_police_only(run, expect, role, decision):
    """N.Y. Mental Hyg. Law 33.13(c)(6): narrower than 164.512(j)(1)(i) -- only the endangered
    individual and a law enforcement agency, on a treating psychiatrist's or psychologist's
    determination."""
    out = run({"jurisdiction": "NY", "practice_setting": "omh_facility", "requester": {"role": role}, **DANGER})
    expect(out, {"decision": decision, "cites": "N.Y. Mental Hyg. Law 33.13(c)(6)"})


@pytest.mark.parametrize("role,changes,decision,reason", [
    ("law_enforcement", {"danger_determined_by": None}, "hold", "danger_determined_by"),
    ("person_able_to_prevent_threat", {"danger_determined_by": None}, "hold", "danger_determined_by"),
    ("law_enforcement", {"danger_determined_by": "licensed_mental_health_counselor"}, "deny", "treating psychiatrist"),
    ("person_able_to_prevent_threat", {"recipient_is_endangered_individual": None}, "hold",
     "recipient_is_endangered_individual"),
    ("person_able_to_prevent_threat", {"recipient_is_endangered_individual": False}, "deny", "not the endangered"),
    ("law_enforcement", {"recipient_is_endangered_individual": None}, "permit_minimum_necessary", "law enforcement"),
])
def test_ny_mhl_33_13_c_6_determination_and_endangered_recipient_must_be_on_file(
        run, expect, role, changes, decision, reason):
    """N.Y. Mental Hyg. Law 33.13(c)(6): "when a treating psychiatrist or psychologist has
    determined that a patient or client presents a serious and imminent danger to that
    individual" -- unknown who determined it, or whether the recipient is the endangered
    individual: held, naming the fact; established otherwise: denied."""
    out = run({"jurisdiction": "NY", "practice_setting": "omh_facility", "requester": {"role": role},
               **{**DANGER, **changes}})
    expect(out, {"decision": decision, "reason": reason})


def test_ny_mhl_33_13_c_other_public_interest_releases_need_a_listed_case(run, expect):
    """N.Y. Mental Hyg. Law 33.13(c): a facility's clinical records go outside only "as follows"; a
    164.512 release whose paragraph is not modelled is denied, saying so; an outpatient practice
    is not reached."""
    over = {"requester": {"role": "coroner_me", "org": "County ME"}, "purpose": "coroner_me", "patient_deceased": True}
    out = run({"jurisdiction": "NY", "practice_setting": "omh_facility", **over})
    expect(out, {"decision": "deny", "cites": "N.Y. Mental Hyg. Law 33.13(c)", "reason": "not established"})
    outpatient = run({"jurisdiction": "NY", "practice_setting": "outpatient_practice", **over})
    expect(outpatient, {"decision": "permit_minimum_necessary"})


@pytest.mark.parametrize("setting,cites,absent", [
    ("outpatient_practice", ["N.Y. Pub. Health Law 18(2)(a)"], "N.Y. Mental Hyg. Law 33.16(b)(1)"),
    ("omh_facility", ["N.Y. Mental Hyg. Law 33.16(b)(1)"], "N.Y. Pub. Health Law 18(2)(a)"),
    (None, ["N.Y. Pub. Health Law 18(2)(a)", "N.Y. Mental Hyg. Law 33.16(b)(1)"], None),
])
def test_ny_inspection_within_ten_days(run, expect, setting, cites, absent):
    """N.Y. Pub. Health Law 18(2)(a) (a practitioner's or facility's patient information; 18(1)(e)
    leaves out records subject to Mental Hyg. Law 33.13) and Mental Hyg. Law 33.16(b)(1) (an OMH
    facility's clinical records): inspection within ten days of the written request."""
    out = run({"jurisdiction": "NY", "practice_setting": setting, "requester": {"role": "patient"},
               "purpose": "individual_access"})
    expect(out, {"decision": "permit", "cites": ["164.524(a)(1)", *cites], "reason": "2026-05-11"})
    if absent:
        assert absent not in out["citations"]


def test_overlays_never_loosen_hipaa(run, expect):
    """45 CFR 160.203(b): a state overlay makes HIPAA's answer stricter or leaves it; a denial stays
    a denial in every jurisdiction."""
    for code in ("CA", "NY", "TX"):
        expect(run({"jurisdiction": code, "requester": {"role": "insurer_non_covered"}}), {"decision": "deny"})
        expect(run({"jurisdiction": code, "note_kind": "psychotherapy"}), {"decision": "deny"})

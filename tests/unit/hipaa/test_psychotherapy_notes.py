"""45 CFR 164.508(a)(2) and 164.501: psychotherapy notes and their exceptions."""
from __future__ import annotations

import pytest

ORIGINATOR = {"role": "originator_clinician", "org": "Northside", "id": "C-A", "is_originator": True}
PSYCH = {"note_kind": "psychotherapy"}

# (id, overrides, expected subset)
EXCEPTIONS = [
    ("A_originator_use_for_treatment",
     {**PSYCH, "requester": ORIGINATOR, "purpose": "treatment", "action": "use"},
     {"decision": "permit", "cites": "164.508(a)(2)(i)(A)", "accounting_required": False,
      "minimum_necessary_applies": False, "fields_released": ["full_note"]}),
    ("A_excepts_use_not_disclosure",
     {**PSYCH, "requester": ORIGINATOR, "purpose": "treatment", "action": "disclose"},
     {"decision": "deny", "cites": "164.508(a)(2)"}),
    ("A_former_workforce_originator_is_outside_the_entity",
     {**PSYCH, "requester": {"role": "former_workforce_clinician", "id": "C-A", "is_originator": True},
      "purpose": "treatment", "action": "use"},
     {"decision": "deny"}),
    ("B_supervised_trainee_in_own_program",
     {**PSYCH, "requester": {"role": "trainee", "in_ce_training_program": True, "supervised": True},
      "purpose": "training", "action": "use"},
     {"decision": "permit", "cites": "164.508(a)(2)(i)(B)", "accounting_required": False}),
    ("B_outside_training_program",
     {**PSYCH, "requester": {"role": "trainee", "in_ce_training_program": False, "supervised": True},
      "purpose": "training", "action": "use"},
     {"decision": "deny"}),
    ("B_unsupervised_trainee",
     {**PSYCH, "requester": {"role": "trainee", "in_ce_training_program": True, "supervised": False},
      "purpose": "training", "action": "use"},
     {"decision": "deny"}),
    ("B_supervisor_of_the_author",
     {**PSYCH, "requester": {"role": "supervisor", "supervises_author": True},
      "purpose": "training", "action": "use"},
     {"decision": "permit", "cites": "164.508(a)(2)(i)(B)"}),
    ("B_supervision_of_a_trainee_is_the_training_program",
     {**PSYCH, "requester": {"role": "supervisor", "supervises_author": True},
      "purpose": "treatment", "action": "use"},
     {"decision": "permit", "cites": "164.508(a)(2)(i)(B)"}),
    ("B_supervisor_not_supervising_the_author",
     {**PSYCH, "requester": {"role": "supervisor", "supervises_author": False},
      "purpose": "treatment", "action": "use"},
     {"decision": "deny", "cites": "164.508(a)(2)(i)(A)"}),
    ("C_defense_of_proceeding_brought_by_patient",
     {**PSYCH, "requester": {"role": "defense_counsel", "org": "Counsel"},
      "purpose": "legal_defense_vs_individual", "proceeding": {"initiator": "P-001", "defendant": "Northside"}},
     {"decision": "permit", "cites": "164.508(a)(2)(i)(C)", "accounting_required": False}),
    ("C_not_for_proceeding_brought_by_someone_else",
     {**PSYCH, "requester": {"role": "defense_counsel", "org": "Counsel"},
      "purpose": "legal_defense_vs_individual", "proceeding": {"initiator": "P-999", "defendant": "Northside"}},
     {"decision": "deny"}),
    ("ii_HHS_502a2ii",
     {**PSYCH, "requester": {"role": "hhs_ocr", "identity_verified": True}, "purpose": "hhs_compliance"},
     {"decision": "permit", "cites": ["164.502(a)(2)(ii)", "164.508(a)(2)(ii)", "164.502(b)(2)(iv)"],
      "accounting_required": True, "minimum_necessary_applies": False}),
    ("ii_required_by_law_512a",
     {**PSYCH, "requester": {"role": "child_protective_services", "identity_verified": True},
      "purpose": "required_by_law", "mandate": {"statute": "State child abuse reporting act", "compels": True}},
     {"decision": "permit", "cites": ["164.512(a)(1)", "164.508(a)(2)(ii)"], "accounting_required": True,
      "minimum_necessary_applies": False}),
    ("ii_512a_reaches_a_compelled_law_enforcement_report",
     {**PSYCH, "requester": {"role": "law_enforcement"}, "purpose": "law_enforcement",
      "mandate": {"statute": "State duty-to-report statute", "compels": True}},
     {"decision": "permit", "cites": ["164.512(a)(1)", "164.508(a)(2)(ii)"], "accounting_required": True}),
    ("ii_required_by_law_needs_a_compelling_law",
     {**PSYCH, "requester": {"role": "law_enforcement"}, "purpose": "required_by_law",
      "mandate": {"statute": "permissive statute", "compels": False}},
     {"decision": "deny"}),
    ("ii_judges_court_order_is_required_by_law",
     {**PSYCH, "requester": {"role": "court"}, "purpose": "judicial",
      "legal_process": {"type": "court_order", "signed_by_judge": True,
                        "scope": "psychotherapy notes of sessions in 2026"}},
     {"decision": "permit", "cites": ["164.512(a)(1)", "164.512(e)(1)(i)", "164.508(a)(2)(ii)"],
      "accounting_required": True}),
    ("ii_order_not_signed_by_judge_is_not_an_order",
     {**PSYCH, "requester": {"role": "attorney"}, "purpose": "judicial",
      "legal_process": {"type": "court_order", "signed_by_judge": False, "satisfactory_assurance": True}},
     {"decision": "deny", "cites": "164.508(a)(2)"}),
    ("ii_oversight_of_the_originator_512d",
     {**PSYCH, "requester": {"role": "health_oversight_agency", "identity_verified": True},
      "purpose": "health_oversight", "oversight_subject": "C-A", "note_originator": "C-A"},
     {"decision": "permit_minimum_necessary", "cites": ["164.512(d)", "164.508(a)(2)(ii)"],
      "accounting_required": True, "minimum_necessary_applies": True}),
    ("ii_oversight_of_someone_else",
     {**PSYCH, "requester": {"role": "health_oversight_agency"}, "purpose": "health_oversight",
      "oversight_subject": "C-B", "originator": "C-A"},
     {"decision": "deny", "cites": "164.508(a)(2)(ii)"}),
    ("ii_coroner_512g1",
     {**PSYCH, "requester": {"role": "coroner_me"}, "purpose": "coroner_me", "patient_deceased": True},
     {"decision": "permit_minimum_necessary", "cites": ["164.512(g)(1)", "164.508(a)(2)(ii)"],
      "accounting_required": True}),
    ("ii_serious_threat_512j1i",
     {**PSYCH, "requester": {"role": "person_able_to_prevent_threat"}, "purpose": "serious_threat",
      "good_faith_belief_imminent": True, "imminent_threat": True},
     {"decision": "permit_minimum_necessary", "cites": ["164.512(j)(1)(i)", "164.508(a)(2)(ii)"],
      "accounting_required": True}),
    ("ii_threat_without_good_faith_belief",
     {**PSYCH, "requester": {"role": "person_able_to_prevent_threat"}, "purpose": "serious_threat",
      "good_faith_belief_imminent": False},
     {"decision": "deny"}),
    ("law_enforcement_is_not_an_exception",
     {**PSYCH, "requester": {"role": "law_enforcement"}, "purpose": "law_enforcement",
      "legal_process": {"type": "informal_request"}},
     {"decision": "deny", "cites": "164.508(a)(2)"}),
    ("research_waiver_is_not_an_exception",
     {**PSYCH, "requester": {"role": "researcher"}, "purpose": "research",
      "irb_waiver": {"documented": True, "date": "2026-01-01"}},
     {"decision": "deny", "cites": "164.508(a)(2)"}),
    ("workers_comp_is_not_an_exception",
     {**PSYCH, "requester": {"role": "workers_comp_carrier"}, "purpose": "workers_comp"},
     {"decision": "deny"}),
    ("progress_only_authorization_does_not_reach_psychotherapy_notes",
     {**PSYCH, "authorization": {"$template": "progress"}},
     {"decision": "deny", "cites": "164.508(a)(2)"}),
    ("designee_direction_is_not_an_authorization",
     {**PSYCH, "requester": {"role": "patient_designee"}, "purpose": "individual_access",
      "directed_by_patient": {"in_writing": True, "signed": True, "designee_identified": True}},
     {"decision": "deny", "cites": "164.508(a)(2)"}),
]


@pytest.mark.parametrize("overrides,expected", [c[1:] for c in EXCEPTIONS], ids=[c[0] for c in EXCEPTIONS])
def test_164_508_a_2_psychotherapy_note_exceptions(run, expect, overrides, expected):
    """45 CFR 164.508(a)(2)(i)(A)-(C) and (a)(2)(ii): only the listed uses/disclosures go
    without an authorization."""
    expect(run(overrides), expected)


CONTENT = [
    ("excluded_times_and_modalities_to_treating_provider",
     {**PSYCH, "requester": {"role": "external_clinician", "is_health_care_provider": True},
      "purpose": "treatment",
      "content_in_psych_note": ["session_start_stop_times", "modalities_and_frequencies_of_treatment",
                                "process_analysis"]},
     {"decision": "permit", "fields_released": ["session_start", "session_stop", "cpt_code_or_modality",
                                                "frequency"],
      "minimum_necessary_applies": False, "cites": ["164.501", "164.506(c)(2)"]}),
    ("only_protected_content_stays_protected",
     {**PSYCH, "content_in_psych_note": ["session_content", "process_analysis"]},
     {"decision": "deny", "fields_released": None}),
    ("patient_gets_excluded_content_as_of_right",
     {**PSYCH, "requester": {"role": "patient"}, "purpose": "individual_access",
      "content": ["summary_diagnosis", "session_content"]},
     {"decision": "permit", "fields_released": ["diagnosis_codes"], "cites": "164.524(a)(1)"}),
    ("note_not_stored_separately_is_not_a_psychotherapy_note",
     {**PSYCH, "stored_separately": False},
     {"decision": "permit_minimum_necessary", "cites": ["164.501", "164.506(c)(3)"],
      "minimum_necessary_applies": True}),
]


@pytest.mark.parametrize("overrides,expected", [c[1:] for c in CONTENT], ids=[c[0] for c in CONTENT])
def test_164_501_psychotherapy_note_definition_content_categories(run, expect, overrides, expected):
    """45 CFR 164.501: excluded content categories, and notes not kept separately, are decided as
    progress-note content."""
    expect(run(overrides), expected)


def test_164_524_a_1_i_parent_as_personal_representative_psychotherapy_notes_discretionary(run, expect):
    """45 CFR 164.524(a)(1)(i) with 164.502(g): a personal representative has no more right than
    the individual to psychotherapy notes."""
    expect(run({**PSYCH, "requester": {"role": "parent"}, "purpose": "individual_access"}),
           {"decision": "discretionary", "cites": "164.524(a)(2)(i)", "fields_released": None})


# 45 CFR 164.508(a)(2)(i)(B): "use or disclosure by the covered entity for its OWN training
# programs in which students, trainees, or practitioners in mental health learn under
# supervision".  The program is the practice's; the learner is its workforce (160.103).
OWN_TRAINING = [
    ("insurer_claiming_a_training_program", "deny",
     {"requester": {"role": "insurer_health_plan", "org": "Acme", "in_ce_training_program": True,
                    "supervised": True}, "purpose": "training", "action": "disclose"}),
    ("outside_clinician_claiming_to_supervise_the_author", "deny",
     {"requester": {"role": "external_clinician", "org": "Riverside", "supervises_author": True},
      "purpose": "treatment", "action": "disclose"}),
    ("attorney_in_a_program", "deny",
     {"requester": {"role": "attorney", "in_ce_training_program": True}, "purpose": "training"}),
    ("former_workforce_is_not_current_workforce", "deny",
     {"requester": {"role": "former_workforce_clinician", "in_ce_training_program": True,
                    "supervised": True}, "purpose": "training", "action": "use"}),
    ("trainee_recorded_as_not_workforce", "deny",
     {"requester": {"role": "trainee", "is_workforce": False, "in_ce_training_program": True,
                    "supervised": True}, "purpose": "training"}),
    ("trainee_but_a_disclosure_outside_the_practice", "deny",
     {"requester": {"role": "trainee", "in_ce_training_program": True, "supervised": True},
      "purpose": "training", "action": "disclose"}),
    ("same_practice_clinician_learning_under_supervision", "permit",
     {"requester": {"role": "clinician_same_practice", "in_ce_training_program": True,
                    "supervised": True}, "purpose": "training", "action": "use"}),
    ("contracted_clinician_recorded_as_workforce", "permit",
     {"requester": {"role": "external_clinician", "is_workforce": True, "in_ce_training_program": True,
                    "supervised": True}, "purpose": "training", "action": "use"}),
]


@pytest.mark.parametrize("decision,overrides", [c[1:] for c in OWN_TRAINING], ids=[c[0] for c in OWN_TRAINING])
def test_164_508_a_2_i_B_only_the_covered_entitys_own_training_program(run, expect, decision, overrides):
    """45 CFR 164.508(a)(2)(i)(B): outside roles never qualify, whatever flags they carry."""
    out = run({**PSYCH, **overrides})
    expect(out, {"decision": decision})
    if decision == "permit":
        expect(out, {"cites": "164.508(a)(2)(i)(B)"})
    else:
        assert "164.508(a)(2)(i)(B)" not in out["rule"]


# 45 CFR 164.508(a)(2)(i)(C): "use or disclosure by the covered entity to defend itself in a
# legal action or other proceeding brought by the individual".
DEFENSE = [
    ("insurer_is_not_the_covered_entity_defending_itself", "deny",
     {"requester": {"role": "insurer_health_plan", "org": "Acme"}, "proceeding": {"initiator": "P-001"}}),
    ("opposing_attorney", "deny",
     {"requester": {"role": "attorney", "org": "Patient's counsel"},
      "proceeding": {"initiator": "P-001", "defendant": "Northside"}}),
    ("defendant_is_the_patient", "deny",
     {"requester": {"role": "defense_counsel", "org": "Counsel"},
      "proceeding": {"initiator": "P-001", "defendant": "P-001"}}),
    ("no_proceeding_facts", "deny",
     {"requester": {"role": "defense_counsel", "org": "Counsel"}}),
    ("practice_admin_preparing_the_defense", "permit",
     {"requester": {"role": "practice_admin", "org": "Northside"}, "action": "use",
      "proceeding": {"initiator": "P-001", "defendant": "Northside"}}),
    ("originator_named_in_the_suit", "permit",
     {"requester": {"role": "originator_clinician", "id": "C-A", "is_originator": True}, "action": "use",
      "proceeding": {"initiator": "patient", "defendant": "C-A"}}),
    ("defense_counsel_initiator_written_as_the_individual", "permit",
     {"requester": {"role": "defense_counsel", "org": "Counsel"},
      "proceeding": {"initiator": "individual", "defendant": "Northside Counseling Group"}}),
]


@pytest.mark.parametrize("decision,overrides", [c[1:] for c in DEFENSE], ids=[c[0] for c in DEFENSE])
def test_164_508_a_2_i_C_the_covered_entitys_own_defense(run, expect, decision, overrides):
    """45 CFR 164.508(a)(2)(i)(C): only the practice (or its defense counsel), only against a
    proceeding the individual brought against the practice."""
    out = run({**PSYCH, "purpose": "legal_defense_vs_individual", **overrides})
    expect(out, {"decision": decision})
    if decision == "permit":
        expect(out, {"cites": "164.508(a)(2)(i)(C)"})


OVERSIGHT_AGENCY = {"role": "health_oversight_agency", "org": "State Board", "identity_verified": True}


def test_164_508_a_2_ii_oversight_subject_is_compared_with_the_originator(run, expect):
    """45 CFR 164.508(a)(2)(ii) with 164.512(d): psychotherapy notes may go to a health oversight
    agency only for oversight of the originator. The subject is compared with `note_originator`;
    the originator is never inferred from the subject, so without `note_originator` oversight of
    the originator is unknown and the exception does not permit (the denial names the fact)."""
    unnamed = run({**PSYCH, "requester": OVERSIGHT_AGENCY, "purpose": "health_oversight",
                   "oversight_subject": "C-A"})
    expect(unnamed, {"decision": "deny", "cites": "164.508(a)(2)(ii)", "reason": "note_originator"})
    other = run({**PSYCH, "requester": OVERSIGHT_AGENCY, "purpose": "health_oversight",
                 "oversight_subject": "C-B", "note_originator": "C-A"})
    expect(other, {"decision": "deny", "cites": "164.508(a)(2)(ii)", "reason": "the originator is C-A"})
    nobody = run({**PSYCH, "requester": OVERSIGHT_AGENCY, "purpose": "health_oversight"})
    expect(nobody, {"decision": "deny", "cites": "164.508(a)(2)(ii)"})
    stated = run({**PSYCH, "requester": OVERSIGHT_AGENCY, "purpose": "health_oversight",
                  "oversight_subject": "C-B", "oversight_of_originator": False})
    expect(stated, {"decision": "deny"})
    named = run({**PSYCH, "requester": OVERSIGHT_AGENCY, "purpose": "health_oversight",
                 "oversight_subject": "c-a ", "note_originator": "C-A"})
    expect(named, {"decision": "permit_minimum_necessary"})


def test_164_508_a_2_ii_oversight_of_someone_else_still_yields_to_a_valid_authorization(run, expect):
    """45 CFR 164.508(a)(2): outside the (a)(2)(ii) exception a valid psychotherapy-notes
    authorization naming the agency still permits the disclosure (164.508(a)(2), (c))."""
    out = run({**PSYCH, "requester": OVERSIGHT_AGENCY, "purpose": "health_oversight",
               "oversight_subject": "C-B", "originator": "C-A",
               "authorization": {"$template": "psych", "recipients": ["State Board"]}})
    expect(out, {"decision": "permit", "cites": "164.508(c)"})

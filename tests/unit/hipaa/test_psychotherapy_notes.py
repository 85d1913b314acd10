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
      "legal_process": {"type": "court_order", "signed_by_judge": True, "scope": "sessions in 2026"}},
     {"decision": "permit", "cites": ["164.512(a)(1)", "164.512(e)(1)(i)", "164.508(a)(2)(ii)"],
      "accounting_required": True}),
    ("ii_order_not_signed_by_judge_is_not_an_order",
     {**PSYCH, "requester": {"role": "attorney"}, "purpose": "judicial",
      "legal_process": {"type": "court_order", "signed_by_judge": False, "satisfactory_assurance": True}},
     {"decision": "deny", "cites": "164.508(a)(2)"}),
    ("ii_oversight_of_the_originator_512d",
     {**PSYCH, "requester": {"role": "health_oversight_agency", "identity_verified": True},
      "purpose": "health_oversight", "oversight_subject": "C-A", "originator": "C-A"},
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

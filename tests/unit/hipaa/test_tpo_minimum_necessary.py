"""45 CFR 164.506 (TPO), 164.502(b) (minimum necessary and its exceptions), 164.514(d)(2)
(role-based access), and the minimum-necessary configuration."""
from __future__ import annotations

import json

import pytest

from confide.hipaa import minimum_necessary as mn
from confide.hipaa.engine import decide

PAYMENT = list(mn.PAYMENT_FIELDS)

TPO = [
    ("506c1_same_practice_clinician_treatment_use",
     {"requester": {"role": "clinician_same_practice"}, "purpose": "treatment", "action": "use"},
     {"decision": "permit", "minimum_necessary_applies": False, "accounting_required": False,
      "fields_released": ["full_note"]}),
    ("506c1_billing_staff_payment_use",
     {"requester": {"role": "billing_staff"}, "purpose": "payment", "action": "use"},
     {"decision": "permit_minimum_necessary", "fields_released": PAYMENT, "cites": "164.514(d)(2)",
      "accounting_required": False}),
    ("514d2_billing_staff_may_not_use_for_treatment",
     {"requester": {"role": "billing_staff"}, "purpose": "treatment", "action": "use"},
     {"decision": "deny", "cites": "164.514(d)(2)"}),
    ("506c1_compliance_staff_operations",
     {"requester": {"role": "compliance_staff"}, "purpose": "operations", "action": "use"},
     {"decision": "permit_minimum_necessary", "minimum_necessary_applies": True,
      "fields_released": mn.DEFAULT_POLICY["purposes"]["operations"]["default"]}),
    ("502e1_business_associate_with_agreement",
     {"requester": {"role": "business_associate", "org": "Billing Co", "baa_in_place": True}},
     {"decision": "permit_minimum_necessary", "cites": "164.502(e)(1)", "accounting_required": False}),
    ("502e1_business_associate_without_agreement",
     {"requester": {"role": "business_associate", "org": "Billing Co", "baa_in_place": False}},
     {"decision": "deny", "cites": "164.502(e)(1)"}),
    ("506c4_health_plan_operations",
     {"purpose": "operations"},
     {"decision": "permit_minimum_necessary", "cites": "164.506(c)(4)"}),
    ("506c2_recipient_not_a_provider",
     {"requester": {"role": "external_clinician", "is_health_care_provider": False}, "purpose": "treatment"},
     {"decision": "deny", "cites": "164.506(c)(2)"}),
    ("506c1_supervised_training_on_progress_notes",
     {"requester": {"role": "trainee", "in_ce_training_program": True, "supervised": True},
      "purpose": "training", "action": "use"},
     {"decision": "permit_minimum_necessary", "minimum_necessary_applies": True}),
    ("506c1_counsel_for_practice_legal_services",
     {"requester": {"role": "defense_counsel"}, "purpose": "legal_defense_vs_individual"},
     {"decision": "permit_minimum_necessary", "accounting_required": False}),
    ("506c3_health_plan_not_a_covered_entity",
     {"requester": {"role": "insurer_health_plan", "is_covered_entity": False}},
     {"decision": "deny", "cites": "164.508(a)(1)"}),
]


@pytest.mark.parametrize("overrides,expected", [c[1:] for c in TPO], ids=[c[0] for c in TPO])
def test_164_506_treatment_payment_operations(run, expect, overrides, expected):
    """45 CFR 164.506(c)(1)-(4), 164.502(e)(1), 164.514(d)(2)."""
    expect(run(overrides), expected)


MN_EXCEPTIONS = [
    ("502b2i_treatment_disclosure_to_provider",
     {"requester": {"role": "external_clinician"}, "purpose": "treatment"}, "164.502(b)(2)(i)"),
    ("502b2ii_to_the_individual",
     {"requester": {"role": "patient"}, "purpose": "individual_access"}, "164.524(a)(1)"),
    ("502b2iii_under_authorization",
     {"requester": {"role": "insurer_non_covered", "org": "Acme Health Plan"},
      "authorization": {"$template": "progress"}}, "164.502(b)(2)(iii)"),
    ("502b2iv_to_hhs",
     {"requester": {"role": "hhs_ocr", "identity_verified": True}, "purpose": "hhs_compliance"}, "164.502(b)(2)(iv)"),
    ("502b2v_required_by_law",
     {"requester": {"role": "law_enforcement"}, "purpose": "required_by_law",
      "mandate": {"statute": "gunshot wound reporting", "compels": True}}, "164.502(b)(2)(v)"),
]


@pytest.mark.parametrize("overrides,cite", [c[1:] for c in MN_EXCEPTIONS], ids=[c[0] for c in MN_EXCEPTIONS])
def test_164_502_b_2_minimum_necessary_exceptions(run, overrides, cite):
    """45 CFR 164.502(b)(2)(i)-(v): minimum necessary does not apply."""
    out = run(overrides)
    assert out["decision"] == "permit", out
    assert out["minimum_necessary_applies"] is False
    assert any(cite in c for c in out["citations"]), out["citations"]


def test_164_514_d_3_policy_is_configuration(build):
    """45 CFR 164.514(d)(3): the routine field set is the practice's policy, not code."""
    policy = mn.build_policy({"purposes": {"payment": {"default": ["patient_id"],
                                                       "roles": {"insurer_health_plan": ["patient_id", "cpt_code_or_modality"]}}}})
    out = decide(build({}), policy=policy)
    assert out.fields_released == ["patient_id", "cpt_code_or_modality"]
    assert decide(build({"requester": {"role": "business_associate", "baa_in_place": True}}),
                  policy=policy).fields_released == ["patient_id"]


def test_164_514_d_2_workforce_access_is_configuration(build):
    """45 CFR 164.514(d)(2): which workforce role may use PHI for which purpose is policy."""
    policy = mn.build_policy({"workforce_access": {"billing_staff": []}})
    out = decide(build({"requester": {"role": "billing_staff"}, "action": "use"}), policy=policy)
    assert out.decision == "deny"


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_minimum_necessary_config_file_from_env(tmp_path, monkeypatch, build, suffix):
    """CONFIDE_MINIMUM_NECESSARY names a JSON or YAML file merged over the defaults."""
    data = {"purposes": {"payment": {"default": ["patient_id", "date_of_service"]}}}
    path = tmp_path / f"mn{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        path.write_text("purposes:\n  payment:\n    default: [patient_id, date_of_service]\n")
    monkeypatch.setenv(mn.ENV_VAR, str(path))
    assert mn.active_policy().fields_for("payment") == ("patient_id", "date_of_service")
    assert decide(build({})).fields_released == ["patient_id", "date_of_service"]
    assert mn.active_policy().fields_for("operations")  # other defaults kept


def test_minimum_necessary_bad_config_names_the_key(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"purposes": {"payment": {"default": "patient_id"}}}))
    with pytest.raises(mn.MinimumNecessaryConfigError, match="purposes.payment.default"):
        mn.load_policy(path)
    with pytest.raises(mn.MinimumNecessaryConfigError, match="unknown key"):
        mn.build_policy({"payments": {}})


def test_default_payment_fields_are_published_case_ex05():
    assert mn.DEFAULTS.fields_for("payment") == mn.PAYMENT_FIELDS
    assert mn.PAYMENT_FIELDS[0] == "patient_id" and mn.PAYMENT_FIELDS[-1] == "signature"

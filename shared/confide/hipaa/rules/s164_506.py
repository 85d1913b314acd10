"""45 CFR 164.506 -- uses and disclosures for treatment, payment and health care operations.

(a) TPO without authorization, except what 164.508(a)(2)-(4) reserve (psychotherapy notes are
decided by ``s164_508``); (c)(1) own TPO; (c)(2) treatment activities of a health care provider;
(c)(3) payment activities of a covered entity or provider; (c)(4) certain operations of another
covered entity.  Health care operations include the covered entity's supervised training
programs and legal services (164.501).  Minimum necessary applies except to treatment by a
provider (164.502(b)(2)(i)); uses by the workforce are limited by role (164.514(d)(2)).
"""
from __future__ import annotations

from confide.hipaa.minimum_necessary import MinimumNecessaryPolicy
from confide.hipaa.rules import s164_502, s164_514
from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import BASIS_TPO, PERMIT, PERMIT_MN, Ruling, deny, rule_string

TPO_PURPOSES = frozenset({"treatment", "payment", "operations", "training",
                          "legal_defense_vs_individual"})
PROVIDER_ROLES = frozenset({"external_clinician", "external_clinician_group"})
COUNSEL_ROLES = frozenset({"defense_counsel", "attorney"})


def _mn(case: Case, policy: MinimumNecessaryPolicy, rule: str, purpose: str | None = None) -> Ruling:
    fields = policy.fields_for(purpose or case.purpose, case.role)
    return Ruling(PERMIT_MN, rule, (), fields, True, BASIS_TPO)


def _state(value) -> str:
    return "unknown" if value is None else str(value).lower()


def _internal(case: Case, policy: MinimumNecessaryPolicy) -> Ruling:
    denied = s164_514.role_based_access(case, policy)
    if denied is not None:
        return denied
    if case.purpose == "treatment":
        return Ruling(PERMIT, rule_string("164.506(c)(1)", s164_502.MN_NA_TREATMENT),
                      ("Use by the practice's own clinician for treatment.",),
                      ("full_note",), False, BASIS_TPO)
    if case.purpose == "training":
        in_program = case.req_flag("in_ce_training_program")
        if in_program is None and case.req_flag("supervises_author") is True:
            # The practice's own supervision of the note's author (a directory fact the service
            # establishes, never the caller's claim) is its supervised training program (164.501).
            in_program = True
        if in_program is not True:
            return deny("45 CFR 164.501 (health care operations cover the covered entity's own "
                        "training programs only); 164.506(c)(1)",
                        "Use in the practice's own training program is not established "
                        f"(requester.in_ce_training_program is {_state(in_program)}).")
        supervised = case.req_flag("supervised")
        if case.role == "trainee" and supervised is not True:
            return deny("45 CFR 164.501 (training programs in which trainees learn under "
                        "supervision); 164.506(c)(1)",
                        f"That the trainee learns under supervision is not established "
                        f"(requester.supervised is {_state(supervised)}).")
        return _mn(case, policy, rule_string(
            "164.506(c)(1)", "164.501 (health care operations: supervised training programs)",
            s164_502.MN_APPLIES, "164.514(d)(2)"))
    note = {"legal_defense_vs_individual": "164.501 (health care operations: legal services)"}
    return _mn(case, policy, rule_string("164.506(c)(1)", note.get(case.purpose, ""),
                                         s164_502.MN_APPLIES, "164.514(d)(2)"))


def tpo(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """Decide a TPO request about non-psychotherapy-note PHI; None when the purpose is not TPO."""
    if case.purpose not in TPO_PURPOSES:
        return None
    if case.is_workforce:
        return _internal(case, policy)
    role, purpose = case.role, case.purpose
    provider = (role in PROVIDER_ROLES or role == "former_workforce_clinician"
                or case.req_flag("is_health_care_provider") is True)
    if case.req_flag("is_health_care_provider") is False:
        provider = False
    if purpose == "treatment":
        if provider:
            return Ruling(PERMIT, rule_string("164.506(c)(2)", s164_502.MN_NA_TREATMENT),
                          ("Disclosure to a health care provider for its treatment of the patient.",),
                          ("progress notes as requested",), False, BASIS_TPO)
        return deny("45 CFR 164.506(c)(2) (treatment disclosures go to a health care provider)",
                    f"{role} is not a health care provider treating the patient.")
    if purpose == "payment":
        if role == "insurer_health_plan" and case.req_flag("is_covered_entity") is not False:
            return _mn(case, policy, rule_string("164.506(c)(3)", s164_502.MN_APPLIES,
                                                 "164.514(d)(3)(iii)(B)"))
        if provider:
            return _mn(case, policy, rule_string("164.506(c)(3)", s164_502.MN_APPLIES))
        if role == "business_associate":
            if not s164_502.business_associate_ok(case):
                return s164_502.no_business_associate_agreement(case)
            return _mn(case, policy, rule_string("164.502(e)(1)", "164.506(c)(1)", s164_502.MN_APPLIES))
        if role in ("insurer_non_covered", "insurer_health_plan"):
            return deny("45 CFR 164.508(a)(1) (an authorization is required); 164.506(c)(3) "
                        "(the recipient is not a covered entity, so this is not payment)",
                        f"{case.requester.get('org') or role} is not a HIPAA covered entity; its "
                        "benefit determination is not 'payment' under 164.501.")
        return deny("45 CFR 164.506(c)(1); 164.506(c)(3) (recipient has no payment role)",
                    f"{role} has no payment activity for this patient.")
    if purpose == "operations":
        if role in ("business_associate", "auditor") or role in COUNSEL_ROLES:
            if not s164_502.business_associate_ok(case):
                return s164_502.no_business_associate_agreement(case)
            return _mn(case, policy, rule_string("164.502(e)(1)", "164.506(c)(1)", s164_502.MN_APPLIES))
        if (role == "insurer_health_plan" and case.req_flag("is_covered_entity") is not False) or provider:
            return _mn(case, policy, rule_string("164.506(c)(4)", s164_502.MN_APPLIES))
        return deny("45 CFR 164.506(c)(4) (operations disclosures go to covered entities with a "
                    "relationship with the individual, or to business associates)")
    if purpose == "training":
        return deny("45 CFR 164.501 (health care operations cover the covered entity's own "
                    "training programs only); 164.506(c)(1)",
                    "A requester outside the practice's own training program.")
    # legal_defense_vs_individual: the covered entity's legal services are health care operations
    if role in COUNSEL_ROLES or role == "business_associate":
        return _mn(case, policy, rule_string(
            "164.506(c)(1)", "164.501 (health care operations: legal services)", s164_502.MN_APPLIES))
    return deny("45 CFR 164.506(c)(1) (legal services are provided by the practice's counsel)",
                f"{role} is not the practice's counsel.")

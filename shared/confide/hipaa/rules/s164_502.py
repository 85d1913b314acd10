"""45 CFR 164.502 -- general rules: required disclosure to the Secretary (a)(2)(ii), the
minimum-necessary standard and its exceptions (b), business associates (e), personal
representatives (g), and the other individuals whose PHI a record may hold (a).
"""
from __future__ import annotations

from confide.hipaa.minimum_necessary import MinimumNecessaryPolicy
from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import BASIS_HHS, PERMIT, PERMIT_REDACTED, Ruling, deny, rule_string

# 164.502(b)(2): minimum necessary does not apply to ...
MN_NA_TREATMENT = "minimum necessary N/A 164.502(b)(2)(i)"          # provider, treatment
MN_NA_INDIVIDUAL = "minimum necessary N/A 164.502(b)(2)(ii)"        # the individual
MN_NA_AUTHORIZATION = "minimum necessary N/A 164.502(b)(2)(iii)"    # an authorization
MN_NA_HHS = "minimum necessary N/A 164.502(b)(2)(iv)"               # the Secretary
MN_NA_REQUIRED_BY_LAW = "minimum necessary N/A 164.502(b)(2)(v)"    # required by law
MN_APPLIES = "164.502(b)"


def hhs(case: Case, policy: MinimumNecessaryPolicy | None = None) -> Ruling | None:
    """164.502(a)(2)(ii): a covered entity must disclose PHI to the Secretary (HHS OCR) to
    investigate or determine its compliance; minimum necessary does not apply (b)(2)(iv)."""
    if case.purpose != "hhs_compliance":
        return None
    if case.role == "hhs_ocr" or (case.is_workforce and case.role in ("compliance_staff",
                                                                      "practice_admin")):
        return Ruling(PERMIT, rule_string("164.502(a)(2)(ii)", MN_NA_HHS),
                      ("Disclosure to the Secretary is required, not merely permitted.",),
                      ("records requested by HHS",), False, BASIS_HHS, redact_others=False)
    return deny("45 CFR 164.502(a)(2)(ii) (only the Secretary's compliance review qualifies)",
                f"{case.role} is not the Secretary (HHS OCR).")


def business_associate_ok(case: Case) -> bool:
    """164.502(e)(1): disclosure to a business associate needs satisfactory assurance (a
    business associate agreement, 164.504(e))."""
    return case.req_flag("baa_in_place") is True


def no_business_associate_agreement(case: Case) -> Ruling:
    """164.502(e)(1), 164.504(e): the denial when no business associate agreement is in place."""
    return deny("45 CFR 164.502(e)(1); 164.504(e) (no business associate agreement)",
                f"{case.role} needs a business associate agreement before receiving PHI.")


def is_personal_representative(case: Case) -> bool:
    """164.502(g): a parent is the personal representative of an unemancipated minor, except
    where the minor may lawfully consent to the care (g)(3) or the covered entity reasonably
    believes the parent may be abusive or endangering (g)(5). Facts read: ``requester.
    is_personal_representative``, ``personal_representative``, ``patient_is_minor``,
    ``patient_age``, ``minor_consented_to_care``, ``abuse_or_endangerment_concern``."""
    flag = case.req_flag("is_personal_representative")
    if flag is None:
        flag = case.fact("personal_representative")
    if flag is False:
        return False
    if case.fact("minor_consented_to_care") or case.fact("abuse_or_endangerment_concern"):
        return False
    if flag is True:
        return True
    if case.role != "parent":
        return False
    age = case.fact("patient_age")
    if case.fact("patient_is_minor") is False or (isinstance(age, (int, float)) and age >= 18):
        return False
    return True


def redact_other_individuals(case: Case, ruling: Ruling) -> Ruling:
    """164.502(a): a permission covers the individual's own PHI. When a group (or any) session
    note identifies other participants, their information is removed before a disclosure."""
    if (not ruling.permits or not case.is_disclosure or not case.other_participants
            or not ruling.redact_others):
        return ruling
    who = ", ".join(case.other_participants)
    return ruling.but(
        decision=PERMIT_REDACTED,
        rule=rule_string(ruling.rule, "164.502(a) (other participants' PHI removed)"),
        reasons=ruling.reasons + (f"Remove the information identifying other participants ({who}) "
                                  "before release; this permission covers only the patient's PHI.",),
    )

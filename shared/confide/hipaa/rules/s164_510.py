"""45 CFR 164.510(b) -- disclosures to family members and others involved in the individual's
care: (b)(3) when the individual is not present or is incapacitated, or in an emergency, on the
exercise of professional judgment, limited to what is directly relevant to the person's
involvement; (b)(5) after death, to family involved in the care before death.

Not an exception for psychotherapy notes. Excluded from accounting (164.528(a)(1)(v)); the
professional judgment meets verification (164.514(h)(2)(iv)).
"""
from __future__ import annotations

from confide.hipaa.minimum_necessary import MinimumNecessaryPolicy
from confide.hipaa.rules import s164_502
from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import BASIS_INVOLVEMENT, PERMIT_MN, Ruling, rule_string

INVOLVED_ROLES = frozenset({"parent", "patient_designee"})


def involvement(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """Permit a disclosure to a family member involved in care in an emergency, or after death."""
    if case.role not in INVOLVED_ROLES or s164_502.is_personal_representative(case):
        return None
    if case.fact("emergency") is True:
        paragraph = "164.510(b)(3)"
        why = "Emergency: professional judgment that disclosure is in the patient's best interest."
    elif case.fact("patient_deceased") is True:
        paragraph = "164.510(b)(5)"
        why = "After death: to a family member involved in the patient's care before death."
    else:
        return None
    return Ruling(PERMIT_MN, rule_string(paragraph, s164_502.MN_APPLIES), (why,),
                  policy.fields_for("involvement", case.role), True, BASIS_INVOLVEMENT,
                  verification_exempt=True)

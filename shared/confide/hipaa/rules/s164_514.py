"""45 CFR 164.514 -- role-based access for the workforce (d)(2) and verification of the
identity and authority of a requester (h).

The field sets a routine disclosure may carry (164.514(d)(3)) are configuration:
``confide.hipaa.minimum_necessary``.
"""
from __future__ import annotations

from confide.hipaa.minimum_necessary import MinimumNecessaryPolicy
from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import DISCRETIONARY, HOLD, PERMITTING, Ruling, deny

PUBLIC_OFFICIALS = frozenset({
    "hhs_ocr", "court", "prosecutor", "law_enforcement", "coroner_me", "health_oversight_agency",
    "child_protective_services",
})


def role_based_access(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.514(d)(2): a workforce member may use PHI only for the purposes the covered entity's
    role-based policy gives that role. Returns a denial, or None when access is within role."""
    if not case.is_workforce:
        return None
    if policy.workforce_may(case.role, case.purpose):
        return None
    return deny("45 CFR 164.514(d)(2) role-based access",
                f"The {case.role} role may not use PHI for {case.purpose} under the practice's "
                "role-based access policy.")


def verification(case: Case, ruling: Ruling) -> Ruling:
    """164.514(h)(1): before a disclosure, verify the identity and authority of a requester whose
    identity or authority is not known. Workforce members are known; professional judgment under
    164.510 and good-faith belief under 164.512(j) meet the requirement (h)(2)(iv).  A permitted
    (or discretionary) release whose requester is recorded as unverified becomes ``hold``."""
    if ruling.decision not in PERMITTING and ruling.decision != DISCRETIONARY:
        return ruling
    if case.is_workforce or ruling.verification_exempt:
        return ruling
    identity = case.req_flag("identity_verified")
    authority = case.req_flag("authority_verified")
    if identity is not False and authority is not False:
        return ruling
    cites = ["45 CFR 164.514(h)(1)"]
    if case.role in PUBLIC_OFFICIALS:
        cites.append("164.514(h)(2)(ii)" if identity is False else "164.514(h)(2)(iii)")
    missing = " and ".join(w for w, v in (("identity", identity), ("authority", authority)) if v is False)
    return ruling.but(
        decision=HOLD, rule="; ".join(cites), fields=None, minimum_necessary=None,
        reasons=(f"The requester's {missing} must be verified before anything is released; "
                 f"once verified the decision would be {ruling.decision} under {ruling.rule}.",)
        + ruling.reasons,
        extra_citations=tuple(ruling.citations),
    )

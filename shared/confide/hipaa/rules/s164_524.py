"""45 CFR 164.524 -- the individual's right of access to PHI in a designated record set.

(a)(1) right of access, except psychotherapy notes (a)(1)(i), which may be denied without review
(a)(2)(i) (decided in ``s164_508``); (b)(2) act within 30 days, one 30-day extension; (c)(3)(ii) a
copy sent to a person the individual designates, when the direction is in writing, signed and
clearly identifies the designee.  A personal representative stands in the individual's shoes
(164.502(g)).  Minimum necessary N/A (164.502(b)(2)(ii)); excluded from accounting
(164.528(a)(1)(ii)).
"""
from __future__ import annotations

from confide.hipaa.minimum_necessary import MinimumNecessaryPolicy
from confide.hipaa.rules import s164_502
from confide.hipaa.rules._case import Case, days_after
from confide.hipaa.rules._ruling import BASIS_INDIVIDUAL, HOLD, PERMIT, Ruling, deny, rule_string

ACCESS_PURPOSES = frozenset({"individual_access", "other", "treatment"})
#: cited when a parent exercises the minor's rights: 164.502(g)(1) (treated as the individual),
#: (g)(3) (a parent of an unemancipated minor is the personal representative)
PERSONAL_REPRESENTATIVE = ("45 CFR 164.502(g)(1)", "45 CFR 164.502(g)(3)")


def _due(case: Case) -> str:
    due = days_after(case.at, 30)
    return (f"Respond by {due} (30 days, 164.524(b)(2)); one 30-day extension with written notice.")


def access(case: Case, policy: MinimumNecessaryPolicy | None = None) -> Ruling | None:
    """Decide a request by the individual, a personal representative or a designee; None when
    the requester is none of them (and the purpose is not individual access)."""
    role = case.role
    individual = role == "patient"
    representative = role == "parent" and s164_502.is_personal_representative(case)
    if individual and case.req_flag("id") is not None and case.patient \
            and case.requester.get("id") != case.patient:
        if case.req_flag("identity_verified") is not True:
            # Who is asking is not established: verifying their identity settles it (164.514(h)).
            verified = case.req_flag("identity_verified")
            return Ruling(HOLD, rule_string("164.514(h)(1) (identity of the requester not verified)",
                                            "164.524(a)(1)"),
                          (f"Hold: the requester ({case.requester.get('id')}) asks as the individual "
                           f"for {case.patient}'s record, and their identity is not verified "
                           f"(requester.identity_verified is {'false' if verified is False else 'unknown'}); "
                           "nothing is released until it is.",))
        return deny("45 CFR 164.524(a)(1) (the requester is not the individual)",
                    f"{case.requester.get('id')}, verified, asked for {case.patient}'s record.")
    if (individual or representative) and case.purpose in ACCESS_PURPOSES:
        pr = ["A personal representative is treated as the individual (164.502(g)(1)); a parent "
              "is the personal representative of an unemancipated minor (164.502(g)(3))."] if representative else []
        return Ruling(PERMIT, rule_string("164.524(a)(1)", "response within 30 days, one 30-day "
                                          "extension (164.524(b)(2))"),
                      tuple(pr) + (_due(case), "Access is an obligation, not a choice."),
                      ("entire designated record set progress notes",), False, BASIS_INDIVIDUAL,
                      PERSONAL_REPRESENTATIVE if representative else ())
    if role == "patient_designee" and case.purpose in ACCESS_PURPOSES:
        d = case.directed_by_patient or {}
        missing = [w for w, k in (("in writing", "in_writing"), ("signed", "signed"),
                                  ("clearly identifying the designee", "designee_identified"))
                   if d.get(k) is not True]
        if missing:
            if case.authorization:
                return None  # the authorization on file may still permit it (164.508)
            return deny("45 CFR 164.524(c)(3)(ii) (the direction must be in writing, signed and "
                        "identify the designee)",
                        "The patient's direction is not " + ", ".join(missing) + ".")
        return Ruling(PERMIT, rule_string("164.524(c)(3)(ii)", s164_502.MN_NA_INDIVIDUAL),
                      (_due(case), "A copy sent at the individual's written, signed direction."),
                      ("designated record set copy directed by the patient",), False, BASIS_INDIVIDUAL)
    if case.purpose == "individual_access":
        return deny("45 CFR 164.524(a)(1) (the right of access belongs to the individual or a "
                    "personal representative)", f"{role} is not the individual.")
    return None

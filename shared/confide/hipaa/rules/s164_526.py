"""45 CFR 164.526 -- the individual's right to have PHI in a designated record set amended.

(a)(1) the individual (or personal representative) may request amendment; (a)(2) the covered
entity may deny when the PHI was not created by it, is not in the designated record set, would
not be available for inspection under 164.524 (psychotherapy notes: (a)(2)(iii)), or is accurate
and complete; (b)(2) act within 60 days, one 30-day extension.  Nothing is released.
"""
from __future__ import annotations

from confide.hipaa.minimum_necessary import MinimumNecessaryPolicy
from confide.hipaa.rules import s164_502
from confide.hipaa.rules._case import SEPARATED_NOTE_KINDS, Case, days_after
from confide.hipaa.rules._ruling import DISCRETIONARY, PERMIT, Ruling, deny, rule_string


def amendment(case: Case, policy: MinimumNecessaryPolicy | None = None) -> Ruling | None:
    """Decide an amendment request; None when the purpose is not amendment."""
    if case.purpose != "amendment":
        return None
    if case.role != "patient" and not (case.role == "parent" and s164_502.is_personal_representative(case)):
        return deny("45 CFR 164.526(a)(1) (only the individual or a personal representative may "
                    "request amendment)")
    due = days_after(case.at, 60)
    if case.note_kind in SEPARATED_NOTE_KINDS and case.fact("stored_separately") is not False:
        return Ruling(DISCRETIONARY, rule_string("164.526(a)(2)(iii) (not available for inspection "
                                                 "under 164.524)", "164.524(a)(1)(i)"),
                      ("The practice may deny amending psychotherapy notes; default: deny, with the "
                       "individual's right to file a statement of disagreement (164.526(d)).",))
    return Ruling(PERMIT, rule_string("164.526(a)(1)", "act within 60 days (164.526(b)(2))"),
                  (f"Act on the request by {due}; it may be denied only on a ground of "
                   "164.526(a)(2), e.g. the record is accurate and complete.",))

"""New York: Mental Hygiene Law 33.13 (clinical records of facilities licensed or operated by the
Office of Mental Health) and Public Health Law 18 (access to patient information), each applied
only where it is stricter than HIPAA (45 CFR 160.203(b)).

* Mental Hyg. Law 33.13(c)(1) (``practice_setting: omh_facility``): clinical records are released
  into a proceeding only "pursuant to an order of a court of record requiring disclosure upon a
  finding by the court that the interests of justice significantly outweigh the need for
  confidentiality" -- a subpoena with satisfactory assurance, an administrative or
  law-enforcement request without such an order, is not enough (denied); a judge's order is relied
  on with that finding noted.
* Mental Hyg. Law 33.13(c)(6) (same setting): to avert a danger, records go only "to an endangered
  individual and a law enforcement agency when a treating psychiatrist or psychologist has
  determined that a patient or client presents a serious and imminent danger to that individual";
  HIPAA's wider 164.512(j) circle (anyone reasonably able to prevent the threat) is narrowed to
  them.
* Public Health Law 18(2)(a) (every provider): a subject's written request to inspect is met
  within ten days -- sooner than HIPAA's 30 (164.524(b)(2)); the access decision carries that
  deadline.
"""
from __future__ import annotations

from confide.hipaa.rules._case import Case, days_after
from confide.hipaa.rules._ruling import BASIS_INDIVIDUAL, BASIS_PUBLIC_INTEREST, Ruling
from confide.hipaa.rules.states._overlay import noted, setting_applies, stricter

CODE = "NY"
NAME = "New York"
SETTINGS = ("outpatient_practice", "omh_facility")

MHL_COURT_ORDER = "N.Y. Mental Hyg. Law 33.13(c)(1)"
MHL_DANGER = "N.Y. Mental Hyg. Law 33.13(c)(6)"
PHL_ACCESS = "N.Y. Pub. Health Law 18(2)(a)"

#: who may receive records under 33.13(c)(6): the endangered individual and law enforcement
DANGER_RECIPIENTS = frozenset({"person_able_to_prevent_threat", "law_enforcement"})


def _judge_order(case: Case) -> bool:
    lp = case.legal_process or {}
    return lp.get("type") == "court_order" and lp.get("signed_by_judge") is True


def _clinical_records(case: Case, ruling: Ruling) -> Ruling:
    """Mental Hyg. Law 33.13(c)(1), (c)(6) for a facility licensed or operated by OMH."""
    if not ruling.permits or ruling.basis != BASIS_PUBLIC_INTEREST:
        return ruling
    if case.purpose in ("judicial", "law_enforcement") and (case.mandate or {}).get("compels") is not True:
        applies, why = setting_applies(case, "omh_facility", SETTINGS)
        if not applies:
            return ruling
        if _judge_order(case):
            return noted(ruling, MHL_COURT_ORDER, "New York: the order must rest on the court's finding "
                         "that the interests of justice significantly outweigh the need for "
                         "confidentiality (Mental Hygiene Law 33.13(c)(1)).", *(w for w in (why,) if w))
        return stricter(ruling, MHL_COURT_ORDER, "clinical records go to a proceeding only on a court's "
                        "order with the interests-of-justice finding", *(w for w in (why,) if w),
                        "A subpoena or request without a court order is not enough under Mental Hygiene "
                        "Law 33.13(c)(1).")
    if case.purpose == "serious_threat" and case.role not in DANGER_RECIPIENTS:
        applies, why = setting_applies(case, "omh_facility", SETTINGS)
        if not applies:
            return ruling
        return stricter(ruling, MHL_DANGER, "to avert a danger, only the endangered individual and law "
                        "enforcement receive records", *(w for w in (why,) if w),
                        f"A {case.role} is neither the endangered individual nor a law enforcement agency.")
    return ruling


def _access_deadline(case: Case, ruling: Ruling) -> Ruling:
    """Public Health Law 18(2)(a): inspection within ten days of a written request."""
    if not ruling.permits or ruling.basis != BASIS_INDIVIDUAL or case.purpose != "individual_access":
        return ruling
    return noted(ruling, PHL_ACCESS, f"New York: give the opportunity to inspect by {days_after(case.at, 10)} "
                 "(ten days, Public Health Law 18(2)(a)); HIPAA's 30 days are the outer limit for the copy.")


def apply(case: Case, ruling: Ruling) -> Ruling:
    """Apply New York's stricter rules to a HIPAA ruling."""
    return _access_deadline(case, _clinical_records(case, ruling))

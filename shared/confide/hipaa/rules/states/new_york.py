"""New York: Mental Hygiene Law 33.13 (clinical records of facilities licensed or operated by the
Office of Mental Health), Mental Hygiene Law 33.16 and Public Health Law 18 (access to one's own
records), each applied only where it is stricter than HIPAA (45 CFR 160.203(b)).  What each
proposition was checked against, and what could not be checked, is in ``docs/law-sources.md``.

* Mental Hyg. Law 33.13(c) (``practice_setting: omh_facility``): clinical records "shall not be
  released ... to any person or agency outside of the offices except as follows", a closed list:
  - (c)(1): into a proceeding only "pursuant to an order of a court of record requiring disclosure
    upon a finding by the court that the interests of justice significantly outweigh the need for
    confidentiality" -- a subpoena with satisfactory assurance, an administrative or
    law-enforcement request without such an order, is not enough (denied); a judge's order is
    relied on with that finding noted.
  - (c)(6): to avert a danger, records go only "to an endangered individual and a law enforcement
    agency when a treating psychiatrist or psychologist has determined that a patient or client
    presents a serious and imminent danger to that individual".  HIPAA's wider 164.512(j) circle
    (anyone reasonably able to prevent the threat) is narrowed to them; who made the determination
    (``danger_determined_by``: ``treating_psychiatrist`` or ``treating_psychologist``) and, for a
    recipient other than law enforcement, that it is the endangered individual
    (``recipient_is_endangered_individual``) must be on file -- else held.  The paragraph number
    (6) is as the statute was recalled; its text matches the secondary sources, its number could
    not be checked against the official text.
  - any other release HIPAA permits in the public interest (oversight, coroner, research, ...):
    which paragraph of the list (if any) reaches it is not modelled here, so it is denied, saying
    so; a disclosure a law compels (``mandate.compels``) is left to that law.
* Access (every setting): a subject's written request to inspect is met within ten days -- sooner
  than HIPAA's 30 (164.524(b)(2)).  Mental Hyg. Law 33.16(b)(1) for a facility's clinical records
  (``omh_facility``); Public Health Law 18(2)(a) for a practitioner's or facility's patient
  information (``outpatient_practice``; 18(1)(e) leaves out records subject to Mental Hyg. Law
  33.13, and 18(1)(d) covers the practitioners licensed under the Education Law articles it lists,
  which do not include article 163 -- mental health counselors, marriage and family therapists).
  The earlier deadline is told whichever applies (it releases nothing HIPAA would not).
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
MHL_LIST = "N.Y. Mental Hyg. Law 33.13(c)"
MHL_ACCESS = "N.Y. Mental Hyg. Law 33.16(b)(1)"
PHL_ACCESS = "N.Y. Pub. Health Law 18(2)(a)"

#: who may receive records under 33.13(c)(6): the endangered individual and law enforcement
DANGER_RECIPIENTS = frozenset({"person_able_to_prevent_threat", "law_enforcement"})
#: who may make the 33.13(c)(6) determination
DANGER_DETERMINERS = frozenset({"treating_psychiatrist", "treating_psychologist"})


def _judge_order(case: Case) -> bool:
    lp = case.legal_process or {}
    return lp.get("type") == "court_order" and lp.get("signed_by_judge") is True


def _held(ruling: Ruling, why: str, *reasons: str) -> Ruling:
    return stricter(ruling, MHL_DANGER, why, *reasons, hold=True)


def _danger(case: Case, ruling: Ruling, why: str) -> Ruling:
    """Mental Hyg. Law 33.13(c)(6): the endangered individual and law enforcement only, on a
    treating psychiatrist's or psychologist's determination."""
    told = tuple(w for w in (why,) if w)
    if case.role not in DANGER_RECIPIENTS:
        return stricter(ruling, MHL_DANGER, "to avert a danger, only the endangered individual and law "
                        "enforcement receive records", *told,
                        f"A {case.role} is neither the endangered individual nor a law enforcement agency.")
    by = case.fact("danger_determined_by")
    if by is None:
        return _held(ruling, "the determination of a treating psychiatrist or psychologist is not on file", *told,
                     "Mental Hygiene Law 33.13(c)(6) requires that a treating psychiatrist or psychologist "
                     "has determined the patient presents a serious and imminent danger to the individual "
                     "(danger_determined_by is unknown); held until it is recorded.")
    if by not in DANGER_DETERMINERS:
        return stricter(ruling, MHL_DANGER, "the danger was not determined by a treating psychiatrist or "
                        "psychologist", *told,
                        f"The determination on file is by {by!r}; 33.13(c)(6) needs a treating psychiatrist "
                        "or psychologist.")
    if case.role != "law_enforcement":
        endangered = case.fact("recipient_is_endangered_individual")
        if endangered is None:
            return _held(ruling, "that the recipient is the endangered individual is not on file", *told,
                         "Mental Hygiene Law 33.13(c)(6) lets records go to the endangered individual, not to "
                         "anyone able to prevent the threat (recipient_is_endangered_individual is unknown); "
                         "held until it is established.")
        if endangered is False:
            return stricter(ruling, MHL_DANGER, "the recipient is not the endangered individual", *told,
                            "The case states the recipient is not the endangered individual.")
    return noted(ruling, MHL_DANGER, "New York: released to "
                 + ("a law enforcement agency" if case.role == "law_enforcement" else "the endangered individual")
                 + f" on the determination of a {by.replace('_', ' ')} (Mental Hygiene Law 33.13(c)(6)).",
                 *told)


def _clinical_records(case: Case, ruling: Ruling) -> Ruling:
    """Mental Hyg. Law 33.13(c) for a facility licensed or operated by OMH."""
    if not ruling.permits or ruling.basis != BASIS_PUBLIC_INTEREST:
        return ruling
    if (case.mandate or {}).get("compels") is True:
        return ruling  # a disclosure a law compels is left to that law
    applies, why = setting_applies(case, "omh_facility", SETTINGS)
    if not applies:
        return ruling
    told = tuple(w for w in (why,) if w)
    if case.purpose in ("judicial", "law_enforcement"):
        if _judge_order(case):
            return noted(ruling, MHL_COURT_ORDER, "New York: the order must rest on the court's finding "
                         "that the interests of justice significantly outweigh the need for "
                         "confidentiality (Mental Hygiene Law 33.13(c)(1)).", *told)
        return stricter(ruling, MHL_COURT_ORDER, "clinical records go to a proceeding only on a court's "
                        "order with the interests-of-justice finding", *told,
                        "A subpoena or request without a court order is not enough under Mental Hygiene "
                        "Law 33.13(c)(1).")
    if case.purpose == "serious_threat":
        return _danger(case, ruling, why)
    return stricter(ruling, MHL_LIST, f"no modelled paragraph of 33.13(c) permits a {case.purpose} release",
                    *told,
                    "Mental Hygiene Law 33.13(c) lets a facility's clinical records go outside only in the "
                    f"cases it lists; which of them (if any) reaches this {case.purpose} release is not "
                    "established here, so nothing is released on HIPAA's permission alone. Counsel must name "
                    "the paragraph (or the practice must configure practice_setting if it is not an OMH "
                    "facility).")


def _access_deadline(case: Case, ruling: Ruling) -> Ruling:
    """Mental Hyg. Law 33.16(b)(1) (OMH facility) / Public Health Law 18(2)(a) (other providers):
    inspection within ten days of a written request."""
    if not ruling.permits or ruling.basis != BASIS_INDIVIDUAL or case.purpose != "individual_access":
        return ruling
    facility, why = setting_applies(case, "omh_facility", SETTINGS)
    practice, _ = setting_applies(case, "outpatient_practice", SETTINGS)
    laws = [(MHL_ACCESS, "Mental Hygiene Law 33.16(b)(1)")] if facility else []
    if practice:
        laws.append((PHL_ACCESS, "Public Health Law 18(2)(a)"))
    named = " / ".join(name for _, name in laws)
    out = noted(ruling, laws[0][0], f"New York: give the opportunity to inspect by {days_after(case.at, 10)} "
                f"(ten days from the written request, {named}); HIPAA's 30 days (164.524(b)(2)) remain "
                "the outer limit for the copy.", *(w for w in (why,) if w))
    for cite, _ in laws[1:]:
        out = out.but(extra_citations=out.extra_citations + (cite,))
    return out


def apply(case: Case, ruling: Ruling) -> Ruling:
    """Apply New York's stricter rules to a HIPAA ruling."""
    return _access_deadline(case, _clinical_records(case, ruling))


"""42 CFR Part 2 (as amended in 2024, 89 FR 12472) -- confidentiality of substance use disorder
patient records, applied on top of HIPAA to a Part 2 record.

Which records: the record's segregation flag ``record_is_part2: true`` (a Part 2 program's SUD
record, 2.11, 2.12(a)), and SUD counseling notes (``note_kind: sud_counseling``), which only a Part 2
program keeps and which are Part 2 records by definition (2.11) whatever the flag says.  An absent
flag is a record the store has not marked as Part 2: HIPAA alone decides it.

The rules, each only where it is stricter than HIPAA's answer:

* 2.11, 2.31(b)(1): SUD counseling notes -- notes by a Part 2 program's SUD or mental-health
  professional of a counseling session, kept apart from the rest of the record -- are used or
  disclosed only with a consent that names them, except the originator's own treatment use
  ((b)(1)(i)(A)), the program's own supervised training ((b)(1)(i)(B)), its defense in a
  proceeding the patient brought ((b)(1)(i)(C)), and the disclosures of (b)(1)(ii) (the
  Secretary's enforcement; audit and evaluation -- oversight -- of the notes' originator, 2.53;
  cause-of-death reporting, 2.15(b)).  A general Part 2 consent (``part2_records``) and the single
  TPO consent do not reach them; 2.31(b)(2): a consent for them is combined only with another such
  consent (judged by :func:`confide.hipaa.authorization.authorization_defects`).  The engine
  decides them through the 164.508(a)(2) structure they mirror (``s164_508``) and cites the Part 2
  paragraph here.
* 2.12(c)(3): communications within the program (uses by the workforce) need no consent.
* 2.61, 2.64: a subpoena (or other process) alone never permits disclosure; a court's order is
  needed (a ``court_order`` signed by a judge -- it must contain the 2.64(d)-(e) findings).
* 2.13(a), 2.31, 2.33: any other disclosure needs the patient's written consent -- ``patient_consent``
  or an authorization on file that is also a Part 2 consent (its ``covers`` names Part 2 records;
  a general authorization for the release of medical information is not one) -- except patient
  access (2.23), medical emergencies (2.51), research (2.52), audit and evaluation / oversight
  (2.53), child-abuse reports (2.12(c)(6)), cause-of-death reporting (2.15(b)), qualified service
  organizations (2.12(c)(4)) and the Secretary's enforcement.
* 2.31(a)(4)(i), 2.33(a)(2): the single consent for all future uses and disclosures for treatment,
  payment and health care operations (``part2_tpo_consent: true`` on a valid consent covering
  ``part2_records``) permits every TPO use and disclosure HIPAA permits, to recipients described
  generally, until revoked in writing; 2.33(b)(1): a covered entity or business associate that
  receives records for TPO may redisclose them as HIPAA permits, except in civil, criminal,
  administrative and legislative proceedings against the patient.
* 2.32(a)-(b): every disclosure made with consent carries the notice prohibiting redisclosure
  (statement 2 of 2.32(a)(2) is quoted in the decision's reasons) and a copy of the consent or a
  clear explanation of its scope; the engine attaches the notice to every released Part 2 record.
"""
from __future__ import annotations

from confide.hipaa.authorization import authorization_defects, covers_part2_records
from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import (
    BASIS_AUTHORIZATION,
    BASIS_HHS,
    BASIS_INDIVIDUAL,
    HOLD,
    Ruling,
    deny,
)

_WITHOUT_CONSENT = {
    "health_oversight": "42 CFR 2.53",
    "research": "42 CFR 2.52",
    "coroner_me": "42 CFR 2.15(b)",
}
TPO = frozenset({"treatment", "payment", "operations", "training", "legal_defense_vs_individual"})

#: 2.32(a)(2): the short form of the notice that accompanies each disclosure made with consent.
REDISCLOSURE_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
NOTICE_CITATION = "42 CFR 2.32(a)"

#: 164.508(a)(2) exception relied on -> the 2.31(b)(1) paragraph that excepts SUD counseling notes
_SUD_NOTES_EXCEPTIONS = (
    ("164.508(a)(2)(i)(A)", "42 CFR 2.31(b)(1)(i)(A)"),
    ("164.508(a)(2)(i)(B)", "42 CFR 2.31(b)(1)(i)(B)"),
    ("164.508(a)(2)(i)(C)", "42 CFR 2.31(b)(1)(i)(C)"),
    ("164.508(a)(2)(ii)", "42 CFR 2.31(b)(1)(ii)"),
)
#: defects of an authorization that do not touch a single TPO consent, whose recipients and
#: purposes are described generally ("my treating providers, health plans, third-party payers",
#: 2.31(a)(4)(i))
_TPO_CONSENT_IGNORES = frozenset({"recipient_not_named", "recipient_not_established", "purpose_inconsistent"})


def _sud_notes(case: Case) -> bool:
    """SUD counseling notes proper: kept apart from the rest of the record (2.11); the same note
    kept with the record is an ordinary Part 2 record."""
    return case.is_sud_counseling and case.fact("stored_separately") is not False


def _tpo_consent(case: Case) -> tuple[bool, str]:
    """2.31(a)(4)(i), 2.33(a)(2): a valid single consent for all future TPO uses and disclosures
    reaches this request?  Returns (reaches, why-not)."""
    auth = case.authorization
    if not auth or auth.get("part2_tpo_consent") is not True or not covers_part2_records(auth):
        return False, "no single TPO consent covering Part 2 records is on file"
    if case.purpose not in TPO:
        return False, ("the single TPO consent reaches treatment, payment and health care operations "
                       f"only, not {case.purpose} (2.33(a)(2))")
    defects = [d for d in authorization_defects(auth, request=case.raw, at=case.at)
               if d.code not in _TPO_CONSENT_IGNORES]
    if defects:
        return False, "the TPO consent cannot be relied on: " + "; ".join(d.message for d in defects)
    return True, ""


def _consent(case: Case, ruling: Ruling) -> tuple[str | None, str]:
    """The patient's Part 2 consent that reaches this request: ``"written"`` (``patient_consent``,
    or the authorization HIPAA relied on, when it is a Part 2 consent), ``"tpo"`` (the single TPO
    consent), or None with why not.  SUD counseling notes are reached only by a consent naming
    them, which is the authorization the HIPAA rules relied on (164.508(a)(2) structure)."""
    if _sud_notes(case):
        if ruling.basis == BASIS_AUTHORIZATION:
            return "written", ""
        return None, ("SUD counseling notes are released only with a consent that names them "
                      "(2.31(b)(1)); a general Part 2 consent or the TPO consent does not reach them")
    if case.fact("patient_consent") is True:
        return "written", ""
    if ruling.basis == BASIS_AUTHORIZATION:
        if covers_part2_records(case.authorization or {}):
            return "written", ""
        return None, ("the authorization relied on does not name Part 2 records: a general "
                      "authorization for the release of medical information is not a Part 2 consent "
                      "(2.31, 2.32(a))")
    tpo, why = _tpo_consent(case)
    if tpo:
        return "tpo", ""
    return None, why


def _order(case: Case) -> bool:
    lp = case.legal_process or {}
    return lp.get("type") == "court_order" and lp.get("signed_by_judge") is True


def _sud_notes_citations(ruling: Ruling) -> tuple[str, ...]:
    cited = ruling.citations
    return tuple(part2 for hipaa, part2 in _SUD_NOTES_EXCEPTIONS if f"45 CFR {hipaa}" in cited)


def _with_notice(ruling: Ruling, consent: str | None, case: Case, *extra: str) -> Ruling:
    """2.32: the redisclosure notice (and, for a disclosure made with consent, the copy of the
    consent) goes with the records."""
    reasons = [f"Part 2 record: attach the 42 CFR 2.32(a) notice prohibiting redisclosure: "
               f"\"{REDISCLOSURE_NOTICE}\""]
    if consent:
        reasons.append("Part 2: send a copy of the patient's consent or a clear explanation of its "
                       "scope with the records (42 CFR 2.32(b)).")
    if consent == "tpo":
        reasons.append("Disclosed under the patient's single consent for all future treatment, payment "
                       "and health care operations (42 CFR 2.33(a)(2)); a covered entity or business "
                       "associate recipient may redisclose as HIPAA permits, never in civil, criminal, "
                       "administrative or legislative proceedings against the patient (42 CFR 2.33(b)(1)).")
    cites = tuple(c for c in (NOTICE_CITATION, *extra) if c)
    if consent == "tpo":
        cites += ("42 CFR 2.33(a)(2)", "42 CFR 2.33(b)(1)")
    return ruling.but(extra_citations=ruling.extra_citations + cites).with_reason(*reasons)


def apply(case: Case, ruling: Ruling) -> Ruling:
    """Apply Part 2 to a HIPAA ruling about a Part 2 record (unchanged for any other record)."""
    if not case.is_part2:
        return ruling
    if case.is_sud_counseling and case.fact("record_is_part2") is False:
        ruling = ruling.with_reason("SUD counseling notes are a Part 2 program's records by definition "
                                    "(42 CFR 2.11): Part 2 applies although record_is_part2 is false.")
    consent, no_consent = _consent(case, ruling)
    lp = case.legal_process or {}
    lp_type = lp.get("type")
    if lp_type == "court_order" and lp.get("signed_by_judge") is None and ruling.decision == HOLD:
        # whether it is a judge's order (which a 2.64 order is) is being verified: stays held
        return ruling.but(extra_citations=ruling.extra_citations + ("42 CFR 2.64",))
    if lp_type and not _order(case) and not consent:
        if ruling.permits or ruling.decision == HOLD:
            return deny("42 CFR 2.61; 2.64 (a subpoena does not compel disclosure of Part 2 records "
                        "without a Part 2 court order)",
                        "Part 2 record: respond to the subpoena without disclosing (2.61(b)); a court "
                        "order under 2.64 with the required findings is needed.",
                        citations=tuple(ruling.citations))
        return ruling.but(extra_citations=ruling.extra_citations + ("42 CFR 2.61",))
    if not ruling.permits:
        if _sud_notes(case):
            return ruling.but(extra_citations=ruling.extra_citations + ("42 CFR 2.31(b)(1)",)).with_reason(
                f"Part 2: {no_consent}." if no_consent else "")
        return ruling
    sud_cites = _sud_notes_citations(ruling) if _sud_notes(case) else ()
    cite = _WITHOUT_CONSENT.get(case.purpose)
    if not case.is_disclosure:
        return ruling.but(extra_citations=ruling.extra_citations + sud_cites).with_reason(
            "Part 2: communication within the program (42 CFR 2.12(c)(3)).")
    if _sud_notes(case):
        # 2.31(b)(1): a consent naming the notes, or one of its exceptions; nothing else.
        if consent or sud_cites or ruling.basis in (BASIS_INDIVIDUAL, BASIS_HHS):
            extra = sud_cites or (("42 CFR 2.31(b)(1)",) if consent else ())
            if sud_cites and cite:  # the exception's own Part 2 section (2.53 oversight, 2.15(b))
                extra += (cite,)
            return _with_notice(ruling, consent, case, *extra)
        return deny("42 CFR 2.31(b)(1) (SUD counseling notes need a consent that names them)",
                    f"HIPAA alone would permit this under {ruling.rule}, but {no_consent}.",
                    citations=tuple(ruling.citations))
    basis_ok = (ruling.basis in (BASIS_INDIVIDUAL, BASIS_HHS) or consent
                or case.role == "child_protective_services"
                or _order(case)
                or (case.fact("emergency") is True and case.purpose == "treatment")
                or (case.role == "business_associate" and case.req_flag("baa_in_place") is True))
    if basis_ok or cite:
        extra = (cite,) if cite else ()
        if _order(case) and not consent:
            extra += ("42 CFR 2.64",)
        return _with_notice(ruling, consent, case, *extra)
    return deny("42 CFR 2.13(a); 2.31; 2.33 (Part 2 records need the patient's written consent)",
                f"HIPAA alone would permit this under {ruling.rule}, but Part 2 allows no "
                f"{case.purpose} disclosure without written consent ({no_consent}).",
                citations=tuple(ruling.citations))

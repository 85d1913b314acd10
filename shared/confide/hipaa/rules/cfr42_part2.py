"""42 CFR Part 2 (as amended in 2024, 89 FR 12472) -- confidentiality of substance use disorder
patient records, applied on top of HIPAA to a Part 2 record.  What each paragraph below was checked
against, and what could not be checked, is listed in ``docs/law-sources.md``.

Which records: the record's segregation flag ``record_is_part2: true`` (a Part 2 program's SUD
record, 2.11, 2.12(a)), and SUD counseling notes (``note_kind: sud_counseling``), which only a Part 2
program keeps and which are Part 2 records by definition (2.11) whatever the flag says.  An absent
flag is a record the store has not marked as Part 2: HIPAA alone decides it.

The rules, each only where it is stricter than HIPAA's answer:

* 2.11, 2.31(b)(1): SUD counseling notes -- notes by a Part 2 program's SUD or mental-health
  professional of a counseling session, kept apart from the rest of the record -- are used or
  disclosed only with a consent that names them, except the originator's own treatment use
  ((b)(1)(i)(A)), the program's own supervised training ((b)(1)(i)(B)) and its defense in a
  proceeding the patient brought ((b)(1)(i)(C)), and the uses and disclosures (b)(1)(ii) lists.
  The list of (b)(1)(ii) could not be checked against the official text here, so the engine
  accepts under it only what Part 2 itself permits without consent for every record: the
  Secretary's access, audit and evaluation -- oversight -- of the notes' originator (2.53, with
  the auditor's written agreement) and cause-of-death information (2.15(b)(1)).  A judge's order
  that names the notes is an authorizing order under subpart E (2.61(a)); the notes are the
  patient's confidential communications, so it must rest on a 2.63(a) finding, which the decision
  says.  HIPAA's other (a)(2)(ii) paragraphs -- a disclosure a law requires (164.512(a)) and the
  serious-threat disclosure (164.512(j)(1)(i)) -- have no Part 2 counterpart without consent or a
  court order: denied, saying so.  A general Part 2 consent
  (``part2_records``) and the single TPO consent do not reach the notes; 2.31(b)(2): a consent for
  them is combined only with another such consent (judged by
  :func:`confide.hipaa.authorization.authorization_defects`).  The engine decides them through the
  164.508(a)(2) structure they mirror (``s164_508``) and cites the Part 2 paragraph here.
* 2.12(c)(3): communications within the program, between personnel who need the information for
  their duties arising out of the provision of diagnosis, treatment or referral for treatment,
  need no consent.
* 2.61(b)(1), 2.64, 2.65: a subpoena (or other process) alone never permits disclosure; an
  authorizing court order under subpart E is needed -- 2.64 for noncriminal purposes, 2.65 to
  investigate or prosecute a patient (2.66 a program).  A ``court_order`` counts only when signed
  by a judge; the engine cannot see the order's findings (2.64(d)) and cites the section.
* 2.13(a), 2.31, 2.33: any other disclosure needs the patient's written consent -- ``patient_consent``
  or an authorization on file that is also a Part 2 consent (its ``covers`` names Part 2 records;
  a general authorization for the release of medical information is not one) -- except patient
  access (2.23), a bona fide medical emergency, to medical personnel (2.51(a)(1)), research
  (2.52), audit and evaluation / oversight with the auditor's written agreement (2.53),
  cause-of-death reporting (2.15(b)(1)), qualified service organizations (2.12(c)(4)) and the
  Secretary's access.  2.12(c)(6) lifts Part 2 for the *report* of suspected child abuse or neglect
  made under State law, not for the program's original records: a release of the records to child
  protective services still needs consent or a court order.
* 2.31(a)(4)(i), 2.33(a)(2): the single consent for all future uses and disclosures for treatment,
  payment and health care operations (``part2_tpo_consent: true`` on a valid consent covering
  ``part2_records``) lets the program use and disclose the records for TPO as HIPAA permits, to
  recipients described generally, until revoked in writing; 2.33(b)(1): a covered entity or
  business associate that receives records for TPO may further disclose them as HIPAA permits,
  except for uses and disclosures in civil, criminal, administrative and legislative proceedings
  against the patient.
* 2.32(a)-(b): each disclosure made with the patient's written consent carries one of the two
  notices of 2.32(a) (the short one is quoted in the decision's reasons) and a copy of the consent
  or a clear explanation of its scope (2.32(b)); the engine attaches the notice to every released
  Part 2 record and says when 2.32 itself requires it.
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
    "coroner_me": "42 CFR 2.15(b)(1)",
}
TPO = frozenset({"treatment", "payment", "operations", "training", "legal_defense_vs_individual"})
#: 2.51(a): medical emergencies -- disclosure "to medical personnel"
MEDICAL_PERSONNEL = frozenset({"external_clinician", "external_clinician_group"})

#: 2.32(a)(2), Statement 2 as amended in 2024 ("use or disclosure"; before 2024 the statement read
#: "prohibits unauthorized disclosure of these records"): the short notice accompanying each
#: disclosure made with consent.
REDISCLOSURE_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
NOTICE_CITATION = "42 CFR 2.32(a)"
#: the fact recording the 2.53 auditor's written agreement to comply with its limits on use and
#: redisclosure
AUDIT_AGREEMENT = "part2_audit_agreement"

#: 164.508(a)(2)(i) exception relied on -> the 2.31(b)(1)(i) paragraph that excepts SUD counseling notes
_SUD_NOTES_EXCEPTIONS_I = (
    ("164.508(a)(2)(i)(A)", "42 CFR 2.31(b)(1)(i)(A)"),
    ("164.508(a)(2)(i)(B)", "42 CFR 2.31(b)(1)(i)(B)"),
    ("164.508(a)(2)(i)(C)", "42 CFR 2.31(b)(1)(i)(C)"),
)
_SUD_NOTES_II = "42 CFR 2.31(b)(1)(ii)"
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


def _order_section(case: Case) -> str:
    """Subpart E: 2.65 for an order to investigate or prosecute (law enforcement), 2.64 otherwise."""
    return "42 CFR 2.65" if case.purpose == "law_enforcement" else "42 CFR 2.64"


def _cites(ruling: Ruling, *paragraphs: str) -> bool:
    """Does the ruling rest on one of these 45 CFR paragraphs (or a sub-paragraph of one)?"""
    return any(c.startswith(f"45 CFR {p}") for c in ruling.citations for p in paragraphs)


def _audit_agreement(case: Case, ruling: Ruling, *cites: str) -> Ruling | None:
    """2.53(a)-(b): patient identifying information goes to an auditor or evaluator -- here an
    oversight agency -- only if it agrees in writing to comply with 2.53's limits on use and
    redisclosure.  None when the agreement is on file; else a hold (not on file) or a denial
    (stated absent)."""
    agreed = case.fact(AUDIT_AGREEMENT)
    if agreed is True:
        return None
    why = ("the oversight agency's written agreement to comply with 42 CFR 2.53's limits on use and "
           "redisclosure")
    if agreed is False:
        return deny("42 CFR 2.53 (no written agreement to the limits on use and redisclosure)",
                    f"Part 2 record: the case states there is no {why}; without it 2.53 does not permit "
                    "the disclosure.", citations=tuple(ruling.citations) + cites)
    return Ruling(HOLD, "42 CFR 2.53 (the auditor's written agreement is not on file)",
                  (f"Part 2 record: held until {why} is on file ({AUDIT_AGREEMENT} is unknown).",
                   f"HIPAA alone would give {ruling.decision} under {ruling.rule}."),
                  extra_citations=tuple(ruling.citations) + cites)


def _sud_notes_basis(case: Case, ruling: Ruling) -> tuple[tuple[str, ...], str, Ruling | None]:
    """2.31(b)(1): the Part 2 paragraphs that let SUD counseling notes go without a consent naming
    them, for a ruling HIPAA permits under a 164.508(a)(2) exception.  Returns (citations, reason,
    None) when one applies, ((), "", a denial or hold) when the HIPAA exception has no Part 2
    counterpart, and ((), "", None) when no 164.508(a)(2) exception was relied on."""
    cited = ruling.citations
    first = tuple(part2 for hipaa, part2 in _SUD_NOTES_EXCEPTIONS_I if f"45 CFR {hipaa}" in cited)
    if first:
        return first, "", None
    if "45 CFR 164.508(a)(2)(ii)" not in cited:
        return (), "", None
    unverified = ("42 CFR 2.31(b)(1)(ii)'s own list could not be checked against the official text; the "
                  "engine accepts it only where Part 2 permits the disclosure of any record without "
                  "consent")
    if _cites(ruling, "164.502(a)(2)(ii)"):
        return (_SUD_NOTES_II,), f"Part 2: the Secretary's access ({unverified}).", None
    if _order(case) and _cites(ruling, "164.512(e)(1)(i)", "164.512(f)(1)(ii)(A)"):
        return (("42 CFR 2.61(a)", "42 CFR 2.63(a)", _order_section(case)),
                "Part 2: an authorizing court order under subpart E permits a use or disclosure Part 2 "
                "would otherwise prohibit (42 CFR 2.61(a)). SUD counseling notes are the patient's "
                "confidential communications; a court "
                "order reaches them only on a finding under 42 CFR 2.63(a) (an existing threat to life or "
                "of serious bodily injury, an extremely serious crime, or a proceeding in which the "
                "patient offers testimony about their content). Confirm the order rests on one.", None)
    if _cites(ruling, "164.512(d)"):
        held = _audit_agreement(case, ruling, _SUD_NOTES_II, "42 CFR 2.53")
        if held is not None:
            return (), "", held
        return (_SUD_NOTES_II, "42 CFR 2.53"), "Part 2: oversight (audit) of the notes' originator.", None
    if _cites(ruling, "164.512(g)(1)"):
        return ((_SUD_NOTES_II, "42 CFR 2.15(b)(1)"),
                "Part 2: only information relating to the patient's cause of death (42 CFR 2.15(b)(1)).", None)
    if _cites(ruling, "164.512(j)(1)(i)"):
        what = ("the serious-threat disclosure (164.512(j)(1)(i)): Part 2 has no such permission without "
                "consent; a court order under 42 CFR 2.63(a)(1) is the route")
    else:
        what = ("a disclosure a law requires (164.512(a)): Part 2 has no required-by-law permission; "
                "consent or a court order under subpart E is needed")
    return (), "", deny(f"{_SUD_NOTES_II} (SUD counseling notes: no Part 2 counterpart of this 164.508(a)(2)(ii) "
                        "exception)",
                        f"HIPAA alone would permit this under {ruling.rule}, but for SUD counseling notes "
                        f"{what}. {unverified}.",
                        citations=tuple(ruling.citations) + ("42 CFR 2.31(b)(1)",))


def _with_notice(ruling: Ruling, consent: str | None, case: Case, *extra: str) -> Ruling:
    """2.32: the notice (and, for a disclosure made with consent, the copy of the consent or an
    explanation of its scope) goes with the records."""
    why = ("required by 42 CFR 2.32(a) for a disclosure made with consent" if consent
           else "attached to every released Part 2 record; 42 CFR 2.32(a) itself requires it for "
                "disclosures made with consent")
    reasons = [f"Part 2 record: attach the notice prohibiting redisclosure ({why}): "
               f"\"{REDISCLOSURE_NOTICE}\""]
    if consent:
        reasons.append("Part 2: send a copy of the patient's consent or a clear explanation of its "
                       "scope with the records (42 CFR 2.32(b)).")
    if consent == "tpo":
        reasons.append("Disclosed under the patient's single consent for all future treatment, payment "
                       "and health care operations (42 CFR 2.33(a)(2)); a covered entity or business "
                       "associate recipient may further disclose as HIPAA permits, except for uses and "
                       "disclosures in civil, criminal, administrative or legislative proceedings against "
                       "the patient (42 CFR 2.33(b)(1)).")
    cites = tuple(c for c in (NOTICE_CITATION, *extra) if c)
    if consent == "tpo":
        cites += ("42 CFR 2.33(a)(2)", "42 CFR 2.33(b)(1)")
    return ruling.but(extra_citations=ruling.extra_citations + cites).with_reason(*reasons)


def _subpoena(case: Case, ruling: Ruling) -> Ruling:
    """2.61(b)(1): a subpoena alone does not permit a disclosure; subpart E's order is needed."""
    sections = "2.64; 2.65" if case.purpose == "law_enforcement" else "2.64"
    return deny(f"42 CFR 2.61(b)(1); {sections} (a subpoena does not permit disclosure of Part 2 records "
                "without an authorizing court order under subpart E)",
                "Part 2 record: respond to the subpoena without disclosing (2.61(b)(1)); an authorizing "
                f"court order under {_order_section(case)[len('42 CFR '):]} with its findings is needed.",
                citations=tuple(ruling.citations))


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
        # whether it is a judge's order (which a subpart E order is) is being verified: stays held
        return ruling.but(extra_citations=ruling.extra_citations + (_order_section(case),))
    if lp_type and not _order(case) and not consent:
        if ruling.permits or ruling.decision == HOLD:
            return _subpoena(case, ruling)
        return ruling.but(extra_citations=ruling.extra_citations + ("42 CFR 2.61",))
    if not ruling.permits:
        if _sud_notes(case):
            return ruling.but(extra_citations=ruling.extra_citations + ("42 CFR 2.31(b)(1)",)).with_reason(
                f"Part 2: {no_consent}." if no_consent else "")
        return ruling
    if _sud_notes(case):
        # 2.31(b)(1): a consent naming the notes, or one of its exceptions; nothing else.
        sud_cites, sud_reason, refused = _sud_notes_basis(case, ruling)
        if refused is not None:
            return refused
        if not case.is_disclosure:
            return ruling.but(extra_citations=ruling.extra_citations + sud_cites).with_reason(
                sud_reason, "Part 2: communication within the program (42 CFR 2.12(c)(3)).")
        if consent or sud_cites or ruling.basis in (BASIS_INDIVIDUAL, BASIS_HHS):
            notes_cites = sud_cites or (("42 CFR 2.31(b)(1)",) if consent else ())
            return _with_notice(ruling, consent, case, *notes_cites).with_reason(sud_reason)
        return deny("42 CFR 2.31(b)(1) (SUD counseling notes need a consent that names them)",
                    f"HIPAA alone would permit this under {ruling.rule}, but {no_consent}.",
                    citations=tuple(ruling.citations))
    if not case.is_disclosure:
        return ruling.with_reason("Part 2: communication within the program (42 CFR 2.12(c)(3)).")
    cite = _WITHOUT_CONSENT.get(case.purpose)
    extra: tuple[str, ...] = ()
    reasons: list[str] = []
    basis_ok = ruling.basis in (BASIS_INDIVIDUAL, BASIS_HHS) or bool(consent)
    if not basis_ok and _order(case):
        basis_ok, extra = True, (_order_section(case),)
        reasons.append(f"Part 2: the judge's order must be an authorizing order under "
                       f"{_order_section(case)} with its findings"
                       + (" (2.66 if the investigation is of the program)" if case.purpose == "law_enforcement"
                          else "") + "; the engine cannot see them.")
    if not basis_ok and case.fact("emergency") is True and case.purpose == "treatment" \
            and case.role in MEDICAL_PERSONNEL:
        basis_ok, extra = True, ("42 CFR 2.51(a)(1)",)
        reasons.append("Part 2: a bona fide medical emergency in which the patient's prior written consent "
                       "cannot be obtained (42 CFR 2.51(a)(1)); immediately afterwards document the "
                       "disclosure in the patient's records -- recipient and affiliation, who disclosed, "
                       "date and time, nature of the emergency (42 CFR 2.51(c)).")
    if not basis_ok and case.role == "business_associate" and case.req_flag("baa_in_place") is True:
        basis_ok, extra = True, ("42 CFR 2.12(c)(4)",)
        reasons.append("Part 2: a qualified service organization (42 CFR 2.11, 2.12(c)(4)); the business "
                       "associate agreement must also meet the qualified service organization agreement "
                       "terms.")
    if not basis_ok and cite:
        if case.purpose == "health_oversight":
            held = _audit_agreement(case, ruling, cite)
            if held is not None:
                return held
        basis_ok, extra = True, (cite,)
        if case.purpose == "coroner_me":
            reasons.append("Part 2: only information relating to the patient's cause of death, under a law "
                           "requiring vital statistics or permitting inquiry into the cause of death "
                           "(42 CFR 2.15(b)(1)).")
    if basis_ok:
        return _with_notice(ruling, consent, case, *extra).with_reason(*reasons)
    if case.role == "child_protective_services":
        return deny("42 CFR 2.12(c)(6) (only the report of suspected child abuse or neglect is outside Part 2, "
                    "not the program's records)",
                    f"HIPAA alone would permit this under {ruling.rule}, but Part 2 lifts its restrictions "
                    "only for the report of suspected child abuse or neglect made under State law; the "
                    "original records stay protected, including for proceedings arising out of the report: "
                    f"the patient's written consent or a court order under subpart E is needed ({no_consent}).",
                    citations=tuple(ruling.citations) + ("42 CFR 2.13(a)",))
    return deny("42 CFR 2.13(a); 2.31; 2.33 (Part 2 records need the patient's written consent)",
                f"HIPAA alone would permit this under {ruling.rule}, but Part 2 allows no "
                f"{case.purpose} disclosure without written consent ({no_consent}).",
                citations=tuple(ruling.citations))

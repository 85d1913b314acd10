"""California: the Confidentiality of Medical Information Act (Civil Code 56 et seq., "CMIA") and
the Lanterman-Petris-Short Act's confidentiality section (Welfare and Institutions Code 5328),
each applied only where it is stricter than HIPAA (45 CFR 160.203(b)).  What each proposition was
checked against, and what could not be checked, is in ``docs/law-sources.md``.

* Civ. Code 56.104(a)-(b) (``practice_setting: outpatient_practice``): information that
  specifically relates to the patient's participation in outpatient treatment with a
  psychotherapist is not released to a person or entity that Civ. Code 56.10(c) would let receive
  it (payers for payment, health care operations, research: here HIPAA's payment and operations
  permissions and 164.512(i)) unless that requester submits a written request, signed, stating
  (1) the specific information wanted and its intended use(s), (2) how long it will be kept before
  it is destroyed or disposed of, (3) that it will not be used for any other purpose, and (4) that
  it will be destroyed or returned when that time is up; and (b) the requester sends the patient a
  copy within 30 days of receiving the information, unless the patient waived that in writing.
  The section excepts disclosures for the diagnosis or treatment of the patient and, since AB 681
  (Stats. 2009, ch. 464), disclosures to prevent or lessen a serious and imminent threat to a
  reasonably foreseeable victim (both per the Legislative Counsel's Digest of the chaptered bill);
  those are not held here.  Disclosures the CMIA *compels* (56.10(b): a court order, a subpoena, a
  search warrant, the patient's own access) and disclosures on the patient's authorization
  (56.11) are not 56.10(c) disclosures and are left to HIPAA here.  The request is the case's
  ``psychotherapy_information_request`` fact; without a complete one the release is held (nothing
  leaves until it arrives).  Civ. Code 56.30(a) takes records of services under the LPS Act out of
  the CMIA: in an ``lps_facility`` 56.104 does not apply; 5328 does.
* Welf. & Inst. Code 5328 (``practice_setting: lps_facility``: information and records obtained in
  providing services under the LPS Act): confidential, and "disclosed only in any of the following
  cases" the section lists.  Of them legal proceedings are reached only through the court --
  5328(f): "to the courts, as necessary to the administration of justice" -- so a release HIPAA
  permits in a judicial or law-enforcement matter on anything but a judge's order (a subpoena with
  satisfactory assurance, an administrative request, an identification request) is denied.  Which
  of 5328's other subdivisions would reach a release HIPAA permits in the public interest
  (164.512: oversight, coroner, serious threat, research, ...) is not modelled here, so such a
  release of LPS records is denied too, saying so; a disclosure a law compels (``mandate.compels``)
  is left to that law.  Treatment, payment and operations releases are left to HIPAA (5328(a):
  communications between qualified professional persons in the provision of services).
"""
from __future__ import annotations

from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import BASIS_PUBLIC_INTEREST, BASIS_TPO, Ruling
from confide.hipaa.rules.states._overlay import noted, setting_applies, stricter

CODE = "CA"
NAME = "California"
SETTINGS = ("outpatient_practice", "lps_facility")

CMIA_56_104 = "Cal. Civ. Code 56.104(a)"
CMIA_56_104_SECTION = "Cal. Civ. Code 56.104"
CMIA_56_104_B = "Cal. Civ. Code 56.104(b)"
WIC_5328 = "Cal. Welf. & Inst. Code 5328(f)"
WIC_5328_LIST = "Cal. Welf. & Inst. Code 5328"

#: purposes whose disclosures 56.104 excepts (diagnosis or treatment of the patient; the serious-threat
#: disclosure, Stats. 2009, ch. 464)
EXCEPTED_PURPOSES = frozenset({"treatment", "serious_threat"})

#: 56.104(a)(1)-(4) and the signature, as the case's ``psychotherapy_information_request`` records them
REQUEST_ELEMENTS = (
    ("signed", "signed by the requester or its authorized agent"),
    ("specific_information_and_intended_use", "the specific information requested and its intended use(s) (56.104(a)(1))"),
    ("retention_period", "how long it will be kept before being destroyed or disposed of (56.104(a)(2))"),
    ("use_limited_to_intended_use", "a statement that it will not be used for any other purpose (56.104(a)(3))"),
    ("destroy_or_return", "a statement that it will be destroyed or returned when that time expires (56.104(a)(4))"),
)


def _psychotherapy_information_request(case: Case, ruling: Ruling) -> Ruling:
    """Civ. Code 56.104(a)-(b): hold a 56.10(c)-type release of outpatient psychotherapy
    information until the requester's complete, signed written request is on file."""
    if not ruling.permits or not case.is_disclosure:
        return ruling
    if case.purpose in EXCEPTED_PURPOSES:
        applies, _ = setting_applies(case, "outpatient_practice", SETTINGS)
        if not applies:
            return ruling
        what = ("for the diagnosis or treatment of the patient" if case.purpose == "treatment"
                else "to prevent or lessen a serious and imminent threat to a reasonably foreseeable victim")
        return noted(ruling, CMIA_56_104_SECTION, f"California: Civil Code 56.104 excepts a disclosure {what}; "
                     "no written request from the recipient is needed.")
    if not (ruling.basis == BASIS_TPO or (ruling.basis == BASIS_PUBLIC_INTEREST and case.purpose == "research")):
        return ruling
    applies, why = setting_applies(case, "outpatient_practice", SETTINGS)
    if not applies:
        return ruling
    request = case.fact("psychotherapy_information_request") or {}
    missing = [what for key, what in REQUEST_ELEMENTS if request.get(key) is not True]
    if missing:
        state = "is not on file" if not request else "lacks " + "; ".join(missing)
        return stricter(ruling, CMIA_56_104, "psychotherapy information needs the requester's signed "
                        "written request", *(w for w in (why,) if w),
                        f"The requester's written request under Civil Code 56.104(a) {state}; nothing "
                        "about the patient's outpatient psychotherapy is released until a signed request "
                        "stating the information and its use, how long it is kept, that it is used for "
                        "nothing else and that it is destroyed or returned is received.", hold=True)
    copy = ("The patient waived the copy in writing." if request.get("patient_waived_copy") is True
            else "The requester must send the patient a copy of its request within 30 days of receiving "
                 "the information (Civil Code 56.104(b)).")
    kept = noted(ruling, CMIA_56_104, "California: the requester's written request under Civil Code "
                 "56.104(a) is on file. " + copy)
    return kept.but(extra_citations=kept.extra_citations + (CMIA_56_104_B,))


def _lps_records(case: Case, ruling: Ruling) -> Ruling:
    """Welf. & Inst. Code 5328: LPS records go to legal proceedings only through the court (5328(f));
    any other release in the public interest needs a 5328 subdivision the engine does not model."""
    if not ruling.permits or ruling.basis != BASIS_PUBLIC_INTEREST:
        return ruling
    if (case.mandate or {}).get("compels") is True:
        return ruling  # a disclosure a law compels is left to that law
    lp = case.legal_process or {}
    if lp.get("type") == "court_order" and lp.get("signed_by_judge") is True:
        return ruling
    applies, why = setting_applies(case, "lps_facility", SETTINGS)
    if not applies:
        return ruling
    if case.purpose in ("judicial", "law_enforcement"):
        return stricter(ruling, WIC_5328, "records of LPS services reach a proceeding only through the court",
                        *(w for w in (why,) if w),
                        "Welfare and Institutions Code 5328 makes these records confidential but for the "
                        "disclosures it lists; a subpoena or request without a judge's order is not one.")
    return stricter(ruling, WIC_5328_LIST, f"no modelled 5328 subdivision permits a {case.purpose} release",
                    *(w for w in (why,) if w),
                    "Welfare and Institutions Code 5328 lets records of LPS services go only in the cases it "
                    f"lists; which of them (if any) reaches this {case.purpose} release is not established "
                    "here, so nothing is released on HIPAA's permission alone. Counsel must name the 5328 "
                    "subdivision (or the practice must configure practice_setting if it is not an LPS "
                    "facility).")


def apply(case: Case, ruling: Ruling) -> Ruling:
    """Apply California's stricter rules to a HIPAA ruling."""
    ruling = _lps_records(case, ruling)
    return _psychotherapy_information_request(case, ruling)

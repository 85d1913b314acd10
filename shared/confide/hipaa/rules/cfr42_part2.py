"""42 CFR Part 2 -- confidentiality of substance use disorder patient records.

When ``record_is_part2`` is true the stricter Part 2 rules are applied on top of HIPAA:

* 42 CFR 2.12(c)(3): communications within the program (uses by the workforce) are unaffected;
* 42 CFR 2.61, 2.64: a subpoena (or other process) alone never permits disclosure; a Part 2
  court order is required (``subpoena_without_part2_order`` and any subpoena or informal request
  are denied unless the patient has consented);
* 42 CFR 2.31, 2.33: other disclosures need the patient's written consent (``patient_consent``
  or a valid authorization on file), except patient access (2.23), medical emergencies (2.51),
  research (2.52), audit and evaluation / oversight (2.53), child-abuse reports (2.12(c)(6)),
  cause-of-death reporting (2.15(b)), qualified service organizations (2.12(c)(4)) and the
  Secretary's enforcement;
* 42 CFR 2.32: every permitted disclosure carries the redisclosure notice.
"""
from __future__ import annotations

from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import BASIS_AUTHORIZATION, BASIS_HHS, BASIS_INDIVIDUAL, HOLD, Ruling, deny

_WITHOUT_CONSENT = {
    "health_oversight": "42 CFR 2.53",
    "research": "42 CFR 2.52",
    "coroner_me": "42 CFR 2.15(b)",
}


def apply(case: Case, ruling: Ruling) -> Ruling:
    """Apply Part 2 to a HIPAA ruling about a Part 2 record."""
    if case.fact("record_is_part2") is not True:
        return ruling
    consent = case.fact("patient_consent") is True or ruling.basis == BASIS_AUTHORIZATION
    lp_type = (case.legal_process or {}).get("type")
    if lp_type and lp_type != "court_order" and not consent:
        if ruling.permits or ruling.decision == HOLD:
            return deny("42 CFR 2.61; 2.64 (a subpoena does not compel disclosure of Part 2 records "
                        "without a Part 2 court order)",
                        "Part 2 record: respond to the subpoena without disclosing (2.61(b)); a court "
                        "order under 2.64 with the required findings is needed.",
                        citations=tuple(ruling.citations))
        return ruling.but(extra_citations=ruling.extra_citations + ("42 CFR 2.61",))
    if not ruling.permits:
        return ruling
    notice = "Part 2 record: attach the 42 CFR 2.32 notice prohibiting redisclosure."
    if not case.is_disclosure:
        return ruling.with_reason("Part 2: communication within the program (42 CFR 2.12(c)(3)).")
    basis_ok = (ruling.basis in (BASIS_INDIVIDUAL, BASIS_HHS) or consent
                or case.role == "child_protective_services"
                or lp_type == "court_order"
                or (case.fact("emergency") is True and case.purpose == "treatment")
                or (case.role == "business_associate" and case.req_flag("baa_in_place") is True))
    cite = _WITHOUT_CONSENT.get(case.purpose)
    if basis_ok or cite:
        extra = (cite,) if cite else ()
        return ruling.but(extra_citations=ruling.extra_citations + extra).with_reason(notice)
    return deny("42 CFR 2.13(a); 2.31; 2.33 (Part 2 records need the patient's written consent)",
                f"HIPAA alone would permit this under {ruling.rule}, but Part 2 allows no "
                f"{case.purpose} disclosure without written consent.",
                citations=tuple(ruling.citations))

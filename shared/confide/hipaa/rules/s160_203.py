"""45 CFR 160.203(b) -- a provision of state law that is contrary to and more stringent than
the Privacy Rule is not preempted.

A ``jurisdiction_overlay`` of the form ``{"<purpose>_requires_patient_consent": true}`` (e.g.
``payment_requires_patient_consent``) makes a permitted TPO disclosure for that purpose wait for
the patient's consent (``patient_consent: true``); HIPAA's own permission (164.506(b): consent is
optional) yields to the stricter state rule.  Uses inside the practice are not disclosures and
are left alone.
"""
from __future__ import annotations

from confide.hipaa.rules._case import Case
from confide.hipaa.rules._ruling import BASIS_TPO, Ruling, deny


def apply(case: Case, ruling: Ruling) -> Ruling:
    """Apply the state overlay to a ruling."""
    overlay = case.jurisdiction_overlay or {}
    if not overlay.get(f"{case.purpose}_requires_patient_consent"):
        return ruling
    if not ruling.permits or not case.is_disclosure or ruling.basis != BASIS_TPO:
        return ruling
    if case.fact("patient_consent") is True:
        return ruling.with_reason(f"State law requires the patient's consent for {case.purpose} "
                                  "disclosures; consent is on file.").but(
            extra_citations=ruling.extra_citations + ("45 CFR 160.203(b)",))
    return deny(f"45 CFR 160.203(b) (more stringent state law: {case.purpose} disclosures require "
                "the patient's consent); 164.506(b)",
                f"State law requires the patient's consent before a {case.purpose} disclosure, and "
                f"none is on file; HIPAA alone would permit it under {ruling.rule}.",
                citations=tuple(ruling.citations))

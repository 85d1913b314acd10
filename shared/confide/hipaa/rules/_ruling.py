"""What a rule returns (:class:`Ruling`) and how citations are written.

Citation style follows ``shared/cases/examples.json``: the controlling rule string starts with the
title ("45 CFR 164.506(c)(3); 164.502(b); ..."), later sections in the same title are bare, and a
parenthesised note may follow a citation ("164.508(a)(2) (payment is not an exception)").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

PERMIT = "permit"
PERMIT_MN = "permit_minimum_necessary"
PERMIT_REDACTED = "permit_redacted"
DENY = "deny"
DISCRETIONARY = "discretionary"
HOLD = "hold"
DECISIONS = (PERMIT, PERMIT_MN, PERMIT_REDACTED, DENY, DISCRETIONARY, HOLD)
PERMITTING = frozenset({PERMIT, PERMIT_MN, PERMIT_REDACTED})

# Accounting bases (164.528(a)(1)): why a permitted disclosure is or is not accountable.
BASIS_TPO = "tpo"                      # (a)(1)(i) excluded
BASIS_INDIVIDUAL = "individual"        # (a)(1)(ii) excluded
BASIS_AUTHORIZATION = "authorization"  # (a)(1)(iv) excluded
BASIS_INVOLVEMENT = "involvement"      # (a)(1)(v) excluded (164.510)
BASIS_HHS = "hhs"                      # not excluded
BASIS_PUBLIC_INTEREST = "164.512"      # not excluded
BASIS_NONE = "none"                    # nothing released / not a disclosure

_CITE = re.compile(r"(?:(\d+)\s*CFR\s*)?\b(\d{1,3}\.\d{1,3}(?:\([A-Za-z0-9]{1,4}\))*)")


def citations_in(text: str) -> list[str]:
    """Every CFR citation in ``text``, normalised to ``"45 CFR 164.508(a)(2)"`` form, in order."""
    out: list[str] = []
    title = "45"
    for m in _CITE.finditer(text):
        if m.group(1):
            title = m.group(1)
        section = m.group(2)
        if section.startswith(("160.", "164.")):
            title = "45"
        elif title == "45" and not m.group(1):
            continue  # a bare number that is not a HIPAA section (e.g. a version)
        cite = f"{title} CFR {section}"
        if cite not in out:
            out.append(cite)
    return out


def rule_string(*parts: str) -> str:
    """Join rule parts with "; ", the first carrying the "45 CFR" title unless it names one."""
    parts = tuple(p for p in parts if p)
    if not parts:
        return ""
    first = parts[0]
    if not re.match(r"\d+\s*CFR", first):
        first = "45 CFR " + first
    rest = [re.sub(r"^45 CFR\s+", "", p) for p in parts[1:]]
    return "; ".join([first, *rest])


@dataclass(frozen=True)
class Ruling:
    """The answer of one rule: a decision and everything needed to explain it.

    ``basis`` feeds the accounting rule (164.528); ``verification_exempt`` marks disclosures whose
    identity/authority verification is met by professional judgment or good-faith belief
    (164.514(h)(2)(iv)); ``redact_others`` says whether other identified people's information must
    come out before release.
    """

    decision: str
    rule: str
    reasons: tuple[str, ...] = ()
    fields: tuple[str, ...] | None = None
    minimum_necessary: bool | None = None
    basis: str = BASIS_NONE
    extra_citations: tuple[str, ...] = ()
    verification_exempt: bool = False
    redact_others: bool = True

    @property
    def permits(self) -> bool:
        return self.decision in PERMITTING

    @property
    def citations(self) -> list[str]:
        out = citations_in(self.rule)
        for c in self.extra_citations:
            for n in citations_in(c) or [c]:
                if n not in out:
                    out.append(n)
        return out

    def with_reason(self, *reasons: str) -> "Ruling":
        """A copy with ``reasons`` appended."""
        return replace(self, reasons=self.reasons + tuple(r for r in reasons if r))

    def but(self, **changes) -> "Ruling":
        """A copy with ``changes`` (dataclasses.replace)."""
        return replace(self, **changes)


def deny(rule: str, *reasons: str, citations: tuple[str, ...] = ()) -> Ruling:
    """A denial under ``rule``: nothing released, minimum necessary not reached (None)."""
    return Ruling(DENY, rule, tuple(reasons), None, None, BASIS_NONE, citations)




"""The HIPAA disclosure decision engine: ``decide(case) -> Outcome``.

``case`` is a case file ``{"request": {...}, ...}`` or the bare request object, in the format of
``shared/cases/README.md``.  The engine is a pure function: the decision instant is the request's
``decision_time`` (no clock), nothing is read or written (the minimum-necessary policy is an
argument, by default :func:`confide.hipaa.minimum_necessary.active_policy`), and the same case
always gives the same outcome.

Errors: :class:`CaseFileError` (a ``ValueError``) naming the field when the input is malformed --
``request`` missing, a required field missing, a field of the wrong type, anything that does not
conform to the published JSON Schema (``case_file.schema.json``).  Unknown roles, purposes, note
kinds, actions or jurisdictions are *not* errors: they are denied with a reason.

Fail closed: a fact a permit depends on that is absent or null is unknown, not false -- the
engine denies, or holds where a verification would settle it, and names the missing fact
(``docs/fail-closed-defaults.md``).

The rules are evaluated in the order documented in :mod:`confide.hipaa.rules`; every rule lives in
one module named after its CFR section.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from confide.hipaa.minimum_necessary import ENV_VAR, MinimumNecessaryPolicy, active_policy
from confide.hipaa.rules import (
    cfr42_part2,
    s160_203,
    s164_501,
    s164_502,
    s164_506,
    s164_508,
    s164_510,
    s164_512,
    s164_514,
    s164_524,
    s164_526,
    s164_528,
    states,
)
from confide.hipaa.rules._case import ACTIONS, KNOWN_PURPOSES, KNOWN_ROLES, NOTE_KINDS, Case, CaseFileError, parse_case
from confide.hipaa.rules._ruling import (
    DECISIONS,
    HOLD,
    PERMIT,
    PERMIT_MN,
    PERMIT_REDACTED,
    Ruling,
    citations_in,
    deny,
    rule_string,
)

__all__ = ["CaseFileError", "Outcome", "decide", "DECISIONS", "OUTCOME_KEYS"]

OUTCOME_KEYS = ("decision", "rule", "citations", "reasons", "fields_released",
                "minimum_necessary_applies", "accounting_required")


@dataclass(frozen=True)
class Outcome:
    """The decision on one request.

    ``decision``: one of ``permit``, ``permit_minimum_necessary``, ``permit_redacted``, ``deny``,
    ``discretionary``, ``hold``; ``rule``: the controlling citation(s) as one string
    ("45 CFR 164.506(c)(3); 164.502(b)"); ``citations``: every citation relied on, normalised
    ("45 CFR 164.506(c)(3)"), the controlling first; ``reasons``: sentences for people;
    ``fields_released``: what may leave, or None; ``minimum_necessary_applies``: True/False/None;
    ``accounting_required``: whether the disclosure goes into the accounting (164.528)."""

    decision: str
    rule: str
    citations: list[str]
    reasons: list[str]
    fields_released: list[str] | None
    minimum_necessary_applies: bool | None
    accounting_required: bool

    def to_dict(self) -> dict[str, Any]:
        """The seven outcome keys, JSON-serialisable."""
        return {
            "decision": self.decision,
            "rule": self.rule,
            "citations": list(self.citations),
            "reasons": list(self.reasons),
            "fields_released": None if self.fields_released is None else list(self.fields_released),
            "minimum_necessary_applies": self.minimum_necessary_applies,
            "accounting_required": self.accounting_required,
        }


# exception_claimed -> purpose, used only when the purpose is "other" or unknown
_CLAIMS = (
    (("512(j)", "threat"), "serious_threat"),
    (("512(g)", "coroner", "medical examiner"), "coroner_me"),
    (("512(d)", "oversight"), "health_oversight"),
    (("502(a)(2)(ii)", "hhs", "secretary"), "hhs_compliance"),
    (("512(a)", "required by law", "required_by_law"), "required_by_law"),
    (("(a)(2)(i)(c)", "defend", "defense"), "legal_defense_vs_individual"),
    (("(a)(2)(i)(b)", "training"), "training"),
    (("(a)(2)(i)(a)", "originator", "treatment"), "treatment"),
    (("512(e)", "subpoena", "judicial", "court"), "judicial"),
    (("512(f)", "law enforcement", "law_enforcement"), "law_enforcement"),
    (("512(i)", "research"), "research"),
    (("512(l)", "workers"), "workers_comp"),
    (("524", "access"), "individual_access"),
)


def _claimed_purpose(case: Case) -> str | None:
    claim = (case.exception_claimed or "").lower()
    if not claim:
        return None
    for needles, purpose in _CLAIMS:
        if any(n in claim for n in needles):
            return purpose
    return None


def _unknown(case: Case) -> Ruling | None:
    if case.role not in KNOWN_ROLES:
        return deny("45 CFR 164.502(a) (no permission for an unknown requester role)",
                    f"Unknown requester role {case.role!r}: no rule of the Privacy Rule permits "
                    "the disclosure; record the role and decide again.")
    if case.purpose not in KNOWN_PURPOSES:
        return deny("45 CFR 164.502(a); 164.508(a)(1) (unknown purpose: an authorization is required)",
                    f"Unknown purpose {case.purpose!r}.")
    if case.note_kind not in NOTE_KINDS:
        return deny("45 CFR 164.502(a) (unknown kind of record)",
                    f"Unknown note kind {case.note_kind!r}: expected psychotherapy, progress or "
                    "sud_counseling.")
    if case.action not in ACTIONS:
        return deny("45 CFR 164.502(a) (unknown action)",
                    f"Unknown action {case.action!r}: expected use or disclose.")
    return None


def _general(case: Case, policy: MinimumNecessaryPolicy) -> Ruling:
    """Progress-note content (and content 164.501 excludes from psychotherapy notes)."""
    for rule in (s164_524.access, s164_502.hhs, s164_512.required_by_law):
        ruling = rule(case, policy)
        if ruling is not None:
            return ruling
    auth_ruling, _ = s164_508.authorization_ruling(case)
    if auth_ruling is not None and auth_ruling.permits:
        return auth_ruling
    for rule in (s164_512.public_interest, s164_510.involvement, s164_506.tpo):
        ruling = rule(case, policy)
        if ruling is not None:
            if not ruling.permits and auth_ruling is not None:
                return ruling.with_reason(*auth_ruling.reasons).but(
                    extra_citations=ruling.extra_citations + tuple(auth_ruling.citations))
            return ruling
    if auth_ruling is not None:
        return auth_ruling
    return deny(rule_string("164.508(a)(1) (an authorization is required)", "164.502(a)"),
                f"No permission covers {case.role} for {case.purpose}, and no authorization is on file.")


def _evaluate(case: Case, policy: MinimumNecessaryPolicy) -> Ruling:
    unknown = _unknown(case)
    if unknown is not None:
        return unknown
    claimed = _claimed_purpose(case) if case.purpose == "other" else None
    if claimed:
        case = replace(case, purpose=claimed)
    amend = s164_526.amendment(case, policy)
    if amend is not None:
        return amend
    if s164_501.is_psychotherapy_note(case):
        ruling = s164_508.psychotherapy_notes(case, policy)
        if not ruling.permits and ruling.decision != HOLD:
            fields = s164_501.excluded_content_fields(case)
            if fields:
                general = _general(case, policy)
                if general.permits or general.decision == HOLD:
                    return s164_501.as_excluded_content(general, fields, ruling)
        return ruling
    ruling = _general(case, policy)
    if s164_501.not_separated(case):
        ruling = s164_501.as_not_separated(ruling, case.note_kind)
    return ruling


def _no_field_set(case: Case, ruling: Ruling) -> Ruling:
    """164.514(d)(3): a disclosure limited to the minimum necessary releases the field set the
    practice's policy gives its purpose. A permit whose policy has no set for the purpose
    (``fields`` None) would release an unknown amount: denied, naming the missing configuration."""
    if not ruling.permits or ruling.minimum_necessary is not True or ruling.fields is not None:
        return ruling
    return deny("45 CFR 164.514(d)(3) (no minimum-necessary field set is configured for this purpose)",
                f"The minimum-necessary policy has no field set for {case.purpose} requested by "
                f"{case.role} (configure it in {ENV_VAR}); nothing is released without one. Otherwise "
                f"the decision would be {ruling.decision} under {ruling.rule}.",
                citations=tuple(ruling.citations))


def decide(case: Mapping[str, Any], *, policy: MinimumNecessaryPolicy | None = None) -> Outcome:
    """Decide one case file (or bare request). Raises :class:`CaseFileError` for malformed input.

    ``policy`` is the minimum-necessary configuration; by default the active one
    (``CONFIDE_MINIMUM_NECESSARY`` or the documented defaults)."""
    facts = parse_case(case)
    policy = policy or active_policy()
    ruling = _no_field_set(facts, _evaluate(facts, policy))
    ruling = cfr42_part2.apply(facts, ruling)
    ruling = states.apply(facts, ruling)
    ruling = s160_203.apply(facts, ruling)
    ruling = s164_514.verification(facts, ruling)
    ruling = s164_502.redact_other_individuals(facts, ruling)
    accountable, accounting_cite = s164_528.for_case(facts, ruling)

    decision = ruling.decision
    if decision == PERMIT and ruling.minimum_necessary is True:
        decision = PERMIT_MN
    released = decision in (PERMIT, PERMIT_MN, PERMIT_REDACTED)
    citations = ruling.citations
    for cite in citations_in(accounting_cite):
        if cite not in citations:
            citations.append(cite)
    reasons = list(ruling.reasons)
    channel = facts.fact("channel")
    if channel and released:
        reasons.append(f"Channel {channel.get('standard') or 'unspecified'}: answer the task "
                       f"({channel.get('pou') or 'request'}"
                       + (f", claim {channel['claim']}" if channel.get("claim") else "")
                       + ") with the released fields only and mark it completed.")
    others = [p for p in facts.fact("patients", []) if p != facts.patient]
    if others:
        reasons.append(f"Decided for {facts.patient}; the other patients listed "
                       f"({', '.join(map(str, others))}) each need their own decision.")
    if facts.fact("replay"):
        reasons.append(f"Replay: decided with the facts known at {facts.at.isoformat()}.")
    if released:
        reasons.append("Accounting of disclosures: " + ("required" if accountable else "not required")
                       + (f" ({accounting_cite})" if accounting_cite else "") + ".")
    return Outcome(
        decision=decision,
        rule=ruling.rule,
        citations=citations,
        reasons=reasons,
        fields_released=list(ruling.fields) if released and ruling.fields is not None else None,
        minimum_necessary_applies=ruling.minimum_necessary if released else None,
        accounting_required=accountable,
    )

"""45 CFR 164.512 -- uses and disclosures for which neither authorization nor an opportunity to
agree is required.

(a) required by law; (b)(1)(ii) child abuse or neglect reports; (d) health oversight;
(e) judicial and administrative proceedings -- court order (e)(1)(i) vs subpoena with satisfactory
assurance (e)(1)(ii)-(v); (f) law enforcement; (g)(1) coroners and medical examiners; (i) research
with an IRB/privacy-board waiver; (j) serious and imminent threat; (l) workers' compensation.

Every function takes a :class:`~confide.hipaa.rules._case.Case` and the minimum-necessary policy
and returns a :class:`~confide.hipaa.rules._ruling.Ruling` or None when it does not apply.  These
disclosures are accountable (164.528) -- basis ``164.512``.
"""
from __future__ import annotations

from confide.hipaa.authorization import describes
from confide.hipaa.minimum_necessary import MinimumNecessaryPolicy
from confide.hipaa.rules import s164_502
from confide.hipaa.rules._case import Case, parse_date
from confide.hipaa.rules._ruling import BASIS_PUBLIC_INTEREST, HOLD, PERMIT, PERMIT_MN, Ruling, deny, rule_string

THREAT_RECIPIENTS = frozenset({
    "person_able_to_prevent_threat", "law_enforcement", "external_clinician",
    "external_clinician_group", "parent", "child_protective_services", "prosecutor",
})
SUBPOENAS = frozenset({"subpoena_without_court_order", "subpoena_without_part2_order"})


def _permit(rule: str, fields, *, mn: bool, reasons=(), **kw) -> Ruling:
    decision = PERMIT_MN if mn else PERMIT
    return Ruling(decision, rule, tuple(reasons), None if fields is None else tuple(fields), mn,
                  BASIS_PUBLIC_INTEREST, **kw)


def _lp(case: Case) -> dict:
    return dict(case.legal_process or {})


def required_by_law(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.512(a)(1): a use or disclosure required by law, limited to the relevant requirements
    of that law; minimum necessary N/A (164.502(b)(2)(v))."""
    if case.purpose != "required_by_law":
        return None
    mandate = case.mandate or {}
    if mandate.get("compels") is True:
        statute = mandate.get("statute") or "the statute"
        extra = ("164.512(b)(1)(ii)",) if case.role == "child_protective_services" else ()
        return _permit(rule_string("164.512(a)(1)", s164_502.MN_NA_REQUIRED_BY_LAW),
                       [f"information the law requires ({statute})"], mn=False,
                       reasons=[f"{statute} compels the disclosure; release only what it requires "
                                "(164.512(a)(1))."], extra_citations=extra)
    if case.role == "child_protective_services":
        return public_health(case, policy)
    return deny("45 CFR 164.512(a)(1) (no law compels this disclosure)",
                "No statute, regulation or court order is shown to compel the disclosure.")


def public_health(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.512(b)(1)(ii): report of child abuse or neglect to a government authority authorized
    by law to receive such reports (child protective services)."""
    if case.role != "child_protective_services":
        return None
    return _permit(rule_string("164.512(b)(1)(ii)", s164_502.MN_APPLIES),
                   policy.fields_for("public_health", case.role), mn=True,
                   reasons=["Child abuse or neglect report to the authority authorized to receive it."])


def oversight(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.512(d)(1): disclosure to a health oversight agency for oversight activities authorized
    by law; the agency's representation may be relied on as minimum necessary
    (164.514(d)(3)(iii)(A))."""
    if case.purpose != "health_oversight":
        return None
    if case.role in ("health_oversight_agency", "hhs_ocr") or (case.role == "auditor" and not case.is_workforce):
        return _permit(rule_string("164.512(d)(1)", s164_502.MN_APPLIES, "164.514(d)(3)(iii)(A)"),
                       policy.fields_for("health_oversight", case.role), mn=True)
    return deny("45 CFR 164.512(d)(1) (the recipient is not a health oversight agency)")


#: how each note kind is named in ``legal_process.covers``
_KIND_LABEL = {"psychotherapy": "psychotherapy notes", "progress": "progress notes",
               "sud_counseling": "SUD counseling notes"}


def order_coverage(case: Case) -> tuple[bool | None, str]:
    """Does the order (or subpoena) expressly name the kind of note asked for (164.512(e)(1)(i):
    "only the protected health information expressly authorized by such order")?

    Returns ``(True, why)``, ``(False, why)`` -- it names other kinds only, or names this kind only
    to exclude it -- or ``(None, why)``: unknown. ``legal_process.covers`` (the kinds the order
    names, as recorded by release-of-information staff) decides when given; otherwise the order's
    own words (``scope``) are read. A scope that names no kind of note reaches progress notes (the
    medical record) but not notes kept apart from it (psychotherapy notes 164.501, SUD counseling
    notes 42 CFR 2.11), which an order reaches only by naming them; with neither ``covers`` nor
    ``scope`` on file what the order reaches is unknown."""
    lp = _lp(case)
    kind, label = case.note_kind, _KIND_LABEL.get(case.note_kind, case.note_kind)
    covers = lp.get("covers")
    if covers is not None:
        if kind in covers:
            return True, f"the order names {label} (legal_process.covers)"
        named = ", ".join(map(str, covers)) or "nothing"
        return False, f"the order names {named}, not {label} (legal_process.covers)"
    scope = lp.get("scope")
    if not scope or not str(scope).strip():
        return None, ("what the order covers is not on file (legal_process.covers and "
                      "legal_process.scope are unknown)")
    this = describes(scope, kind) if kind in _KIND_LABEL else None
    if this is True:
        return True, f"the order's scope names {label} ({scope!r})"
    if this is False:
        return False, f"the order's scope excludes {label} ({scope!r})"
    others = [k for k in _KIND_LABEL if k != kind and describes(scope, k) is True]
    if others:
        return False, (f"the order's scope names {', '.join(_KIND_LABEL[k] for k in others)}, "
                       f"not {label} ({scope!r})")
    if kind == "progress":
        return True, f"the order's scope ({scope!r}) reaches the medical record"
    return None, (f"the order's scope ({scope!r}) does not name {label}, which are kept apart from "
                  "the medical record and reached only by an order naming them")


def court_order_ruling(case: Case, paragraph: str) -> Ruling:
    """164.512(e)(1)(i) / (f)(1)(ii)(A): disclosure under a judge's order, limited to the PHI it
    expressly authorizes; being compelled, it is required by law (164.512(a)(1)) and minimum
    necessary does not apply (164.502(b)(2)(v)).

    An order that does not name the kind of note asked for (:func:`order_coverage`) cannot be
    relied on for it: denied; one whose coverage is not on file is held until release-of-
    information staff record what it names (``legal_process.covers``)."""
    lp = _lp(case)
    reaches, why = order_coverage(case)
    if reaches is False:
        return deny(f"45 CFR {paragraph} (an order permits only what it expressly authorizes)",
                    f"The order cannot be relied on for these notes: {why}.")
    if reaches is None:
        return Ruling(HOLD, rule_string(f"{paragraph} (an order permits only what it expressly "
                                        "authorizes)"),
                      (f"Hold: {why}. Read the order and record the kinds of note it names "
                       "(legal_process.covers) before anything is released.",))
    scope = lp.get("scope")
    fields = ["only the PHI expressly authorized by the order" + (f" ({scope})" if scope else "")]
    return _permit(rule_string(paragraph, "164.512(a)(1)", s164_502.MN_NA_REQUIRED_BY_LAW),
                   fields, mn=False,
                   reasons=["An order of a court signed by a judge: disclose only what it expressly "
                            f"authorizes; {why}."])


def iscourt_order_ruling(case: Case) -> bool:
    """A court (or administrative tribunal) order signed by a judge, not one signed by a clerk or
    attorney. ``signed_by_judge`` must be established (True); unknown is not a judge's order
    (:func:`unsigned_order_hold`)."""
    lp = _lp(case)
    return lp.get("type") == "court_order" and lp.get("signed_by_judge") is True


def unsigned_order_hold(case: Case, paragraph: str) -> Ruling | None:
    """A ``court_order`` whose ``signed_by_judge`` is not on file: whether it is a judge's order
    (164.512(e)(1)(i), (f)(1)(ii)(A)) or a clerk's or attorney's subpoena in an order's clothing is
    unknown, and looking at the order settles it -- hold, naming the fact. None otherwise."""
    lp = _lp(case)
    if lp.get("type") != "court_order" or lp.get("signed_by_judge") is not None:
        return None
    return Ruling(HOLD, rule_string(f"{paragraph} (an order of a court: signed by a judge?)"),
                  ("Hold: whether the order is signed by a judge is not on file "
                   "(legal_process.signed_by_judge is unknown); verify it before relying on it.",))


def judicial(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.512(e): judicial and administrative proceedings.

    * (e)(1)(i) court order: only the PHI expressly authorized;
    * (e)(1)(ii) subpoena/discovery request without an order: only with satisfactory assurance --
      (A) notice to the individual with the objection period lapsed ((e)(1)(iii)), or
      (B) a qualified protective order ((e)(1)(iv)-(v)); while the objection period runs the
      release is on ``hold``;
    * an informal request is not legal process."""
    if case.purpose != "judicial":
        return None
    lp = _lp(case)
    kind = lp.get("type")
    if iscourt_order_ruling(case):
        return court_order_ruling(case, "164.512(e)(1)(i)")
    unsigned = unsigned_order_hold(case, "164.512(e)(1)(i)")
    if unsigned is not None:
        return unsigned
    if kind in SUBPOENAS or kind == "court_order":
        note = (["An 'order' not signed by a judge is treated as a subpoena."]
                if kind == "court_order" else [])
        assurance = lp.get("satisfactory_assurance")
        fields = policy.fields_for("judicial", case.role)
        if assurance == "qualified_protective_order":
            return _permit(rule_string("164.512(e)(1)(ii)(B)", "164.512(e)(1)(v)", s164_502.MN_APPLIES),
                           fields, mn=True, reasons=note)
        if assurance == "notice_to_individual":
            if lp.get("objection_period_lapsed") is True:
                return _permit(rule_string("164.512(e)(1)(ii)(A)", "164.512(e)(1)(iii)",
                                           s164_502.MN_APPLIES), fields, mn=True, reasons=note)
            return Ruling(HOLD, rule_string("164.512(e)(1)(iii)(C) (objection period not lapsed)",
                                            "164.512(e)(1)(ii)(A)"),
                          tuple(note) + ("Notice was given, but the time for the individual to raise "
                                         "objections has not elapsed; release nothing until it has "
                                         "and no objection is pending.",))
        if assurance is True:
            return _permit(rule_string("164.512(e)(1)(ii)", s164_502.MN_APPLIES), fields, mn=True,
                           reasons=note + ["Satisfactory assurance received (164.512(e)(1)(iii)/(iv))."])
        return deny("45 CFR 164.512(e)(1)(ii) (no satisfactory assurance)", *note,
                    "A subpoena without a court order needs notice to the individual or a qualified "
                    "protective order (or the practice's own reasonable efforts, 164.512(e)(1)(vi)).")
    if kind == "informal_request":
        return deny("45 CFR 164.512(e)(1) (an informal request is not legal process); 164.508(a)(1)",
                    "An attorney's letter is not an order, subpoena or discovery request.")
    return deny("45 CFR 164.512(e)(1) (no order, subpoena or discovery request)")


def law_enforcement(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.512(f): law enforcement -- (f)(1)(i) reports required by law, (f)(1)(ii)(A) court
    order/warrant, (f)(1)(ii)(B) grand jury subpoena, (f)(1)(ii)(C) administrative request with
    the three-part representation, (f)(2) identification and location (limited fields)."""
    if case.purpose != "law_enforcement":
        return None
    lp = _lp(case)
    kind = lp.get("type")
    if iscourt_order_ruling(case):
        return court_order_ruling(case, "164.512(f)(1)(ii)(A)")
    unsigned = unsigned_order_hold(case, "164.512(f)(1)(ii)(A)")
    if unsigned is not None:
        return unsigned
    mandate = case.mandate or {}
    if mandate.get("compels") is True:
        return _permit(rule_string("164.512(f)(1)(i)", s164_502.MN_NA_REQUIRED_BY_LAW),
                       [f"information the law requires ({mandate.get('statute') or 'statute'})"],
                       mn=False)
    fields = policy.fields_for("law_enforcement", case.role)
    if kind in SUBPOENAS or kind == "court_order":
        if "grand jury" in str(lp.get("scope") or "").lower().replace("_", " "):
            return _permit(rule_string("164.512(f)(1)(ii)(B)", s164_502.MN_NA_REQUIRED_BY_LAW),
                           fields, mn=False)
        if lp.get("satisfactory_assurance") is True:  # the (C)(1)-(3) representation, established
            return _permit(rule_string("164.512(f)(1)(ii)(C)", s164_502.MN_APPLIES), fields, mn=True)
        return deny("45 CFR 164.512(f)(1)(ii)(C) (no representation that the information is "
                    "relevant, specific and limited, and that de-identified information cannot be used)")
    claimed = (case.exception_claimed or "").lower()
    if "(f)(2)" in claimed or "identif" in claimed or "locat" in claimed:
        return _permit(rule_string("164.512(f)(2)", s164_502.MN_APPLIES),
                       policy.fields_for("law_enforcement_identification", case.role), mn=True,
                       reasons=["Identification/location: only the data elements of 164.512(f)(2)(i)."])
    return deny("45 CFR 164.512(f)(1) (no court order, warrant, subpoena or qualifying request)",
                "An informal law-enforcement request does not permit disclosure.")


def coroner(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.512(g)(1): disclosure to a coroner or medical examiner to identify a deceased person,
    determine a cause of death, or other duties authorized by law."""
    if case.purpose != "coroner_me":
        return None
    if case.role != "coroner_me":
        return deny("45 CFR 164.512(g)(1) (the recipient is not a coroner or medical examiner)")
    deceased = case.fact("patient_deceased")
    if deceased is False:
        return deny("45 CFR 164.512(g)(1) (the patient is not deceased)")
    if deceased is not True:
        return Ruling(HOLD, rule_string("164.512(g)(1) (a deceased person)"),
                      ("Hold: whether the patient is deceased is not on file (patient_deceased is "
                       "unknown); confirm the death before disclosing to the coroner or medical "
                       "examiner.",))
    return _permit(rule_string("164.512(g)(1)", s164_502.MN_APPLIES),
                   policy.fields_for("coroner_me", case.role), mn=True)


def research(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.512(i)(1)(i): research use or disclosure with documented IRB or privacy-board
    approval of a waiver of authorization (164.512(i)(2)), approved on or before the disclosure."""
    if case.purpose != "research":
        return None
    irb = case.irb_waiver or {}
    if irb.get("documented") is not True:
        return deny("45 CFR 164.512(i)(1)(i) (no documented IRB or privacy board waiver); 164.508(a)(1)",
                    "Research without a documented waiver needs the individual's authorization.")
    if not irb.get("date"):
        return deny("45 CFR 164.512(i)(2)(i) (the documentation must state the date the waiver was "
                    "approved)", "The waiver's date of approval is not on file (irb_waiver.date is "
                    "unknown), so approval before this disclosure is not established.")
    if parse_date(irb["date"], "request.irb_waiver.date") > case.at.date():
        return deny("45 CFR 164.512(i)(2)(i) (the waiver was approved after this disclosure)")
    return _permit(rule_string("164.512(i)(1)(i)", "164.512(i)(2)", s164_502.MN_APPLIES),
                   policy.fields_for("research", case.role), mn=True)


def serious_threat(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.512(j)(1)(i): disclosure, on a good-faith belief, necessary to prevent or lessen a
    serious and imminent threat to a person or the public, to a person reasonably able to prevent
    or lessen it (including the target); good faith is presumed on actual knowledge or a credible
    representation (j)(4), and meets verification (164.514(h)(2)(iv)).

    The test is the covered entity's good-faith belief ("if the covered entity, in good faith,
    believes the use or disclosure is necessary to prevent or lessen a serious and imminent
    threat"), not hindsight: HHS defers to the clinician's professional judgment of the threat.
    So ``good_faith_belief_imminent`` decides when stated; ``imminent_threat`` stands in for it
    only when the case records no belief either way."""
    if case.purpose != "serious_threat":
        return None
    belief = case.fact("good_faith_belief_imminent")
    imminent = case.fact("imminent_threat")
    if not (belief is True or (belief is None and imminent is True)):
        return deny("45 CFR 164.512(j)(1)(i) (no good-faith belief of a serious and imminent threat)")
    if case.role not in THREAT_RECIPIENTS:
        return deny("45 CFR 164.512(j)(1)(i)(B) (the recipient is not reasonably able to prevent "
                    "or lessen the threat)")
    return _permit(rule_string("164.512(j)(1)(i)", "164.512(j)(4)", s164_502.MN_APPLIES),
                   policy.fields_for("serious_threat", case.role), mn=True,
                   verification_exempt=True, redact_others=False)


def workers_comp(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.512(l): disclosure as authorized by and to the extent necessary to comply with
    workers' compensation laws; minimum necessary applies (164.502(b)) unless the law compels
    the disclosure (``mandate.compels``), which makes it required by law (164.512(a)(1),
    164.502(b)(2)(v))."""
    if case.purpose != "workers_comp" and not (case.role == "workers_comp_carrier"
                                               and case.purpose in ("payment", "other")):
        return None
    if case.role != "workers_comp_carrier":
        return deny("45 CFR 164.512(l) (the recipient is not a workers' compensation carrier or program)")
    mandate = case.mandate or {}
    if mandate.get("compels") is True:
        # HHS, "Disclosures for Workers' Compensation Purposes": PHI may be disclosed "to the full
        # extent authorized by State or other law", and what a law *requires* may be disclosed
        # without a minimum-necessary determination (164.512(a); 164.502(b)(2)(v)).
        statute = mandate.get("statute") or "the workers' compensation law"
        return _permit(rule_string("164.512(l)", "164.512(a)(1)", s164_502.MN_NA_REQUIRED_BY_LAW),
                       [f"information the law requires ({statute})"], mn=False,
                       reasons=[f"{statute} compels the disclosure; release what it requires."])
    return _permit(rule_string("164.512(l)", s164_502.MN_APPLIES),
                   policy.fields_for("workers_comp", case.role), mn=True)


def public_interest(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """Dispatch to the applicable paragraph of 164.512 (other than (a), decided earlier)."""
    for rule in (judicial, law_enforcement, oversight, coroner, research, serious_threat,
                 workers_comp):
        ruling = rule(case, policy)
        if ruling is not None:
            return ruling
    if case.role == "child_protective_services" and case.purpose in ("other", "required_by_law"):
        return public_health(case, policy)
    return None

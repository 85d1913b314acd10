"""45 CFR 164.508 -- uses and disclosures for which an authorization is required.

(a)(1) an authorization is required for any use or disclosure not otherwise permitted, and the
use or disclosure must be consistent with it; (a)(2) psychotherapy notes need an authorization for
*any* use or disclosure, except:

* (a)(2)(i)(A) use by the originator for treatment;
* (a)(2)(i)(B) use or disclosure by the covered entity for its own supervised training programs
  in mental health;
* (a)(2)(i)(C) use or disclosure by the covered entity to defend itself in a legal action or
  other proceeding brought by the individual;
* (a)(2)(ii) a use or disclosure required by 164.502(a)(2)(ii) (the Secretary) or permitted by
  164.512(a) (required by law -- including a judge's order), 164.512(d) (oversight of the
  originator), 164.512(g)(1) (coroner/medical examiner) or 164.512(j)(1)(i) (serious threat).

Validity of the authorization itself ((b)(2)-(5), (c)) is judged by
:func:`confide.hipaa.authorization.authorization_defects`.  Disclosures under an authorization are
exempt from minimum necessary (164.502(b)(2)(iii)) and from accounting (164.528(a)(1)(iv)).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from confide.hipaa.authorization import Defect, authorization_defects, described_sessions, revocation_effective
from confide.hipaa.minimum_necessary import MinimumNecessaryPolicy
from confide.hipaa.rules import s164_502, s164_512, s164_524
from confide.hipaa.rules._case import SEPARATED_NOTE_KINDS, Case
from confide.hipaa.rules._ruling import (
    BASIS_AUTHORIZATION,
    BASIS_NONE,
    BASIS_TPO,
    DENY,
    DISCRETIONARY,
    PERMIT,
    Ruling,
    deny,
    rule_string,
)

A2 = "164.508(a)(2)"
A2_II = "164.508(a)(2)(ii)"
_PURPOSE_PARAGRAPH = {
    "judicial": "164.512(e)", "law_enforcement": "164.512(f)", "research": "164.512(i)",
    "workers_comp": "164.512(l)", "payment": None, "operations": None,
}


def _released_under(authorization: Mapping[str, Any], kind: str) -> str:
    desc = str(authorization.get("description") or "")
    sessions = described_sessions(authorization)
    what = "notes" if kind in SEPARATED_NOTE_KINDS else "records"
    if sessions:
        return f"{what} within authorization description (sessions {sessions[0]}..{sessions[1]})"
    return f"{what} within authorization description ({desc})" if desc else f"{what} within authorization"


CONSISTENCY_CODES = frozenset({"patient_mismatch", "patient_not_identified", "recipient_not_named",
                               "purpose_inconsistent", "not_covered", "outside_description"})


def defects_rule(defects: list[Defect]) -> str:
    """Rule string naming each defect's citation then the ground that invalidates it."""
    parts: list[str] = []
    for d in defects:
        for c in d.citations:
            if c.endswith("164.508(a)(1)") and d.code in CONSISTENCY_CODES:
                c += " (use/disclosure must be consistent with the authorization)"
            if c not in parts:
                parts.append(c)
    return rule_string(*parts)


def authorization_ruling(case: Case) -> tuple[Ruling | None, list[Defect]]:
    """164.508(a)(1)-(2), (b)(1): decide under the authorization on file.

    Returns ``(permit ruling, [])`` for a valid authorization consistent with the request,
    ``(denial citing the defects, defects)`` for a defective one, ``(None, [])`` when there is
    no authorization."""
    auth = case.authorization
    if not auth:
        return None, []
    defects = authorization_defects(auth, request=case.raw, at=case.at)
    if defects:
        defect_reasons = tuple(f"Authorization {auth.get('id') or ''} defect [{d.code}]: {d.message} "
                               f"({d.citation})".replace("  ", " ") for d in defects)
        return Ruling("deny", defects_rule(defects), defect_reasons), defects
    psych = case.note_kind in SEPARATED_NOTE_KINDS
    reasons = ["Permitted, not compelled: the practice may still decline."]
    relied_on = revocation_effective(auth, case.at) is False and bool(auth.get("revoked") or auth.get("revocation"))
    if relied_on:
        rev = auth.get("revocation") or {}
        reasons.insert(0, "The revocation is not effective for this decision: it is oral or was "
                       f"received after it ({rev.get('received_at')}); reliance is protected "
                       "(164.508(b)(5)(i)).")
    rule = rule_string(f"{A2}, 164.508(c)" if psych else "164.508(a)(1), 164.508(c)",
                       s164_502.MN_NA_AUTHORIZATION, "accounting excluded 164.528(a)(1)(iv)")
    extra = ("45 CFR 164.508(b)(5)",) if relied_on else ()  # revocation oral or received later
    return Ruling(PERMIT, rule, tuple(reasons), (_released_under(auth, case.note_kind),), False,
                  BASIS_AUTHORIZATION, extra), []


# (a)(2)(i)(B): who can be in the covered entity's *own* training program -- its workforce
# (160.103: employees, volunteers, trainees), in a clinical role; never an outside party.
_TRAINING_ROLES = frozenset({"trainee", "supervisor", "clinician_same_practice", "originator_clinician"})
_CONTRACTED_CLINICIANS = frozenset({"external_clinician", "external_clinician_group"})


def _in_own_training_program(case: Case) -> bool:
    """164.508(a)(2)(i)(B): a *use* by the covered entity for its own training programs in which
    students, trainees or practitioners in mental health learn under supervision.  The requester
    must be current workforce of the practice (a former workforce member is not) in a clinical
    role, or an outside clinician the case records as workforce (``is_workforce: true``)."""
    if case.action != "use" or not case.is_workforce:
        return False
    if case.role in _TRAINING_ROLES:
        return True
    return case.role in _CONTRACTED_CLINICIANS and case.req_flag("is_workforce") is True


# (a)(2)(i)(C): the covered entity defends *itself*: its own people or its defense counsel.
_DEFENSE_ROLES = frozenset({"defense_counsel", "practice_admin", "compliance_staff",
                            "originator_clinician"})
_INDIVIDUAL = frozenset({"patient", "individual", "the patient", "the individual"})


def _defense_problem(case: Case) -> str | None:
    """164.508(a)(2)(i)(C): use or disclosure *by the covered entity* to defend itself in a legal
    action or other proceeding *brought by the individual*.  Returns why it does not apply, or
    None when it does: the requester is the practice's defense counsel or the practice itself
    (its administration, compliance staff, or the originator), the proceeding was brought by the
    patient and is against the practice or its clinician (not, e.g., the patient) -- each of which
    must be on file: an unknown initiator or defendant does not establish the exception."""
    own = case.role in _DEFENSE_ROLES and (case.role == "defense_counsel" or case.is_workforce)
    if not (own or (case.is_originator and case.is_workforce)):
        return (f"a {case.role} is not the covered entity or its defense counsel; the exception "
                "is the practice's own defense")
    proceeding = case.proceeding or {}
    initiator = proceeding.get("initiator")
    patient_names = {str(case.patient).casefold()} | _INDIVIDUAL if case.patient else set(_INDIVIDUAL)
    if not initiator or str(initiator).strip().casefold() not in patient_names:
        return ("it covers only a proceeding brought by the individual "
                f"(initiator: {initiator or 'not established'})")
    defendant = proceeding.get("defendant")
    if defendant is None:
        return ("whom the proceeding is against is not on file (proceeding.defendant is unknown), so "
                "that the covered entity is defending itself is not established")
    d = str(defendant).strip().casefold()
    if not d or d in patient_names:
        return (f"the defendant ({defendant or 'none'}) is not the covered entity or its "
                "clinician")
    return None


def _same_person(a, b) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.strip().casefold() == b.strip().casefold()


def _exception_ii(case: Case, policy: MinimumNecessaryPolicy) -> Ruling | None:
    """164.508(a)(2)(ii): the listed 164.502/164.512 paragraphs, each only when it permits."""
    hhs = s164_502.hhs(case)
    if hhs is not None and hhs.permits:
        return hhs.but(rule=rule_string("164.502(a)(2)(ii)", A2_II, s164_502.MN_NA_HHS))
    if (case.mandate or {}).get("compels") is True:
        # 164.512(a) reaches any disclosure a law compels, whatever the requester calls its purpose
        rbl = s164_512.required_by_law(replace(case, purpose="required_by_law"), policy)
    else:
        rbl = s164_512.required_by_law(case, policy)
    if rbl is not None and rbl.permits and (case.mandate or {}).get("compels") is True:
        return rbl.but(rule=rule_string(rbl.rule, A2_II))
    if case.purpose in ("judicial", "law_enforcement"):
        para = "164.512(e)(1)(i)" if case.purpose == "judicial" else "164.512(f)(1)(ii)(A)"
        if s164_512.iscourt_order_ruling(case):
            order = s164_512.court_order_ruling(case, para)
            if order.decision == DENY:  # the order does not name these notes
                return order.but(rule=rule_string(f"{A2} (a judge's order reaches psychotherapy notes only "
                                                  "when it names them)", order.rule),
                                 extra_citations=order.extra_citations + ("45 CFR " + A2_II,))
            if not order.permits:  # what the order names is not on file: held
                return order.but(extra_citations=order.extra_citations + ("45 CFR " + A2_II,))
            return order.but(rule=rule_string("164.512(a)(1) (a judge's order is required by law)",
                                              para, A2_II, s164_502.MN_NA_REQUIRED_BY_LAW))
        unsigned = s164_512.unsigned_order_hold(case, para)
        if unsigned is not None:
            return unsigned
    over = s164_512.oversight(case, policy)
    if over is not None and over.permits:
        return _oversight_of_originator(case, over)
    cor = s164_512.coroner(case, policy)
    if cor is not None and cor.permits:
        return cor.but(rule=rule_string(cor.rule, A2_II))
    threat = s164_512.serious_threat(case, policy)
    if threat is not None and threat.permits:
        return threat.but(rule=rule_string(threat.rule, A2_II))
    return None


def _oversight_of_originator(case: Case, over: Ruling) -> Ruling:
    """164.508(a)(2)(ii) excepts a 164.512(d) disclosure of psychotherapy notes only "with respect
    to the oversight of the originator of the psychotherapy notes": the oversight subject
    (``oversight_subject``) must be the notes' author (``note_originator``). The originator is
    never inferred from another field (not from the subject, not from the requester); when either
    fact is absent whose conduct the oversight concerns is unknown, and the exception does not
    permit -- the denial names the missing fact. ``oversight_of_originator: false`` stated outright
    also excludes it."""
    subject = case.fact("oversight_subject")
    originator = case.note_originator
    missing = [name for name, value in (("oversight_subject", subject), ("note_originator", originator))
               if not value]
    if case.fact("oversight_of_originator") is False:
        why = "the case states that the oversight is not of the notes' originator"
    elif missing:
        why = (f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on file, so whether "
               "the oversight is of the notes' originator is unknown")
    elif _same_person(subject, originator):
        return over.but(rule=rule_string(over.rule, A2_II),
                        reasons=over.reasons + (f"Oversight of the originator ({originator}).",))
    else:
        why = f"the originator is {originator} (note_originator), not {subject}"
    return deny(f"45 CFR {A2_II} (164.512(d) is excepted only for oversight of the originator)",
                f"The oversight concerns {subject or 'an unnamed subject'}; {why}. "
                "164.508(a)(2)(ii) excepts a 164.512(d) disclosure of psychotherapy notes only "
                "for oversight of the notes' originator.")


# purpose -> the 164.512 paragraph that 164.508(a)(2)(ii) excepts for it (tried, not met)
_EXCEPTED_PARAGRAPH = {"serious_threat": "164.512(j)(1)(i)", "coroner_me": "164.512(g)(1)",
                       "health_oversight": "164.512(d)", "required_by_law": "164.512(a)(1)",
                       "hhs_compliance": "164.502(a)(2)(ii)"}


def _not_met(case: Case, policy: MinimumNecessaryPolicy) -> tuple[str, ...]:
    """The psychotherapy-notes exceptions a request invoked (by its purpose or facts) that did not
    apply: cited alongside 164.508(a)(2) in a denial so the denial names what was tried."""
    out: list[str] = []
    purpose = case.purpose
    if case.is_originator and purpose == "treatment":
        out.append("45 CFR 164.508(a)(2)(i)(A)")
    if purpose == "training" or (purpose == "treatment" and case.req_flag("supervises_author") is True):
        out.append("45 CFR 164.508(a)(2)(i)(B)")
    if purpose == "legal_defense_vs_individual":
        out.append("45 CFR 164.508(a)(2)(i)(C)")
    paragraph = _EXCEPTED_PARAGRAPH.get(purpose)
    if paragraph:
        out += ["45 CFR " + A2_II, "45 CFR " + paragraph]
        # the condition of that paragraph that failed, e.g. 164.512(j)(1)(i)(B) (no one able to
        # prevent the threat)
        rule = {"serious_threat": s164_512.serious_threat, "coroner_me": s164_512.coroner}.get(purpose)
        failed = rule(case, policy) if rule else None
        if failed is not None and not failed.permits:
            out += failed.citations
    return tuple(out)


def psychotherapy_notes(case: Case, policy: MinimumNecessaryPolicy) -> Ruling:
    """164.508(a)(2): decide a request for psychotherapy-note content (always returns a ruling):
    the (a)(2)(i)(A)-(C) and (a)(2)(ii) exceptions, then a valid psychotherapy-notes
    authorization, then the individual's request (164.524(a)(1)(i): discretionary), else deny.
    A denial also cites each exception the request invoked that was not met (:func:`_not_met`)."""
    ruling = _psychotherapy_notes(case, policy)
    if ruling.decision == DENY:
        extra = tuple(dict.fromkeys(c for c in _not_met(case, policy) if c not in ruling.citations))
        if extra:
            ruling = ruling.but(extra_citations=ruling.extra_citations + extra)
    return ruling


def _psychotherapy_notes(case: Case, policy: MinimumNecessaryPolicy) -> Ruling:
    purpose, role = case.purpose, case.role
    reasons: list[str] = []

    # (a)(2)(i)(A) -- the originator's own use for treatment
    if case.is_originator and purpose == "treatment":
        if case.action == "use" and case.is_workforce:
            return Ruling(PERMIT, "45 CFR 164.508(a)(2)(i)(A)",
                          ("The originator's own use for treatment.",), ("full_note",), False,
                          BASIS_NONE, redact_others=False)
        reasons.append("164.508(a)(2)(i)(A) excepts only the originator's own use inside the "
                       "covered entity, not a disclosure.")

    # (a)(2)(i)(B) -- the covered entity's own supervised mental-health training programs
    if purpose == "training" or (purpose == "treatment" and case.req_flag("supervises_author") is True):
        in_program = case.req_flag("in_ce_training_program")
        supervised = case.req_flag("supervised")
        supervisor = case.req_flag("supervises_author") is True
        if not _in_own_training_program(case):
            reasons.append("164.508(a)(2)(i)(B) is the covered entity's use in its own training "
                           f"programs: a {role} outside the practice's workforce (or a disclosure "
                           "outside it) does not qualify, whatever its own program.")
        elif (in_program is True and supervised is True) or (supervisor and in_program is not False):
            # A trainee: the program and the supervision must both be established. A workforce
            # supervisor of the notes' author: that supervision is itself the learning under
            # supervision the exception names, unless the case says it is outside the program.
            return Ruling(PERMIT, "45 CFR 164.508(a)(2)(i)(B)",
                          ("Use in the practice's own supervised training program.",),
                          ("full_note",), None, BASIS_NONE, redact_others=False)
        else:
            unknown = [name for name, value in (("requester.in_ce_training_program", in_program),
                                                ("requester.supervised", supervised)) if value is None]
            reasons.append("164.508(a)(2)(i)(B) needs the practice's own training program and "
                           "supervision" + (f" ({', '.join(unknown)} not on file: unknown)" if unknown
                                            else "") + ".")

    # (a)(2)(i)(C) -- defense against a proceeding brought by the individual
    if purpose == "legal_defense_vs_individual":
        problem = _defense_problem(case)
        if problem is None:
            return Ruling(PERMIT, "45 CFR 164.508(a)(2)(i)(C)",
                          ("The practice defends itself in a proceeding the patient brought; "
                           "this is health care operations.",),
                          ("notes relevant to the claims",), None, BASIS_TPO)
        reasons.append(f"164.508(a)(2)(i)(C) does not apply: {problem}.")

    exception = _exception_ii(case, policy)
    if exception is not None and exception.decision != DENY:
        return exception

    auth_ruling, defects = authorization_ruling(case)
    if auth_ruling is not None and auth_ruling.permits:
        return auth_ruling
    if exception is not None:  # an (a)(2)(ii) paragraph that does not reach these notes
        return exception.with_reason(*reasons, *(auth_ruling.reasons if auth_ruling else ()))

    if role == "patient" or (role == "parent" and s164_502.is_personal_representative(case)):
        if purpose in ("individual_access", "other"):
            return Ruling(DISCRETIONARY,
                          rule_string("164.524(a)(1)(i) (excluded from right of access)",
                                      "164.524(a)(2)(i) (unreviewable denial)"),
                          ("Psychotherapy notes are outside the right of access; the originator may "
                           "choose to release them (state law may grant access). Default: deny; "
                           "safest path is the originator's decision plus a psychotherapy-notes "
                           "authorization.",), None, None, BASIS_NONE,
                          s164_524.PERSONAL_REPRESENTATIVE if role == "parent" else ())

    if defects:
        assert auth_ruling is not None  # a defect is found only in an authorization that was judged
        return auth_ruling.with_reason(*reasons)
    if case.is_workforce and role in ("clinician_same_practice", "supervisor", "trainee") \
            and purpose == "treatment":
        return deny(rule_string(f"{A2}(i)(A) (only the originator's treatment use is excepted)",
                                "164.506(a)"),
                    "HHS: an authorization is needed even for treatment by a provider other than "
                    "the originator.", *reasons)
    if case.is_workforce and not case.is_originator:
        return deny(rule_string(f"{A2} ({purpose} is not an exception)", "164.514(d)(2) role-based access"),
                    *reasons)
    paragraph = _PURPOSE_PARAGRAPH.get(purpose)
    if paragraph:
        return deny(rule_string(f"{A2} ({paragraph} is not in the psychotherapy-notes exception list)"),
                    *reasons)
    if role == "patient_designee":
        return deny(rule_string(A2, "164.524(a)(1)(i)"),
                    "Psychotherapy notes are outside the right of access, so a patient's direction "
                    "to a designee does not reach them; a psychotherapy-notes authorization is "
                    "required.", *reasons)
    return deny(rule_string(A2, "164.506(a)"), *reasons,
                "No exception applies and there is no valid psychotherapy-notes authorization.")

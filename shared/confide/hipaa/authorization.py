"""Validity of a HIPAA authorization (45 CFR 164.508(b)-(c)).

:func:`authorization_defects` is the single place where an authorization is judged.  The
decision engine calls it before relying on an authorization (164.508(a)(1)-(2)); the disclosures
service calls it when it records an authorization, so that a defective one is recorded as
defective with its defects named.

Authorization shape (``shared/cases/README.md``)::

    {"id", "patient", "covers": ["psychotherapy_notes" | "progress_notes" | ...],
     "description", "authorized_discloser", "recipients": [...], "purposes": [...],
     "signed_by", "signer_role": "individual" | "personal_representative",
     "rep_authority_described", "signed_date": "YYYY-MM-DD",
     "expiration_date": "YYYY-MM-DD" | null, "expiration_event": str | null,
     "expiration_event_occurred": bool | null, "revoked": bool,
     "revocation": {"in_writing": bool, "received_at": RFC 3339} | null,
     "compound": bool, "combined_with": [what else is on the same form],
     "conditioned_on": str | [str] | null,
     "statements_present": {"right_to_revoke", "conditioning", "redisclosure"},
     "plain_language": bool}

Defects and their sources:

* ``expired`` / ``expiration_event_occurred`` -- 164.508(b)(2)(i)
* ``missing_<element>`` -- a core element of 164.508(c)(1)(i)-(vi) absent: (b)(2)(ii)
* ``personal_representative_authority_missing`` -- 164.508(c)(1)(vi): (b)(2)(ii)
* ``not_yet_signed`` -- signed after the decision instant: (c)(1)(vi), (b)(2)(ii)
* ``missing_statement_<name>`` -- a required statement of 164.508(c)(2)(i)-(iii): (b)(2)(ii)
* ``not_plain_language`` -- 164.508(c)(3)(i): (b)(2)(ii)
* ``revoked`` -- written revocation received at or before the decision instant, 164.508(b)(5):
  (b)(2)(iii).  A revocation received *after* the decision instant does not reach a disclosure
  made in reliance before it (164.508(b)(5)(i)); an oral revocation is not effective.
* ``compound_psychotherapy_notes`` -- 164.508(b)(3)(ii); ``compound_with_other_document`` --
  164.508(b)(3); ``compound_conditioned`` -- 164.508(b)(3)(iii); all (b)(2)(iv)
* ``conditioned`` -- treatment/payment/enrollment/eligibility conditioned on signing outside the
  exceptions of 164.508(b)(4)(i)-(iii): (b)(2)(iv)
* ``material_information_false`` -- 164.508(b)(2)(v)

With ``request`` given, consistency with the request is checked too (164.508(a)(1): a use or
disclosure must be consistent with the authorization): ``patient_mismatch``,
``recipient_not_named`` (164.508(c)(1)(iii)), ``not_covered`` (the kind of note requested is not
described, 164.508(c)(1)(i)).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from confide.hipaa.rules._case import CaseFileError, parse_date, parse_instant

P = "45 CFR 164.508"


@dataclass(frozen=True)
class Defect:
    """One reason an authorization cannot be relied on.

    ``code`` is stable (see the module docstring), ``citation`` the CFR paragraph that is not
    met, ``ground`` the paragraph of 164.508 that makes the authorization invalid (or the
    consistency requirement), ``message`` a sentence for people."""

    code: str
    citation: str
    message: str
    ground: str | None = None

    @property
    def citations(self) -> list[str]:
        return [c for c in (self.citation, self.ground) if c]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "citation": self.citation, "ground": self.ground,
                "message": self.message}


_CORE_ELEMENTS = (
    ("description", f"{P}(c)(1)(i)", "a specific and meaningful description of the information"),
    ("authorized_discloser", f"{P}(c)(1)(ii)", "the name of the person(s) authorized to disclose"),
    ("recipients", f"{P}(c)(1)(iii)", "the name of the recipient(s)"),
    ("purposes", f"{P}(c)(1)(iv)", "a description of each purpose"),
)
_STATEMENTS = (
    ("right_to_revoke", f"{P}(c)(2)(i)", "the individual's right to revoke in writing"),
    ("conditioning", f"{P}(c)(2)(ii)", "whether treatment/payment may be conditioned on signing"),
    ("redisclosure", f"{P}(c)(2)(iii)", "the potential for redisclosure"),
)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


def covers_psychotherapy_notes(authorization: Mapping[str, Any]) -> bool:
    """Does the authorization describe psychotherapy notes (164.508(a)(2))?"""
    return any("psychotherapy" in _norm(c) for c in authorization.get("covers") or ())


def _covers_progress_notes(authorization: Mapping[str, Any]) -> bool:
    covers = authorization.get("covers") or []
    if not covers:
        return bool(authorization.get("description"))
    words = ("progress", "all", "medical", "mental", "designated", "chart", "clinical", "entire",
             "health record", "treatment record")
    return any(_norm(c) == "records" or any(w in _norm(c) for w in words)
               for c in covers if "psychotherapy" not in _norm(c))


def _document_kind(item: str) -> str:
    s = _norm(item)
    if "research" in s or "study" in s:
        return "research"
    if "psychotherapy" in s and not any(w in s for w in ("progress", "billing", "general", "medical")):
        return "psychotherapy_authorization"
    if any(w in s for w in ("authorization", "release", "records", "disclosure")):
        return "authorization"
    return "other_document"


def _conditions(authorization: Mapping[str, Any]) -> list[str]:
    cond = authorization.get("conditioned_on")
    if cond is None or cond is False or cond == "":
        return []
    if isinstance(cond, str):
        return [cond]
    return [str(c) for c in cond if c]


def _conditioning_defects(authorization: Mapping[str, Any], psych: bool) -> list[Defect]:
    out = []
    for cond in _conditions(authorization):
        s = _norm(cond)
        if "research" in s:
            continue  # (b)(4)(i) research-related treatment
        if "third party" in s or "solely" in s:
            continue  # (b)(4)(iii) health care solely to create PHI for a third party
        if any(w in s for w in ("enrollment", "eligibility", "underwriting", "risk rating")):
            if not psych:
                continue  # (b)(4)(ii) health plan, pre-enrollment
            out.append(Defect("conditioned", f"{P}(b)(4)(ii)(B)",
                              "enrollment/eligibility may not be conditioned on a "
                              "psychotherapy-notes authorization", f"{P}(b)(2)(iv)"))
            continue
        if "employment" in s or "hiring" in s:
            continue  # an employer is not a covered entity; (b)(4) does not reach it
        out.append(Defect("conditioned", f"{P}(b)(4)",
                          f"{cond!r} was made to depend on signing the authorization; "
                          "treatment, payment, enrollment and eligibility may not be", f"{P}(b)(2)(iv)"))
    return out


def _compound_defects(authorization: Mapping[str, Any], psych: bool) -> list[Defect]:
    combined = [str(c) for c in authorization.get("combined_with") or () if c]
    out: list[Defect] = []
    if psych:
        others = [c for c in authorization.get("covers") or () if "psychotherapy" not in _norm(c)]
        others += [c for c in combined if _document_kind(c) != "psychotherapy_authorization"]
        if others or (authorization.get("compound") and not combined):
            what = ", ".join(others) if others else "an unidentified document"
            out.append(Defect("compound_psychotherapy_notes", f"{P}(b)(3)(ii)",
                              "a psychotherapy-notes authorization may be combined only with another "
                              f"psychotherapy-notes authorization; this one is combined with {what}",
                              f"{P}(b)(2)(iv)"))
        return out
    kinds = {c: _document_kind(c) for c in combined}
    research_auth = any("research" in _norm(p) for p in authorization.get("purposes") or ())
    bad = [c for c, k in kinds.items()
           if k == "other_document" or (k == "research" and not research_auth)]
    if bad:
        out.append(Defect("compound_with_other_document", f"{P}(b)(3)",
                          f"an authorization may not be combined with {', '.join(bad)} "
                          "(only research consents or other authorizations)", f"{P}(b)(2)(iv)"))
    if combined and _conditions(authorization):
        out.append(Defect("compound_conditioned", f"{P}(b)(3)(iii)",
                          "an authorization on which treatment, payment, enrollment or eligibility "
                          "is conditioned may not be combined with another authorization",
                          f"{P}(b)(2)(iv)"))
    return out


def revocation_effective(authorization: Mapping[str, Any], at: datetime) -> bool | None:
    """Is a revocation effective at ``at``? None when nothing was revoked, False when a revocation
    exists but is not (yet) effective: oral, or received after ``at`` (reliance, 164.508(b)(5))."""
    rev = authorization.get("revocation")
    if not authorization.get("revoked") and not rev:
        return None
    if not rev:
        return True  # known revoked, no detail: the covered entity knows (b)(2)(iii)
    if rev.get("in_writing") is False:
        return False
    received = rev.get("received_at")
    if received is None:
        return True
    return parse_instant(received, "authorization.revocation.received_at") <= at


def _matches(name: str, candidates: list[str]) -> bool:
    n = _norm(name)
    if not n:
        return False
    return any(n == _norm(c) or n in _norm(c) or (_norm(c) and _norm(c) in n) for c in candidates)


def authorization_defects(authorization: Mapping[str, Any], *, request: Mapping[str, Any] | None = None,
                          at: datetime) -> list[Defect]:
    """Every defect of ``authorization`` at instant ``at`` (aware or UTC datetime).

    ``request`` (the case file's request object) adds the consistency checks of 164.508(a)(1).
    Returns an empty list for a valid authorization.  Raises :class:`CaseFileError` when a date
    field cannot be parsed or ``authorization`` is not an object.  Pure: no clock, no I/O.
    """
    if not isinstance(authorization, Mapping):
        raise CaseFileError("authorization", "expected an object")
    a = authorization
    at = parse_instant(at, "at")
    today = at.date()
    psych = covers_psychotherapy_notes(a)
    out: list[Defect] = []

    if request is not None:
        patient = request.get("patient")
        if patient and a.get("patient") and a.get("patient") != patient:
            out.append(Defect("patient_mismatch", f"{P}(a)(1)",
                              f"the authorization is for {a.get('patient')}, the request is about "
                              f"{patient}", f"{P}(c)(1)"))
        kind = request.get("note_kind")
        if kind == "psychotherapy" and not psych:
            out.append(Defect("not_covered", f"{P}(a)(2)",
                              "the authorization does not describe psychotherapy notes",
                              f"{P}(c)(1)(i)"))
        elif kind == "progress" and not _covers_progress_notes(a):
            out.append(Defect("not_covered", f"{P}(a)(1)",
                              "the authorization does not describe progress notes",
                              f"{P}(c)(1)(i)"))
        requester = request.get("requester") or {}
        recipients = [str(r) for r in a.get("recipients") or ()]
        names = [n for n in (requester.get("org"), requester.get("id")) if n]
        if requester.get("role") == "patient":
            names += ["patient", "individual", "self"]
        if recipients and names and not any(_matches(n, recipients) for n in names):
            out.append(Defect("recipient_not_named", f"{P}(a)(1)",
                              f"{names[0]} is not a recipient named in the authorization",
                              f"{P}(c)(1)(iii)"))

    revoked = revocation_effective(a, at)
    if revoked:
        out.append(Defect("revoked", f"{P}(b)(5)",
                          "a written revocation was received before this decision", f"{P}(b)(2)(iii)"))

    if a.get("expiration_date"):
        exp = parse_date(a["expiration_date"], "authorization.expiration_date")
        if exp < today:
            out.append(Defect("expired", f"{P}(b)(2)(i)",
                              f"the authorization expired on {exp.isoformat()}"))
    if a.get("expiration_event_occurred"):
        out.append(Defect("expiration_event_occurred", f"{P}(b)(2)(i)",
                          f"the expiration event has occurred ({a.get('expiration_event') or 'event'})"))

    out += _compound_defects(a, psych)
    out += _conditioning_defects(a, psych)

    for key, cite, what in _CORE_ELEMENTS:
        if not a.get(key):
            out.append(Defect(f"missing_{key}", cite, f"missing core element: {what}",
                              f"{P}(b)(2)(ii)"))
    if not a.get("expiration_date") and not a.get("expiration_event"):
        out.append(Defect("missing_expiration", f"{P}(c)(1)(v)",
                          "missing core element: an expiration date or expiration event",
                          f"{P}(b)(2)(ii)"))
    if not a.get("signed_by") or not a.get("signed_date"):
        out.append(Defect("missing_signature", f"{P}(c)(1)(vi)",
                          "missing core element: signature of the individual and date",
                          f"{P}(b)(2)(ii)"))
    elif parse_date(a["signed_date"], "authorization.signed_date") > today:
        out.append(Defect("not_yet_signed", f"{P}(c)(1)(vi)",
                          f"signed on {a['signed_date']}, after this decision", f"{P}(b)(2)(ii)"))
    if a.get("signer_role") == "personal_representative" and not a.get("rep_authority_described"):
        out.append(Defect("personal_representative_authority_missing", f"{P}(c)(1)(vi)",
                          "signed by a personal representative without a description of the "
                          "representative's authority", f"{P}(b)(2)(ii)"))

    statements = a.get("statements_present") or {}
    for key, cite, what in _STATEMENTS:
        if statements.get(key) is not True:
            out.append(Defect(f"missing_statement_{key}", cite,
                              f"missing required statement: {what}", f"{P}(b)(2)(ii)"))
    if a.get("plain_language") is False:
        out.append(Defect("not_plain_language", f"{P}(c)(3)(i)",
                          "the authorization is not written in plain language", f"{P}(b)(2)(ii)"))
    if a.get("material_information_known_false"):
        out.append(Defect("material_information_false", f"{P}(b)(2)(v)",
                          "material information in the authorization is known to be false"))
    return out

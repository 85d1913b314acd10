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
     "expiration_event_occurred": bool | "YYYY-MM-DD" | RFC 3339 | null, "revoked": bool,
     "revocation": {"in_writing": bool, "received_at": RFC 3339} | null,
     "compound": bool, "combined_with": [what else is on the same form],
     "conditioned_on": str | [str] | null,
     "statements_present": {"right_to_revoke", "conditioning", "redisclosure"},
     "plain_language": bool, "part2_tpo_consent": bool}

For a 42 CFR Part 2 record the same object is the patient's Part 2 consent (2.31): ``covers``
includes ``part2_records``, and ``sud_counseling_notes`` only on a consent for those alone
(2.31(b)); ``part2_tpo_consent`` marks the single consent for all future TPO uses and disclosures
(2.33(a)(2)).

Defects and their sources:

* ``expired`` / ``expiration_event_occurred`` -- 164.508(b)(2)(i): the event is *known* to have
  occurred (``true``, or the date it occurred on, at or before the decision instant); an unknown
  occurrence (null) is not known, so it does not invalidate -- the rule's own knowledge standard
* ``missing_<element>`` -- a core element of 164.508(c)(1)(i)-(vi) absent: (b)(2)(ii)
* ``personal_representative_authority_missing`` -- 164.508(c)(1)(vi): (b)(2)(ii)
* ``not_yet_signed`` -- signed after the decision instant: (c)(1)(vi), (b)(2)(ii)
* ``missing_statement_<name>`` -- a required statement of 164.508(c)(2)(i)-(iii): (b)(2)(ii)
* ``not_plain_language`` -- 164.508(c)(3)(i): (b)(2)(ii); ``plain_language_unknown`` -- the form
  on file does not establish it (``plain_language`` absent or null): (b)(2)(ii)
* ``revoked`` -- written revocation received at or before the decision instant, 164.508(b)(5):
  (b)(2)(iii).  A revocation received *after* the decision instant does not reach a disclosure
  made in reliance before it (164.508(b)(5)(i)); an oral revocation is not effective.
* ``compound_psychotherapy_notes`` -- 164.508(b)(3)(ii); ``compound_with_other_document`` --
  164.508(b)(3); ``compound_conditioned`` -- 164.508(b)(3)(iii); all (b)(2)(iv)
* ``conditioned`` -- treatment/payment/enrollment/eligibility conditioned on signing outside the
  exceptions of 164.508(b)(4)(i)-(iii): (b)(2)(iv)
* ``material_information_false`` -- 164.508(b)(2)(v) (the form's ``material_information_false``
  or ``material_information_known_false``)

``signed_date`` and ``expiration_date`` are calendar dates compared with the decision's UTC date,
or instants compared with the decision instant when they carry a time.

With ``request`` given, consistency with the request is checked too (164.508(a)(1): a use or
disclosure must be consistent with the authorization): ``patient_mismatch`` /
``patient_not_identified`` (the authorization must be the individual's, 164.508(c)(1)(i); also
when the *request* names no patient, so whose notes they are is unknown),
``recipient_not_named`` (whole names, 164.508(c)(1)(iii)), ``recipient_not_established`` (the
requester has no name to compare with the named recipients: unknown is not named),
``purpose_inconsistent`` (no stated purpose fits the request, 164.508(c)(1)(iv)), ``not_covered``
(the kind of note requested is not described -- "all records except psychotherapy notes" does not
describe them, 164.508(c)(1)(i); SUD counseling notes need a consent naming them, 42 CFR 2.31(b)),
``compound_sud_counseling_notes`` (a consent for SUD counseling notes combined with anything but
another such consent, 42 CFR 2.31(b)(2)).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from confide.hipaa.rules._case import CaseFileError, has_time, parse_date, parse_instant

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


# Words that take psychotherapy notes *out* of a coverage item ("all records except psychotherapy
# notes", "progress notes only, NOT psychotherapy notes", "psychotherapy notes excluded").
_NEGATIONS = ("except", "excepting", "excluding", "exclude", "excludes", "excluded", "exclusive",
              "not", "no", "without", "but", "minus", "omit", "omitting", "less")
_NEGATING_PHRASES = ("other than", "apart from", "aside from", "with the exception of")


def _clauses(item: str) -> list[str]:
    return [c for c in (_norm(part) for part in re.split(r"[,;:()\[\]/]|\bbut\b", str(item))) if c]


def _names_psychotherapy(clause: str) -> bool:
    return bool(re.search(r"\bpsychotherap(y|eutic)\b", clause))


#: What names each note kind in free text (an order's scope, an authorization's coverage).
KIND_WORDS = {
    "psychotherapy": r"\bpsychotherap(y|eutic)\b",
    "progress": r"\bprogress\b",
    "sud_counseling": r"\b(sud|substance use disorder|substance abuse) counsel?ling\b",
}


def describes(text: str, kind: str) -> bool | None:
    """Does ``text`` (an order's scope, a coverage item) expressly name the note kind ``kind``
    (``psychotherapy``, ``progress``, ``sud_counseling``)?

    True: it names it; False: it names it only to except or negate it ("all records excluding
    psychotherapy notes", "progress notes only, not psychotherapy notes"), or limits itself to
    something else ("progress notes only"); None: it does not mention it at all."""
    pattern = KIND_WORDS[kind]
    text = str(text)
    if not re.search(pattern, _norm(text)):
        return None
    if any(p in _norm(text) for p in _NEGATING_PHRASES):
        return False
    for clause in _clauses(text):
        words = clause.split()
        match = re.search(pattern, clause)
        if "only" in words and not match:
            return False  # "progress notes only, ...": limited to something else
        if match:
            before = clause[:match.start()].split()
            after = clause[match.end():].split()
            if any(w in _NEGATIONS for w in before) or any(
                    w in ("excluded", "excepted", "not", "omitted") for w in after):
                return False
    return True


def _covers_psychotherapy_item(item: str) -> bool:
    """Does one ``covers`` item describe psychotherapy notes (164.508(a)(2), (c)(1)(i))?

    The canonical token ``psychotherapy_notes`` and close variants ("psychotherapy notes",
    "Psychotherapy Notes of Dr. A") count -- unless the item excepts or negates them ("all
    records except psychotherapy notes", "progress notes only, not psychotherapy notes") or limits
    itself to something else ("progress notes only")."""
    text = _norm(item)
    if not _names_psychotherapy(text):
        return False
    if any(p in text for p in _NEGATING_PHRASES):
        return False
    for clause in _clauses(item):
        words = clause.split()
        if "only" in words and not _names_psychotherapy(clause):
            return False  # "progress notes only, ...": limited to something else
        if _names_psychotherapy(clause):
            at = next(i for i, w in enumerate(words) if w.startswith("psychotherap"))
            if any(w in _NEGATIONS for w in words[:at]) or any(
                    w in ("excluded", "excepted", "not", "omitted") for w in words[at + 1:]):
                return False
    return True


#: Words naming records other than psychotherapy notes, when a part of a psychotherapy-notes item.
_OTHER_RECORD_WORDS = ("progress", "billing", "record", "records", "chart", "medical", "entire", "all",
                       "designated", "diagnosis", "diagnoses", "medication", "medications", "lab", "labs",
                       "summary", "summaries", "history", "information", "claims", "plan", "plans")


def _other_records_in_psychotherapy_item(item: str) -> list[str]:
    """The parts of a psychotherapy-notes ``covers`` item that describe other records ("psychotherapy
    notes and progress notes", "psychotherapy notes, all records"): 164.508(b)(3)(ii) makes such an
    item a compound authorization as surely as a second item would. A part that excepts or negates
    ("excluding progress notes", "not the chart") describes nothing to release."""
    text = re.sub(r"[&+]", " and ", str(item))
    out = []
    for clause in _clauses(text):
        for part in re.split(r"\b(?:and|plus|as well as|together with|along with|including|with)\b", clause):
            words = part.split()
            if not words or _names_psychotherapy(part):
                continue
            if any(w in _NEGATIONS for w in words) or any(p in part for p in _NEGATING_PHRASES):
                continue
            if any(w in _OTHER_RECORD_WORDS for w in words):
                out.append(part.strip())
    return out


def described_sessions(authorization: Mapping[str, Any]) -> tuple[str, str] | None:
    """The sessions an authorization's description names by date ("progress notes of sessions
    2026-01-01 to 2026-01-31"): its first two ISO dates, earlier first, or None when it names fewer
    (164.508(c)(1)(i): the description says which information; the engine's field set quotes it)."""
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", str(authorization.get("description") or ""))
    if len(dates) < 2:
        return None
    first, second = dates[0], dates[1]
    return (first, second) if first <= second else (second, first)


def _present(value: Any) -> bool:
    """A core element is present only with something in it: whitespace, or a list of blanks, names no
    recipient, purpose, discloser or signer (164.508(c)(1))."""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple)):
        return any(_present(v) for v in value)
    return bool(value)


def covers_psychotherapy_notes(authorization: Mapping[str, Any]) -> bool:
    """Does the authorization describe psychotherapy notes (164.508(a)(2), (c)(1)(i))?"""
    return any(_covers_psychotherapy_item(c) for c in authorization.get("covers") or ())


def _is_sud_counseling_item(item: Any) -> bool:
    return describes(str(item).replace("_", " "), "sud_counseling") is True


def covers_sud_counseling_notes(authorization: Mapping[str, Any]) -> bool:
    """Does the consent name SUD counseling notes (42 CFR 2.31(b)(1))?  Only a consent that names
    them reaches them: a general Part 2 consent (``part2_records``) does not."""
    return any(_is_sud_counseling_item(c) for c in authorization.get("covers") or ())


def covers_part2_records(authorization: Mapping[str, Any]) -> bool:
    """Is the authorization also the patient's Part 2 consent (42 CFR 2.31): does ``covers`` name
    Part 2 records (``part2_records``, "Part 2 records", "SUD treatment records")?"""
    return any(re.search(r"\bpart ?2\b|\b(sud|substance use disorder) (treatment )?records?\b",
                         _norm(c).replace("part2", "part 2"))
               for c in authorization.get("covers") or ())


def _covers_progress_notes(authorization: Mapping[str, Any]) -> bool:
    covers = authorization.get("covers") or []
    if not covers:
        return bool(authorization.get("description"))
    words = ("progress", "all", "medical", "mental", "designated", "chart", "clinical", "entire",
             "health record", "treatment record", "part2", "part 2")
    return any(_norm(c) == "records" or any(w in _norm(c) for w in words)
               for c in covers if not _covers_psychotherapy_item(c))


def _document_kind(item: str) -> str:
    s = _norm(item)
    if "research" in s or "study" in s:
        return "research"
    auth_words = ("authoriz", "release", "disclosure", "records")
    if "psychotherapy" in s and not any(w in s for w in ("progress", "billing", "general", "medical")):
        if "notes" in s or any(w in s for w in auth_words):
            return "psychotherapy_authorization"
        return "other_document"  # e.g. an employment psychotherapy questionnaire
    if any(w in s for w in auth_words):
        return "authorization"
    return "other_document"


def _conditions(authorization: Mapping[str, Any]) -> list[str]:
    cond = authorization.get("conditioned_on")
    if cond is None or cond is False or cond == "":
        return []
    if isinstance(cond, str):
        return [cond]
    return [str(c) for c in cond if c]


_PAYMENT_ETC = r"\b(pay|claim|reimburs|bill|enrol|eligib|benefit|coverage|premium)"


def _research_treatment(cond: str) -> bool:
    """164.508(b)(4)(i): research-related *treatment* conditioned on a research authorization."""
    return "research" in cond and not re.search(_PAYMENT_ETC, cond)


def _care_solely_for_third_party(cond: str) -> bool:
    """164.508(b)(4)(iii): health care provided *solely* to create PHI for disclosure to a third
    party (a pre-employment physical, an independent medical examination) -- not payment,
    enrollment or eligibility, and not just any text that says "solely" or "third party"."""
    sole = re.search(r"\bsole(ly)?\b|\bonly\b", cond)
    third = re.search(r"\bthird part|\bfor (disclosure|release|a report) to\b|\bemployer|"
                      r"\bindependent medical|\bfitness for duty|\bpre employment|\bexamination", cond)
    return bool(sole and third) and not re.search(_PAYMENT_ETC, cond)


#: Recipients the Privacy Rule does not govern: what they make depend on an authorization (a life or
#: disability insurer's underwriting) is outside 164.508(b)(4), which binds covered entities only.
NOT_COVERED_ROLES = frozenset({"insurer_non_covered"})


def _conditioner_is_covered(requester: Mapping[str, Any] | None) -> bool:
    """Whether the recipient that set ``conditioned_on`` is bound by 164.508(b)(4) (a covered entity).
    Unknown counts as covered (fail closed: the conditioning stays a defect)."""
    requester = requester or {}
    return not (requester.get("role") in NOT_COVERED_ROLES or requester.get("is_covered_entity") is False)


def _conditioning_defects(authorization: Mapping[str, Any], psych: bool,
                          requester: Mapping[str, Any] | None = None) -> list[Defect]:
    """164.508(b)(4): a covered entity may not condition treatment, payment, enrollment or eligibility
    on an authorization, save (b)(4)(i)-(iii). ``conditioned_on`` is what was made to depend on
    signing. A recipient that is not a covered entity (``requester``: role ``insurer_non_covered`` or
    ``is_covered_entity`` false) is outside the rule, so what it makes its own business depend on (a
    policy's issuance) is no defect; treatment or care made to depend on signing is the practice's
    condition and stays one."""
    covered = _conditioner_is_covered(requester)
    out = []
    for cond in _conditions(authorization):
        s = _norm(cond)
        if not covered and not re.search(r"\b(treat|therap|counsel|session|care)", s):
            continue  # the non-covered recipient's own business (a policy's issuance), not the practice's care
        if _research_treatment(s):
            continue  # (b)(4)(i) research-related treatment
        if _care_solely_for_third_party(s):
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
    if not psych and covers_sud_counseling_notes(authorization):
        return out  # a SUD counseling notes consent: 42 CFR 2.31(b)(2) (_sud_counseling_compound_defects)
    if psych:
        others = [c for c in authorization.get("covers") or () if not _covers_psychotherapy_item(c)]
        others += [part for c in authorization.get("covers") or () if _covers_psychotherapy_item(c)
                   for part in _other_records_in_psychotherapy_item(c)]
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


def _sud_counseling_compound_defects(authorization: Mapping[str, Any]) -> list[Defect]:
    """42 CFR 2.31(b)(2): a consent for SUD counseling notes may be combined only with another
    consent for SUD counseling notes."""
    if not covers_sud_counseling_notes(authorization):
        return []
    others = [str(c) for c in authorization.get("covers") or () if not _is_sud_counseling_item(c)]
    others += [str(c) for c in authorization.get("combined_with") or ()
               if c and not _is_sud_counseling_item(c)]
    if not others:
        return []
    return [Defect("compound_sud_counseling_notes", "42 CFR 2.31(b)(2)",
                   "a consent for SUD counseling notes may be combined only with another consent for "
                   f"SUD counseling notes; this one also covers {', '.join(others)}", f"{P}(b)(2)(iv)")]


def _after(value: Any, field: str, at: datetime) -> bool:
    """Is ``value`` (a date, or an instant when a time is given) after the instant ``at``?  A
    bare date is a day: it is after ``at`` only from the next calendar day (UTC)."""
    if has_time(value):
        return parse_instant(value, field) > at
    return parse_date(value, field) > at.date()


def _before(value: Any, field: str, at: datetime) -> bool:
    """Is ``value`` before ``at``?  An expiration date runs to the end of its day (UTC); an
    expiration instant ends at that instant."""
    if has_time(value):
        return parse_instant(value, field) < at
    return parse_date(value, field) < at.date()


# 164.508(a)(1), (c)(1)(iv): a use or disclosure must be consistent with the purposes the
# authorization describes.  Conservative keyword stems per request purpose; a request purpose not
# listed here is not checked.  "At the request of the individual" (the description
# (c)(1)(iv) allows when the individual initiates the authorization) covers any purpose.
_PURPOSE_WORDS = {
    "payment": ("pay", "claim", "bill", "insur", "reimburs", "coverage", "covered", "utiliz",
                "benefit", "eligib", "precert", "preauth", "prior auth", "medical necessity",
                "review", "determination", "underwrit", "health plan"),
    "treatment": ("treat", "care", "therap", "consult", "counsel", "coordinat", "continu",
                  "referr", "psychiatr", "medication", "clinical", "medical", "health",
                  "second opinion", "diagnos"),
    "operations": ("operation", "quality", "audit", "review", "accredit", "credential", "business",
                   "manag", "administr", "complian", "peer"),
    "training": ("train", "educat", "supervis", "teach", "learn"),
    "research": ("research", "study", "studies", "trial"),
    "judicial": ("legal", "litigat", "attorney", "lawyer", "court", "lawsuit", "suit", "proceeding",
                 "subpoena", "custody", "divorce", "judicial", "hearing", "claim", "discovery",
                 "deposition"),
    "legal_defense_vs_individual": ("legal", "litigat", "attorney", "lawyer", "court", "lawsuit",
                                    "suit", "proceeding", "claim", "defen", "malpractice"),
    "law_enforcement": ("law enforcement", "police", "investigat", "criminal", "legal", "court",
                        "prosecut"),
    "workers_comp": ("worker", "compensation", "injur", "comp", "occupational", "claim"),
    "health_oversight": ("oversight", "audit", "licens", "investigat", "complian", "board",
                         "review"),
}
_INDIVIDUALS_REQUEST = re.compile(r"\brequest(ed)? (of|by) (the )?(individual|patient)\b|"
                                  r"\b(individual|patient)( s)? request\b")


def purpose_consistent(purpose: Any, stated: Any) -> bool:
    """Is a request for ``purpose`` consistent with the authorization's stated purposes
    (164.508(a)(1), (c)(1)(iv))?  True when a stated purpose is "at the request of the
    individual", when the request purpose is not one this check knows, or when a stated
    purpose names it."""
    texts = [_norm(p) for p in (stated if isinstance(stated, (list, tuple)) else [stated]) if p]
    if not texts or any(_INDIVIDUALS_REQUEST.search(t) for t in texts):
        return True
    stems = _PURPOSE_WORDS.get(str(purpose))
    if stems is None:
        return True
    wanted = _norm(str(purpose))
    return any(t == wanted or any(re.search(rf"\b{re.escape(w)}", t) for w in stems)
               for t in texts)


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


_ENTITY_SUFFIXES = frozenset({"inc", "incorporated", "llc", "llp", "ltd", "limited", "corp",
                              "corporation", "co", "company", "pc", "pllc", "pa", "plc", "lp"})


def _name(text: Any) -> str:
    """A person's or organisation's name for comparison: casefolded, punctuation and runs of
    whitespace collapsed, a leading "the" and trailing "Inc."/"LLC"-style suffixes dropped."""
    words = re.sub(r"[^\w]+", " ", str(text).casefold().replace("_", " ")).split()
    if words[:1] == ["the"]:
        words = words[1:]
    while words and words[-1] in _ENTITY_SUFFIXES:
        words = words[:-1]
    return " ".join(words)


def _names_in(whole: str, part: str) -> bool:
    """``part`` occurs in ``whole`` as a run of whole words ("acme health plan" in "acme health
    plan of texas"), never as a fragment of a word ("a" in "acme")."""
    return f" {part} " in f" {whole} "


def _recipient_named(requester: Mapping[str, Any], recipients: list[str],
                     patient: Any = None) -> bool | None:
    """164.508(c)(1)(iii): is the requester one of the recipients the authorization names?

    The requester's ``org`` matches a recipient with the same name, or a recipient naming it
    among others ("Acme Health Plan and Riverside Psychiatry") when the org name has at least two
    words; its ``id`` matches only a recipient with exactly that name.  None when the requester
    has no name to compare."""
    # each recipient by its full name, and without a parenthesised gloss ("Jane Roe (sister)")
    names = [n for r in recipients for n in {_name(r), _name(re.sub(r"\([^)]*\)", " ", r))} if n]
    org, rid = _name(requester.get("org") or ""), _name(requester.get("id") or "")
    if requester.get("role") == "patient" and (
            any(set(n.split()) & {"patient", "individual", "self", "myself"} for n in names)
            or (patient and _name(patient) in names)):
        return True
    if not org and not rid:
        return None  # unknown: the caller treats it as not established (recipient_not_established)
    if rid and rid in names:
        return True
    return bool(org) and any(org == n or (len(org.split()) >= 2 and _names_in(n, org)) for n in names)


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
    psych = covers_psychotherapy_notes(a)
    out: list[Defect] = []

    if request is not None:
        patient = request.get("patient")
        if not patient:
            out.append(Defect("patient_not_identified", f"{P}(a)(1)",
                              "the request names no patient (request.patient is unknown), so the "
                              "authorization cannot be matched to the individual", f"{P}(c)(1)(i)"))
        elif a.get("patient") and a.get("patient") != patient:
            out.append(Defect("patient_mismatch", f"{P}(a)(1)",
                              f"the authorization is for {a.get('patient')}, the request is about "
                              f"{patient}", f"{P}(c)(1)"))
        elif patient and not a.get("patient"):
            # The authorization must be the individual's: one that does not identify whose
            # information it describes cannot be relied on for this patient's notes (a signer's
            # name alone is not the description of the information, (c)(1)(i)).
            out.append(Defect("patient_not_identified", f"{P}(a)(1)",
                              f"the authorization does not identify the individual ({patient}) "
                              "whose information it describes", f"{P}(c)(1)(i)"))
        kind = request.get("note_kind")
        if kind == "psychotherapy" and not psych:
            out.append(Defect("not_covered", f"{P}(a)(2)",
                              "the authorization does not describe psychotherapy notes",
                              f"{P}(c)(1)(i)"))
        elif kind == "sud_counseling" and not covers_sud_counseling_notes(a):
            out.append(Defect("not_covered", "42 CFR 2.31(b)(1)",
                              "the consent does not name SUD counseling notes: they are released only "
                              "with a consent naming them, never under a general Part 2 consent",
                              f"{P}(c)(1)(i)"))
        elif kind == "progress" and not _covers_progress_notes(a):
            out.append(Defect("not_covered", f"{P}(a)(1)",
                              "the authorization does not describe progress notes",
                              f"{P}(c)(1)(i)"))
        requester = request.get("requester") or {}
        recipients = [str(r) for r in a.get("recipients") or ()]
        named = _recipient_named(requester, recipients, patient) if recipients else True
        if named is False:
            who = requester.get("org") or requester.get("id")
            out.append(Defect("recipient_not_named", f"{P}(a)(1)",
                              f"{who} is not a recipient named in the authorization",
                              f"{P}(c)(1)(iii)"))
        elif named is None:
            out.append(Defect("recipient_not_established", f"{P}(a)(1)",
                              "the requester has no name or organisation on file (requester.id and "
                              "requester.org are unknown), so it is not established that it is a "
                              "recipient the authorization names", f"{P}(c)(1)(iii)"))
        described = described_sessions(a)
        outside = [d for d in request.get("note_sessions") or () if described
                   and not described[0] <= str(d)[:10] <= described[1]]
        if outside:
            out.append(Defect("outside_description", f"{P}(a)(1)",
                              f"sessions of {', '.join(sorted(set(map(str, outside))))} are outside the sessions "
                              f"the authorization describes ({described[0]}..{described[1]})",  # type: ignore[index]
                              f"{P}(c)(1)(i)"))
        purpose = request.get("purpose")
        if a.get("purposes") and not purpose_consistent(purpose, a["purposes"]):
            out.append(Defect("purpose_inconsistent", f"{P}(a)(1)",
                              f"the request's purpose ({purpose}) is not among the purposes the "
                              f"authorization states ({'; '.join(map(str, a['purposes']))})",
                              f"{P}(c)(1)(iv)"))

    revoked = revocation_effective(a, at)
    if revoked:
        out.append(Defect("revoked", f"{P}(b)(5)",
                          "a written revocation was received before this decision", f"{P}(b)(2)(iii)"))

    if a.get("expiration_date"):
        exp = a["expiration_date"]
        if _before(exp, "authorization.expiration_date", at):
            out.append(Defect("expired", f"{P}(b)(2)(i)", f"the authorization expired on {exp}"))
    occurred = a.get("expiration_event_occurred")
    event = a.get("expiration_event") or "event"
    if isinstance(occurred, str):  # the date (or instant) on which the event occurred
        if not _after(occurred, "authorization.expiration_event_occurred", at):
            out.append(Defect("expiration_event_occurred", f"{P}(b)(2)(i)",
                              f"the expiration event ({event}) occurred on {occurred}, at or before "
                              "this decision"))
    elif occurred is True:
        out.append(Defect("expiration_event_occurred", f"{P}(b)(2)(i)",
                          f"the expiration event has occurred ({event})"))
    elif occurred is None and _present(a.get("expiration_event")):
        # Fail closed: an authorization that expires on an event whose occurrence is not on file may
        # already have expired, and an expired authorization is no authorization ((b)(2)(i)).
        out.append(Defect("expiration_event_unknown", f"{P}(b)(2)(i)",
                          f"whether the expiration event ({event}) has occurred is not on file "
                          "(authorization.expiration_event_occurred is unknown)"))

    out += _compound_defects(a, psych)
    out += _sud_counseling_compound_defects(a)
    out += _conditioning_defects(a, psych or covers_sud_counseling_notes(a),
                                 (request or {}).get("requester"))

    for key, cite, what in _CORE_ELEMENTS:
        if not _present(a.get(key)):
            out.append(Defect(f"missing_{key}", cite, f"missing core element: {what}",
                              f"{P}(b)(2)(ii)"))
    if not _present(a.get("expiration_date")) and not _present(a.get("expiration_event")):
        out.append(Defect("missing_expiration", f"{P}(c)(1)(v)",
                          "missing core element: an expiration date or expiration event",
                          f"{P}(b)(2)(ii)"))
    if not _present(a.get("signed_by")) or not _present(a.get("signed_date")):
        out.append(Defect("missing_signature", f"{P}(c)(1)(vi)",
                          "missing core element: signature of the individual and date",
                          f"{P}(b)(2)(ii)"))
    elif _after(a["signed_date"], "authorization.signed_date", at):
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
    elif a.get("plain_language") is not True:
        out.append(Defect("plain_language_unknown", f"{P}(c)(3)(i)",
                          "it is not established that the authorization is written in plain language "
                          "(plain_language is unknown)", f"{P}(b)(2)(ii)"))
    if a.get("material_information_false") or a.get("material_information_known_false"):
        out.append(Defect("material_information_false", f"{P}(b)(2)(v)",
                          "material information in the authorization is known to be false"))
    return out

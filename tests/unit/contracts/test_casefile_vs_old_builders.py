"""The unified case builder against the two it replaced (d78ab87), decided by the real engine.

The refactor was meant to change the case file's shape only, except that a notes read now also gets
``is_covered_entity`` (defaulted from the role) and ``note_originator``, and a disclosure request's
clinician role now follows the notes' authorship as a read's did. These tables decide every
role x purpose x note kind x action x authorship combination through ``confide.hipaa.engine.decide``
with the old builder (copied here verbatim as the reference) and the new one, and list each case
whose outcome (decision, rule, fields released) changed.
"""
from __future__ import annotations

import itertools

from confide.contracts import casefile
from confide.hipaa.engine import decide
from confide.hipaa.rules._case import KNOWN_PURPOSES, KNOWN_ROLES

AT = "2026-05-01T15:00:00.000000Z"
AUTHOR = "C-A"
OLD_COVERED_ENTITY_ROLES = frozenset({"insurer_health_plan", "external_clinician", "external_clinician_group"})


# -- reference implementations (d78ab87) ------------------------------------------------------

def old_notes_build_case(note: dict, requester: dict, purpose: str, action: str, decision_time: str,
                         exception_claimed=None) -> dict:
    """d78ab87:services/notes/notes/handlers.py build_case, on the note's facts."""
    is_originator = requester["id"] == note["author_id"]
    role = requester["role"]
    if role in ("originator_clinician", "clinician_same_practice"):
        role = "originator_clinician" if is_originator else "clinician_same_practice"
    case = {
        "requester": {**requester, "role": role, "is_originator": is_originator},
        "purpose": purpose, "note_kind": note["kind"], "action": action, "patient": note["patient_id"],
        "decision_time": decision_time, "authorization": None, "exception_claimed": exception_claimed,
    }
    if note["kind"] == "psychotherapy":
        case["content_in_psych_note"] = sorted(note.get("content_in_psych_note") or [])
    return case


def old_disclosures_build_case(request: dict, requester: dict, notes: list, authorization, decision_time: str) -> dict:
    """d78ab87:services/disclosures/disclosures/facts.py build_case."""
    requester = dict(requester)
    authors = {n.get("author_id") for n in notes}
    requester.setdefault("is_covered_entity", requester.get("role") in OLD_COVERED_ENTITY_ROLES)
    requester["is_originator"] = bool(notes) and authors == {requester.get("id")}
    case = {k: v for k, v in (request.get("facts") or {}).items()
            if k not in casefile.NOTE_CONTENT_FACTS and k not in casefile.NOTE_ORIGINATOR_FACTS}
    known_authors = {a for a in authors if a}
    if len(known_authors) == 1:
        case["note_originator"] = next(iter(known_authors))
    case.update({
        "requester": requester, "purpose": request["purpose"], "note_kind": request["note_kind"],
        "action": request["action"], "patient": request["patient_id"], "decision_time": decision_time,
        "authorization": authorization, "exception_claimed": request.get("exception_claimed"),
    })
    if request["note_kind"] == "psychotherapy":
        case["content_in_psych_note"] = sorted({c for n in notes for c in n.get("content_in_psych_note") or ()})
    channel = request.get("channel") or {}
    if channel.get("standard"):
        case["channel"] = {k: channel.get(k) for k in ("standard", "task_status", "pou", "claim")}
    return case


# -- helpers -----------------------------------------------------------------------------------

def outcome(case: dict) -> tuple:
    try:
        out = decide(case).to_dict()
    except ValueError as exc:
        return ("error", str(exc), None)
    return (out["decision"], out.get("rule"), sorted(out.get("fields_released") or []))


def note(kind: str, author=AUTHOR, note_id="n1", categories=("summary_diagnosis",)) -> dict:
    facts = {"note_id": note_id, "patient_id": "P-1", "author_id": author, "session_date": "2026-04-01",
             "kind": kind}
    if kind == "psychotherapy":
        facts["content_in_psych_note"] = sorted(categories)
    return facts


ROLES = sorted(KNOWN_ROLES)
PURPOSES = sorted(KNOWN_PURPOSES)
KINDS = ("progress", "psychotherapy")
ACTIONS = ("use", "disclose")


# -- notes reads -------------------------------------------------------------------------------

def _read_changes():
    changed = []
    for role, purpose, kind, action, own in itertools.product(ROLES, PURPOSES, KINDS, ACTIONS, (True, False)):
        requester = {"id": AUTHOR if own else "X-1", "role": role, "org": "Org"}
        n = note(kind)
        old = outcome(old_notes_build_case(n, dict(requester), purpose, action, AT))
        new = outcome(casefile.read_case(n, dict(requester), purpose, action, AT))
        if old != new:
            changed.append((role, purpose, kind, action, own, old, new))
    return changed


def test_notes_read_outcomes_unchanged_by_the_unified_builder():
    changed = _read_changes()
    assert changed == [], "\n".join(map(repr, changed))


def test_notes_read_with_requester_id_none_and_note_without_author():
    """Old: None == None made the requester the originator; both builders agree on a missing author."""
    n = note("progress", author=None)
    requester = {"id": None, "role": "originator_clinician", "org": "Org"}
    old = old_notes_build_case(n, dict(requester), "treatment", "use", AT)
    new = casefile.read_case(n, dict(requester), "treatment", "use", AT)
    assert old["requester"]["is_originator"] == new["requester"]["is_originator"]


# -- disclosure requests -----------------------------------------------------------------------

AUTHORSHIPS = {
    "requester_wrote_all": lambda rid: [note("K", rid, "n1"), note("K", rid, "n2")],
    "other_wrote_all": lambda rid: [note("K", AUTHOR, "n1")],
    "mixed": lambda rid: [note("K", rid, "n1"), note("K", AUTHOR, "n2")],
    "none": lambda rid: [],
}


def _notes_for(shape: str, kind: str, rid: str) -> list:
    out = []
    for n in AUTHORSHIPS[shape](rid):
        out.append(note(kind, n["author_id"], n["note_id"]))
    return out


def _request_changes():
    changed = []
    for role, purpose, kind, action, shape in itertools.product(ROLES, PURPOSES, KINDS, ACTIONS, AUTHORSHIPS):
        rid = "R-1"
        requester = {"id": rid, "role": role, "org": "Org"}
        request = {"purpose": purpose, "note_kind": kind, "action": action, "patient_id": "P-1",
                   "requester": requester, "facts": {"oversight_subject": AUTHOR}}
        notes = _notes_for(shape, kind, rid)
        old = outcome(old_disclosures_build_case(request, dict(requester), notes, None, AT))
        new = outcome(casefile.request_case(request, dict(requester), notes, None, AT))
        if old != new:
            changed.append((role, purpose, kind, action, shape, old, new))
    return changed


def _role_from_authorship(role: str, shape: str) -> str:
    """The clinician role the notes establish (the unified builder's one deliberate change)."""
    if role not in casefile.PRACTICE_CLINICIAN_ROLES:
        return role
    return "originator_clinician" if shape == "requester_wrote_all" else "clinician_same_practice"


def test_disclosure_outcomes_change_only_where_the_notes_establish_the_clinician_role():
    """A disclosure request's clinician role now follows the notes' authorship, as a read's always
    did: a self-declared originator of a colleague's notes no longer gets the originator's access
    (164.514(d)(2); 164.508(a)(2)), and the true author asking as a colleague gets the author's.
    Every changed outcome is exactly the old builder's outcome for the role the notes establish."""
    changed = _request_changes()
    assert changed, "the table should exercise the role correction"
    for role, purpose, kind, action, shape, _old, new in changed:
        assert role in casefile.PRACTICE_CLINICIAN_ROLES, (role, purpose, kind, action, shape)
        requester = {"id": "R-1", "role": _role_from_authorship(role, shape), "org": "Org"}
        request = {"purpose": purpose, "note_kind": kind, "action": action, "patient_id": "P-1",
                   "requester": requester, "facts": {"oversight_subject": AUTHOR}}
        corrected = outcome(old_disclosures_build_case(request, dict(requester), _notes_for(shape, kind, "R-1"),
                                                       None, AT))
        assert corrected == new, (role, purpose, kind, action, shape)


if __name__ == "__main__":  # pragma: no cover - a report of every changed case
    for row in _read_changes():
        print("READ", row)
    for row in _request_changes():
        print("REQUEST", row)

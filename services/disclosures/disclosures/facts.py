"""Reading the facts a decision needs from the event store, as of the decision time.

Only metadata leaves these readers: a note's id, patient, author, session date,
kind and -- for a psychotherapy note -- the *categories* of the 45 CFR 164.501
lint findings recorded for it (``content_in_psych_note``). Note text (or
ciphertext), and the findings' offsets, are never copied.

Everything here only reads: :func:`case_as_of` is the whole fact-gathering of a
decision (used by the workflow when it decides, and by re-judging to rebuild a
past decision's case file from the events known then).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator, Optional

from confide import streams
from confide.envelope import RecordedEvent

from disclosures.domain import model

NOTE_CATEGORIES = {
    streams.PROGRESS_NOTE: ("progress", "ProgressNoteDrafted"),
    streams.PSYCHOTHERAPY_NOTE: ("psychotherapy", "PsychotherapyNoteDrafted"),
}
NOTE_METADATA = ("note_id", "patient_id", "author_id", "session_date")
# Events of a psychotherapy note whose lint findings describe its current text, and its addenda.
TEXT_EVENTS = frozenset({"PsychotherapyNoteDrafted", "PsychotherapyNoteRevised"})
ADDENDUM_EVENT = "AddendumAdded"
# Facts about notes are established from the notes' own events, never taken from a requester.
NOTE_CONTENT_FACTS = ("content_in_psych_note", "content")
NOTE_ORIGINATOR_FACTS = ("originator", "note_originator", "originator_id", "author")
PAGE = 1000


def iter_category(store, category: str, as_of: Optional[datetime] = None) -> Iterator[RecordedEvent]:
    """Every committed event of a category recorded at or before ``as_of``, paging through the store.

    A decision keeps no checkpoint, so it reads every committed event (not only
    the subscribers' skip-free prefix): a note committed a moment ago is a fact on file.
    """
    position = 1
    while True:
        page = store.read_category(category, position, PAGE, prefix_only=False)
        for event in page:
            if as_of is None or event.recorded_at <= as_of:
                yield event
        if len(page) < PAGE:
            return
        position = page[-1].global_position + 1


def _categories(findings) -> set[str]:
    return {f["category"] for f in findings or () if isinstance(f, dict) and f.get("category")}


def _note_events(store, category: str, first_type: str, as_of: Optional[datetime],
                 patient_id: Optional[str]) -> Iterator[RecordedEvent]:
    if patient_id is None:
        yield from iter_category(store, category, as_of)
        return
    # One patient's notes through the store's patient index, not a scan of the practice's notes.
    for event in store.read_streams(store.find_streams_by_patient(patient_id, first_type)):
        if as_of is None or event.recorded_at <= as_of:
            yield event


def note_index(store, as_of: Optional[datetime] = None, patient_id: Optional[str] = None) -> list[dict]:
    """Metadata of every note drafted by ``as_of`` (only ``patient_id``'s when given).

    Each item: {note_id, patient_id, author_id, session_date, kind}; a psychotherapy note also has
    ``content_in_psych_note``: the sorted categories of the lint findings of its latest text
    (drafted or revised by ``as_of``) and of its addenda added by then.
    """
    notes = []
    for category, (kind, first_type) in NOTE_CATEGORIES.items():
        by_stream: dict[str, dict] = {}
        text_categories: dict[str, set] = {}
        addendum_categories: dict[str, set] = {}
        for event in _note_events(store, category, first_type, as_of, patient_id):
            name, data = event.stream_name, event.data
            if event.type == first_type:
                meta = {key: data.get(key) for key in NOTE_METADATA}
                meta["note_id"] = meta["note_id"] or streams.id_of(name)
                meta["kind"] = kind
                by_stream[name] = meta
                notes.append(meta)
            if kind != "psychotherapy":
                continue
            if event.type in TEXT_EVENTS:
                text_categories[name] = _categories(data.get("content_in_psych_note"))
            elif event.type == ADDENDUM_EVENT:
                addendum_categories.setdefault(name, set()).update(_categories(data.get("content_in_psych_note")))
        for name, meta in by_stream.items():
            if kind == "psychotherapy":
                found = text_categories.get(name, set()) | addendum_categories.get(name, set())
                meta["content_in_psych_note"] = sorted(found)
    return notes


def authorization_events(store, authorization_id: str) -> list[tuple[str, dict, datetime]]:
    name = streams.stream_name(streams.AUTHORIZATION, authorization_id)
    return [(e.type, e.data, e.recorded_at) for e in store.read_stream(name)]


def authorization_as_of(store, authorization_id: str, as_of: Optional[datetime]) -> model.AuthorizationState:
    return model.fold_authorization(authorization_id, authorization_events(store, authorization_id), as_of)


def authorizations_for_patient(store, patient_id: str, as_of: Optional[datetime]) -> list[model.AuthorizationState]:
    """Every authorization about ``patient_id`` on file at ``as_of``, folded as of then."""
    ids = [
        e.data["authorization_id"]
        for e in store.read_streams(store.find_streams_by_patient(patient_id, "AuthorizationRecorded"))
        if e.type == "AuthorizationRecorded" and (as_of is None or e.recorded_at <= as_of)
    ]
    return [authorization_as_of(store, i, as_of) for i in ids]


def authorization_for(store, request: dict, at: Optional[datetime]) -> Optional[model.AuthorizationState]:
    """The authorization a request relies on as known at ``at``: the one it names (None when not on
    file then), else the best fit among the patient's (``model.select_authorization``)."""
    if request.get("authorization_id"):
        found = authorization_as_of(store, request["authorization_id"], at)
        return found if found.exists else None
    candidates = authorizations_for_patient(store, request["patient_id"], at)
    return model.select_authorization(candidates, request["note_kind"], request["requester"].get("org"))


def build_case(request: dict, requester: dict, notes: list[dict], authorization: Optional[dict],
               decision_time: str) -> dict:
    """The engine's case file (see /work/shared/cases/README.md) from the facts on file.

    ``request``: the ``DisclosureRequested`` data; ``requester``: its requester with any
    verification applied; ``notes``: the matched notes' metadata (``note_index`` items);
    ``authorization``: case form or None. For a psychotherapy-note request,
    ``content_in_psych_note`` is the union of the matched notes' lint categories (164.501); such
    facts in the request's ``facts`` are ignored (they are the notes service's to establish).
    """
    requester = dict(requester)
    authors = {n.get("author_id") for n in notes}
    requester.setdefault("is_covered_entity", requester.get("role") in model.COVERED_ENTITY_ROLES)
    requester["is_originator"] = bool(notes) and authors == {requester.get("id")}
    case = {k: v for k, v in (request.get("facts") or {}).items()
            if k not in NOTE_CONTENT_FACTS and k not in NOTE_ORIGINATOR_FACTS}
    # The notes' originator is established from the notes (e.g. for 164.508(a)(2)(ii)'s "oversight
    # of the originator"), never taken from the requester.
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


@dataclass(frozen=True)
class CaseFile:
    """A decision's inputs: the engine's ``case``, the matched ``notes`` (metadata), the
    ``authorization`` relied on (AuthorizationState or None), and ``known_notes``: every note of
    the patient on file then (re-judging checks a recorded decision against it)."""

    case: dict
    notes: list
    authorization: Optional[model.AuthorizationState]
    known_notes: list = field(default_factory=list)


def case_as_of(store, request: dict, requester: dict, at: datetime) -> CaseFile:
    """Gather a request's case file from only the events recorded at or before ``at``.

    Reads only (no event is appended), so it serves the live decision and the re-judging of a
    past one alike. ``at`` is an aware datetime; it becomes the case's ``decision_time``.
    """
    known = note_index(store, at, patient_id=request["patient_id"])
    matched = model.matching_notes(known, request)
    authorization = authorization_for(store, request, at)
    case = build_case(request, requester, matched, authorization.case_form() if authorization else None,
                      model.fmt_ts(at))
    return CaseFile(case, matched, authorization, known)

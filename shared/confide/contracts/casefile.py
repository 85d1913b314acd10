"""The decision engine's case file, built one way for every decision Confide records.

The engine (:func:`confide.hipaa.engine.decide`) judges a *case file*: every fact a decision needs,
established (``../shared/cases/README.md``). Three callers build one: the notes service for a read
of one note, the disclosures service for a request, and audit's re-judging of both. They all build
it here, from the published events only:

- :func:`note_facts` folds one note's events into its metadata (:class:`NoteFacts`: id, patient,
  author, session date, kind, and for a psychotherapy or SUD counseling note the 45 CFR 164.501 lint
  *categories* of its current text and addenda; 42 CFR 2.11 excludes the same items); :func:`note_index` does so for a patient's notes as of an instant.
- :func:`authorization_for` reads the authorization a request relies on as it stood then.
- :func:`build_case` puts requester, request, notes and authorization into the engine's form.
  Facts about the notes (``is_originator``, ``note_originator``, ``content_in_psych_note``) come
  from the notes' own events, never from the requester.
- :func:`case_as_of` is a request's whole fact-gathering as of an instant (reads only), so a past
  decision is rebuilt exactly as the facts stood when it was made.

No note text or ciphertext is copied, and no lint finding's offsets: only categories.
The store is any object with the reader methods of :class:`EventReader`; the readers of requests and
authorizations accept only one that checks the disclosures service's seals (``seals(category)``:
:func:`confide.identity.directory_seal.SealedDisclosures`) and raise TypeError for any other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping, Optional, Protocol, Sequence, TypedDict

from confide import streams
from confide.contracts.authorizations import AuthorizationState, fold_authorization, select_authorization
from confide.contracts.notes import DRAFTED, PROGRESS, PSYCHOTHERAPY, SEALED_KINDS, SUD_COUNSELING, TEXT_EVENTS
from confide.timestamps import format_ts

PAGE = 1000

#: The note categories and their kinds.
NOTE_CATEGORIES = {streams.PROGRESS_NOTE: PROGRESS, streams.PSYCHOTHERAPY_NOTE: PSYCHOTHERAPY,
                   streams.SUD_COUNSELING_NOTE: SUD_COUNSELING}
KIND_CATEGORY = {kind: category for category, kind in NOTE_CATEGORIES.items()}

#: 164.501 "health plan" and health care providers are covered entities; other insurers are not.
COVERED_ENTITY_ROLES = frozenset({"insurer_health_plan", "external_clinician", "external_clinician_group"})
#: The two roles of a clinician of the practice; which one applies is computed from the notes' author.
PRACTICE_CLINICIAN_ROLES = ("originator_clinician", "clinician_same_practice")
#: Facts about notes that only the notes' own events establish; a request's ``facts`` cannot set them.
NOTE_CONTENT_FACTS = ("content_in_psych_note", "content")
NOTE_ORIGINATOR_FACTS = ("originator", "note_originator", "originator_id", "author")
#: Facts about the practice, from its configuration (``confide.config.practice``); a request's
#: ``facts`` cannot set them (an outside party choosing its own state law, or none).
PRACTICE_FACTS = ("jurisdiction", "practice_setting")
#: Whether a psychotherapy or SUD counseling note is kept apart from the rest of the record (45 CFR
#: 164.501; 42 CFR 2.11): the notes service keeps every such note in its own sealed stream, so a
#: request's ``facts`` never say otherwise (``stored_separately: false`` would decide the note as
#: ordinary record content, stripping 164.508(a)(2) and 42 CFR 2.31(b)); unknown keeps it protected.
NOTE_STORAGE_FACTS = ("stored_separately",)
CHANNEL_FIELDS = ("standard", "task_status", "pou", "claim")


class Recorded(Protocol):
    """What the case file reads of a recorded event."""

    stream_name: str
    type: str
    data: dict
    recorded_at: datetime
    global_position: int


class EventReader(Protocol):
    """The store reads fact-gathering needs (PostgresEventStore and InMemoryEventStore have them)."""

    def read_stream(self, stream_name: str) -> Sequence[Any]: ...
    def read_streams(self, stream_names: Sequence[str]) -> Sequence[Any]: ...
    def read_category(self, category: str, from_position: int = 1, limit: int = 1000, *,
                      prefix_only: bool = True) -> Sequence[Any]: ...
    def find_streams_by_patient(self, patient_id: str, event_type: str) -> list[str]: ...


class NoteFacts(TypedDict, total=False):
    """A note's metadata as a decision sees it (``content_in_psych_note`` for psychotherapy and SUD
    counseling notes)."""

    note_id: Optional[str]
    patient_id: Optional[str]
    author_id: Optional[str]
    session_date: Optional[str]
    kind: str
    content_in_psych_note: list


# -- notes -----------------------------------------------------------------------------------

def categories_of(findings) -> set[str]:
    """The 164.501 categories of lint findings ({category, start, end}); malformed ones are skipped."""
    return {f["category"] for f in findings or () if isinstance(f, dict) and f.get("category")}


def note_facts(kind: str, events: Iterable[tuple[str, dict]], note_id: Optional[str] = None) -> Optional[NoteFacts]:
    """Fold one note's (type, data) events into its :class:`NoteFacts`; None when not drafted.

    A psychotherapy or SUD counseling note's ``content_in_psych_note`` is the sorted categories of the
    findings of its latest text (drafted or revised) and of all its addenda.
    """
    facts: Optional[NoteFacts] = None
    text: set[str] = set()
    addenda: set[str] = set()
    for type_, data in events:
        if type_ == DRAFTED[kind]:
            facts = NoteFacts(note_id=data.get("note_id") or note_id, patient_id=data.get("patient_id"),
                              author_id=data.get("author_id"), session_date=data.get("session_date"), kind=kind)
        if kind not in SEALED_KINDS:
            continue
        if type_ in TEXT_EVENTS:
            text = categories_of(data.get("content_in_psych_note"))
        elif type_ == "AddendumAdded":
            addenda |= categories_of(data.get("content_in_psych_note"))
    if facts is not None and kind in SEALED_KINDS:
        facts["content_in_psych_note"] = sorted(text | addenda)
    return facts


#: The event types whose data :func:`note_facts` reads, by note kind; other events of a note are
#: folded as their type only (their data, a progress note's whole text among them, is not decoded).
FACT_TYPES = {PROGRESS: frozenset({DRAFTED[PROGRESS]}),
              **{kind: frozenset({DRAFTED[kind], *TEXT_EVENTS, "AddendumAdded"}) for kind in sorted(SEALED_KINDS)}}


def iter_category(store: EventReader, category: str, as_of: Optional[datetime] = None) -> Iterator[Any]:
    """Every committed event of a category recorded at or before ``as_of``, paging through the store.

    A decision keeps no checkpoint, so it reads every committed event (not only the subscribers'
    skip-free prefix): a note committed a moment ago is a fact on file.
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


def _note_events(store: EventReader, category: str, kind: str, as_of: Optional[datetime],
                 patient_id: Optional[str]) -> Iterator[Any]:
    if patient_id is None:
        yield from iter_category(store, category, as_of)
        return
    # One patient's notes through the store's patient index, not a scan of the practice's notes.
    for event in store.read_streams(store.find_streams_by_patient(patient_id, DRAFTED[kind])):
        if as_of is None or event.recorded_at <= as_of:
            yield event


def note_index(store: EventReader, as_of: Optional[datetime] = None,
               patient_id: Optional[str] = None, kinds: Optional[Iterable[str]] = None) -> list[NoteFacts]:
    """:class:`NoteFacts` of every note drafted by ``as_of`` (only ``patient_id``'s when given; only
    notes of ``kinds`` when given, so a kind not asked about costs no read), progress notes first,
    each kind in the order drafted."""
    wanted = None if kinds is None else frozenset(kinds)
    notes: list[NoteFacts] = []
    for category, kind in NOTE_CATEGORIES.items():
        if wanted is not None and kind not in wanted:
            continue
        by_stream: dict[str, list[tuple[str, dict]]] = {}
        read = FACT_TYPES[kind]
        for event in _note_events(store, category, kind, as_of, patient_id):
            by_stream.setdefault(event.stream_name, []).append(
                (event.type, event.data if event.type in read else {}))
        for name, events in by_stream.items():
            facts = note_facts(kind, events, streams.id_of(name))
            if facts is not None:
                notes.append(facts)
    return notes


def note_in_range(note: NoteFacts, date_from: Optional[str], date_to: Optional[str]) -> bool:
    session = (note.get("session_date") or "")[:10]
    if date_from and (not session or session < date_from[:10]):
        return False
    if date_to and (not session or session > date_to[:10]):
        return False
    return True


def matching_notes(notes: Iterable[NoteFacts], request: dict) -> list[NoteFacts]:
    """Notes of the request's patient and kind, within its period or among its explicit ids."""
    wanted = set(request.get("note_ids") or [])
    out = []
    for note in notes:
        if note.get("patient_id") != request["patient_id"] or note.get("kind") != request["note_kind"]:
            continue
        if wanted and note.get("note_id") not in wanted:
            continue
        if note_in_range(note, request.get("date_from"), request.get("date_to")):
            out.append(note)
    return sorted(out, key=lambda n: (n.get("session_date") or "", n.get("note_id") or ""))


# -- authorizations --------------------------------------------------------------------------

def require_sealed(store: Any, *categories: str) -> None:
    """Fail closed: the services' database login can append events, so requests and authorizations
    are believed only through a reader that checks the disclosures service's seal on ``categories``
    (:func:`confide.identity.directory_seal.SealedDisclosures`). Raises TypeError otherwise."""
    seals = getattr(store, "seals", None)
    if seals is None or not all(seals(c) for c in categories):
        raise TypeError("disclosure requests and authorizations are read only through "
                        "confide.identity.directory_seal.SealedDisclosures")


def authorization_as_of(store: EventReader, authorization_id: str, as_of: Optional[datetime]) -> AuthorizationState:
    """The authorization folded from the events recorded by ``as_of`` (``exists`` False when none).
    ``store`` must check the disclosures service's seals (TypeError otherwise): an event it did not
    seal is ignored, so a forged recording does not exist and a forged revocation does not revoke."""
    require_sealed(store, streams.AUTHORIZATION)
    name = streams.stream_name(streams.AUTHORIZATION, authorization_id)
    events = [(e.type, e.data, e.recorded_at) for e in store.read_stream(name)]
    return fold_authorization(authorization_id, events, as_of)


def authorizations_for_patient(store: EventReader, patient_id: str, as_of: Optional[datetime]) -> list[AuthorizationState]:
    """Every authorization about ``patient_id`` on file at ``as_of``, folded as of then (only those the
    disclosures service sealed; TypeError for a reader that does not check its seals)."""
    require_sealed(store, streams.AUTHORIZATION)
    recorded = store.read_streams(store.find_streams_by_patient(patient_id, "AuthorizationRecorded"))
    by_stream: dict[str, list[Any]] = {}
    for e in recorded:
        by_stream.setdefault(e.stream_name, []).append(e)
    ids = [
        e.data["authorization_id"] for e in recorded
        if e.type == "AuthorizationRecorded" and (as_of is None or e.recorded_at <= as_of)
    ]
    out = []
    for i in ids:
        # The streams just read are these authorizations' own (each opened by its AuthorizationRecorded):
        # fold what was read, through the same sealed reader, rather than reading each one again.
        own = by_stream.get(streams.stream_name(streams.AUTHORIZATION, i))
        if own is None:
            out.append(authorization_as_of(store, i, as_of))
        else:
            out.append(fold_authorization(i, [(e.type, e.data, e.recorded_at) for e in own], as_of))
    return out


def authorization_for(store: EventReader, request: dict, at: Optional[datetime]) -> Optional[AuthorizationState]:
    """The authorization a request relies on as known at ``at``: the one it names (None when not on
    file then), else the best fit among the patient's (:func:`select_authorization`). ``store`` must
    check the disclosures service's seals (TypeError otherwise)."""
    require_sealed(store, streams.AUTHORIZATION)
    if request.get("authorization_id"):
        found = authorization_as_of(store, request["authorization_id"], at)
        return found if found.exists else None
    candidates = authorizations_for_patient(store, request["patient_id"], at)
    return select_authorization(candidates, request["note_kind"], request["requester"].get("org"))


# -- the case file ---------------------------------------------------------------------------

def build_case(requester: dict, *, purpose: str, note_kind: str, action: str, patient_id: Optional[str],
               decision_time: str, notes: Sequence[NoteFacts], authorization: Optional[dict] = None,
               exception_claimed: Optional[str] = None, facts: Optional[dict] = None,
               channel: Optional[dict] = None, practice: Optional[Mapping[str, Any]] = None) -> dict:
    """The engine's case file (``../shared/cases/README.md``) from the facts on file.

    ``requester``: {id, role, org, ...established facts}; ``notes``: the notes decided on;
    ``authorization``: its case form or None; ``facts``: further case facts of the request
    (those about the notes are dropped: the notes' events establish them, and whether they are
    kept apart, :data:`NOTE_STORAGE_FACTS`); ``channel``: the
    request's channel (kept when it names a ``standard``).

    Computed from the notes, never taken from the caller: ``note_sessions`` (their session dates),
    ``requester.is_originator`` (the
    requester wrote every note), the clinician role that follows from it, ``note_originator``
    (the notes' one author, 164.508(a)(2)(ii)) and, for psychotherapy and SUD counseling notes, the
    union of their 164.501 content categories (42 CFR 2.11 excludes the same items). ``is_covered_entity`` defaults from the role (164.501).

    ``practice``: the practice's own facts (:func:`confide.config.practice`): its ``jurisdiction``
    and ``practice_setting`` (the state overlay the engine applies, 45 CFR 160.203(b)) go into the
    case as they are, whatever the request's ``facts`` say; ``part2_program`` sets the Part 2
    segregation flag ``record_is_part2`` on every record (42 CFR 2.11, 2.12). A request may flag a
    record as Part 2 (``record_is_part2: true``) but never unflag one.
    """
    requester = dict(requester)
    authors = {n.get("author_id") for n in notes}
    is_originator = bool(notes) and authors == {requester.get("id")}
    requester["is_originator"] = is_originator
    if requester.get("role") in PRACTICE_CLINICIAN_ROLES:
        requester["role"] = "originator_clinician" if is_originator else "clinician_same_practice"
    requester.setdefault("is_covered_entity", requester.get("role") in COVERED_ENTITY_ROLES)
    case = {k: v for k, v in (facts or {}).items()
            if k not in NOTE_CONTENT_FACTS + NOTE_ORIGINATOR_FACTS + PRACTICE_FACTS + NOTE_STORAGE_FACTS}
    if case.get("record_is_part2") is not True:
        case.pop("record_is_part2", None)
    practice = practice or {}
    for key in PRACTICE_FACTS:
        if practice.get(key):
            case[key] = practice[key]
    if practice.get("part2_program") is True:
        case["record_is_part2"] = True
    known_authors = {a for a in authors if a}
    if len(known_authors) == 1:
        case["note_originator"] = next(iter(known_authors))
    case.update({
        "requester": requester, "purpose": purpose, "note_kind": note_kind, "action": action,
        "patient": patient_id, "decision_time": decision_time, "authorization": authorization,
        "exception_claimed": exception_claimed,
        # The sessions decided on, so an authorization describing sessions by date is checked against
        # them (164.508(a)(1), (c)(1)(i)); computed from the notes, never taken from the caller's facts.
        "note_sessions": sorted((n.get("session_date") or "")[:10] for n in notes),
    })
    if note_kind in SEALED_KINDS:
        case["content_in_psych_note"] = sorted({c for n in notes for c in n.get("content_in_psych_note") or ()})
    channel = channel or {}
    if channel.get("standard"):
        case["channel"] = {k: channel.get(k) for k in CHANNEL_FIELDS}
    return case


def read_case(note: NoteFacts, requester: dict, purpose: str, action: str, decision_time: str,
              exception_claimed: Optional[str] = None, *, practice: Optional[Mapping[str, Any]] = None) -> dict:
    """The case file of a read of one note (the notes service's reads, and their re-judging)."""
    return build_case(requester, purpose=purpose, note_kind=note["kind"], action=action,
                      patient_id=note["patient_id"], decision_time=decision_time, notes=[note],
                      exception_claimed=exception_claimed, practice=practice)


def request_case(request: dict, requester: dict, notes: Sequence[NoteFacts], authorization: Optional[dict],
                 decision_time: str, *, practice: Optional[Mapping[str, Any]] = None) -> dict:
    """The case file of a disclosure request (``DisclosureRequested`` data) for ``requester``
    (its requester with any verification applied)."""
    return build_case(requester, purpose=request["purpose"], note_kind=request["note_kind"],
                      action=request["action"], patient_id=request["patient_id"], decision_time=decision_time,
                      notes=notes, authorization=authorization, exception_claimed=request.get("exception_claimed"),
                      facts=request.get("facts"), channel=request.get("channel"), practice=practice)


@dataclass(frozen=True)
class CaseFile:
    """A decision's inputs: the engine's ``case``, the matched ``notes``, the ``authorization`` relied
    on (or None), and ``known_notes``: every note of the patient on file then (re-judging checks a
    recorded decision against it)."""

    case: dict
    notes: list
    authorization: Optional[AuthorizationState]
    known_notes: list = field(default_factory=list)


def case_as_of(store: EventReader, request: dict, requester: dict, at: datetime, *,
               practice: Optional[Mapping[str, Any]] = None, requested_kind_only: bool = False) -> CaseFile:
    """Gather a request's case file from only the events recorded at or before ``at``.

    Reads only (nothing is appended), so it serves the live decision and the re-judging of a past
    one alike. ``at`` is an aware datetime; it becomes the case's ``decision_time``. ``store`` must
    check the disclosures service's seals on requests and authorizations (TypeError otherwise).
    ``practice``: the practice's own facts (:func:`build_case`).
    ``requested_kind_only``: index only the notes of the request's ``note_kind`` (the only ones
    :func:`matching_notes` can match, so the case is the same); ``known_notes`` then holds those
    alone. Re-judging leaves it off: it checks a recorded decision's note ids against every note.
    """
    require_sealed(store, streams.DISCLOSURE_REQUEST, streams.AUTHORIZATION)
    known = note_index(store, at, patient_id=request["patient_id"],
                       kinds=(request["note_kind"],) if requested_kind_only else None)
    matched = matching_notes(known, request)
    authorization = authorization_for(store, request, at)
    case = request_case(request, requester, matched, authorization.case_form() if authorization else None,
                        format_ts(at), practice=practice)
    return CaseFile(case, matched, authorization, known)

"""Use cases of the notes service: load the stream, fold, decide, (seal), append.

Collaborators arrive as parameters: ``store`` (the event-store contract),
``keyring`` (:class:`notes.crypto.Keyring`), ``clock`` (-> aware datetime),
``lint`` (text -> findings, :func:`confide.hipaa.lint.lint`) and ``engine``
(case dict -> Outcome, :func:`confide.hipaa.engine.decide`). Payloads are the
dicts the schemas loaded plus who acts (``author``, ``signed_by``, ``requester``,
``decided_for``, ...), which the service builds from the call's verified principal
and nothing else; replies are JSON-safe dicts.

Logs carry stream names, event types and positions only (never text).
"""
from __future__ import annotations

import dataclasses
import logging
import uuid

from confide import config, keys
from confide.contracts.access import EmergencyAccessReviewed, EmergencyAccessTaken
from confide.contracts.casefile import iter_category, read_case
from confide.contracts.notes import DRAFTED
from confide.envelope import NewEvent
from confide.eventstore.errors import WrongExpectedVersionError
from confide.streams import (
    ACCESS_DECISION,
    ACCESS_REQUEST,
    EMERGENCY_ACCESS,
    PROGRESS_NOTE,
    PSYCHOTHERAPY_NOTE,
    SUD_COUNSELING_NOTE,
    id_of,
    stream_name,
)
from confide.streams import id_of as stream_id
from confide.timestamps import format_ts, parse_ts
from notes import views
from notes.crypto import aad_for
from notes.domain import commands as c
from notes.domain import errors
from notes.domain import model as m
from notes.domain.events import AccessDecided, ContentReleased, Event, from_stored
from notes.schemas import dump_content
from notes.wire import Sealer

log = logging.getLogger(__name__)

CATEGORY = {m.PROGRESS: PROGRESS_NOTE, m.PSYCHOTHERAPY: PSYCHOTHERAPY_NOTE, m.SUD_COUNSELING: SUD_COUNSELING_NOTE}
PERMITS = views.PERMITS


# -- plumbing ---------------------------------------------------------------------------

def load_note(store, note_id: str, as_of=None) -> tuple[m.Note, list]:
    """The folded note and its recorded events; with ``as_of`` (aware datetime) only the events
    recorded by then (the note as it stood at that instant). Raises NoteNotFoundError."""
    for kind, category in CATEGORY.items():
        recorded = store.read_stream(stream_name(category, note_id))
        if as_of is not None:
            recorded = [r for r in recorded if r.recorded_at <= as_of]
        if recorded:
            return m.fold(m.Note(note_id, kind), [from_stored(r.type, r.data) for r in recorded]), recorded
    raise errors.NoteNotFoundError(f"note {note_id} not found")


def load_notes(store, note_ids: list[str], as_of=None) -> dict[str, tuple[m.Note, list]]:
    """:func:`load_note` of each of ``note_ids`` (those not on file are left out), read in one query
    (``read_streams`` of every category's stream of each id) instead of one or two per note."""
    names = {(note_id, kind): stream_name(category, note_id) for note_id in note_ids
             for kind, category in CATEGORY.items()}
    by_stream: dict[str, list] = {}
    for r in store.read_streams(list(names.values())):
        if as_of is None or r.recorded_at <= as_of:
            by_stream.setdefault(r.stream_name, []).append(r)
    out: dict[str, tuple[m.Note, list]] = {}
    for note_id in note_ids:
        for kind in CATEGORY:  # the first kind with events by ``as_of``, as load_note
            recorded = sorted(by_stream.get(names[(note_id, kind)], ()), key=lambda r: r.stream_version)
            if recorded:
                out[note_id] = (m.fold(m.Note(note_id, kind), [from_stored(r.type, r.data) for r in recorded]),
                                recorded)
                break
    return out


def _fresh(store, note_id: str, kind: str) -> m.Note:
    try:
        load_note(store, note_id)
    except errors.NoteNotFoundError:
        return m.Note(note_id, kind)
    raise errors.NoteExistsError(f"note {note_id} already exists")


def _append(store, stream: str, expected: int, events: list[Event], sealed_id: uuid.UUID | None = None):
    new = [NewEvent(ev.type, ev.to_data(), event_id=sealed_id if i == 0 and sealed_id else uuid.uuid4())
           for i, ev in enumerate(events)]
    result = store.append(stream, new, expected_version=expected)
    log.info("appended %s to %s at positions %s", [ev.type for ev in events], stream, result.global_positions)
    return result


def _seal_first(keyring, stream: str, state: m.Note, events: list[Event], text: str):
    # The first decided event carries the text: bind its ciphertext to (stream, version, event id).
    event_id = uuid.uuid4()
    sealed = keyring.seal(state.note_id, text, aad_for(stream, state.version + 1, event_id))
    return [m.with_sealed(events[0], sealed)] + events[1:], event_id


def _spans(findings) -> list[dict]:
    # Categories and offsets only: a finding's text is part of the note's text.
    return [{"category": f.category, "start": f.start, "end": f.end} for f in findings]


def _findings_reply(findings) -> list[dict]:
    return [{"category": f.category, "start": f.start, "end": f.end, "suggestion": f.suggestion} for f in findings]


def _note_reply(state: m.Note, events: list[Event]) -> dict:
    return {"note_id": state.note_id, "kind": state.kind, "events": [ev.type for ev in events]}


def _run(store, state: m.Note, command: c.Command) -> dict:
    events = m.decide(state, command)
    _append(store, stream_name(CATEGORY[state.kind], state.note_id), state.version, events)
    return _note_reply(state, events)


def _author(payload: dict) -> dict:
    a = payload["author"]
    return {"patient_id": payload["patient_id"], "author_id": a["id"], "author_role": a["role"],
            "author_credentials": a["credentials"], "supervisor_id": payload["supervisor_id"]}


# -- writing ----------------------------------------------------------------------------

def write_progress_note(store, clock, payload: dict) -> dict:
    """Draft a progress note (+ LateEntryFlagged when documented after the session day)."""
    content = dump_content(payload["content"])
    state = _fresh(store, payload["note_id"], m.PROGRESS)
    command = c.WriteProgressNote(payload["note_id"], session_date=content["session_date"], content=content,
                                  now=clock(), **_author(payload))
    return _run(store, state, command)


def write_psychotherapy_note(store, keyring, clock, lint, payload: dict) -> dict:
    """Draft a psychotherapy note: lint, seal, append. Reply carries findings without their text."""
    findings = lint(payload["text"])
    state = _fresh(store, payload["note_id"], m.PSYCHOTHERAPY)
    command = c.WritePsychotherapyNote(payload["note_id"], session_date=payload["session_date"].isoformat(),
                                       content_in_psych_note=_spans(findings), now=clock(), **_author(payload))
    return _write_sealed(store, keyring, state, command, payload["text"], findings)


def write_sud_counseling_note(store, keyring, clock, lint, payload: dict, *, part2_program: bool) -> dict:
    """Draft a Part 2 program's SUD counseling note (42 CFR 2.11, as amended in 2024): linted, sealed
    and kept in its own stream, apart from the chart, as a psychotherapy note is; its reads and
    disclosures are decided with ``note_kind: sud_counseling`` (2.31(b): only a consent naming them).
    ``part2_program``: the practice's configuration (:func:`confide.config.practice`).
    Raises NotAPart2ProgramError (naming ``note_kind``) outside a Part 2 program, before the text is
    linted or anything is written; NoteExistsError."""
    m.require_part2_program(part2_program)  # decide checks it too; first, so the text is not even linted
    state = _fresh(store, payload["note_id"], m.SUD_COUNSELING)
    findings = lint(payload["text"])
    command = c.WriteSudCounselingNote(payload["note_id"], session_date=payload["session_date"].isoformat(),
                                       content_in_psych_note=_spans(findings), now=clock(),
                                       part2_program=part2_program, **_author(payload))
    return _write_sealed(store, keyring, state, command, payload["text"], findings)


def _write_sealed(store, keyring, state: m.Note, command: c.Command, text: str, findings) -> dict:
    stream = stream_name(CATEGORY[state.kind], state.note_id)
    events, event_id = _seal_first(keyring, stream, state, m.decide(state, command), text)
    _append(store, stream, state.version, events, event_id)
    return {**_note_reply(state, events), "findings": _findings_reply(findings)}


def revise_note(store, keyring, clock, lint, payload: dict) -> dict:
    """Revise a draft: ``content`` for progress notes, ``text`` for psychotherapy and SUD counseling notes."""
    state, _ = load_note(store, payload["note_id"])
    if state.kind == m.PROGRESS:
        content = dump_content(payload["content"]) if payload.get("content") else None
        return _run(store, state, c.ReviseNote(state.note_id, payload["revised_by"], clock(), content))
    if not payload.get("text"):
        raise errors.ValidationError(f"text: required to revise a {state.kind} note", {"text": ["required"]})
    findings = lint(payload["text"])
    events = m.decide(state, c.ReviseNote(state.note_id, payload["revised_by"], clock(), None, _spans(findings)))
    stream = stream_name(CATEGORY[state.kind], state.note_id)
    events, event_id = _seal_first(keyring, stream, state, events, payload["text"])
    _append(store, stream, state.version, events, event_id)
    return {**_note_reply(state, events), "findings": _findings_reply(findings)}


def sign_note(store, clock, payload: dict) -> dict:
    """Sign (and lock) a note. Raises NoteSignedError, NotAuthorError, NoteNotFoundError."""
    state, _ = load_note(store, payload["note_id"])
    return _run(store, state, c.SignNote(state.note_id, payload["signed_by"], clock()))


def cosign_note(store, clock, payload: dict) -> dict:
    """Supervisor's co-signature of a trainee's signed note. Raises CosignNotApplicableError."""
    state, _ = load_note(store, payload["note_id"])
    return _run(store, state, c.CosignNote(state.note_id, payload["cosigned_by"], clock()))


def add_addendum(store, keyring, clock, lint, payload: dict) -> dict:
    """A separate entry linked to a signed note (sealed for psychotherapy and SUD counseling notes)."""
    state, _ = load_note(store, payload["note_id"])
    if state.kind == m.PROGRESS:
        return _run(store, state, c.AddAddendum(state.note_id, payload["addendum_id"], payload["author_id"],
                                                clock(), payload["text"]))
    findings = lint(payload["text"])
    command = c.AddAddendum(state.note_id, payload["addendum_id"], payload["author_id"], clock(), None,
                            _spans(findings))
    stream = stream_name(CATEGORY[state.kind], state.note_id)
    events, event_id = _seal_first(keyring, stream, state, m.decide(state, command), payload["text"])
    _append(store, stream, state.version, events, event_id)
    return {**_note_reply(state, events), "addendum_id": payload["addendum_id"],
            "findings": _findings_reply(findings)}


# -- amendment (45 CFR 164.526) ----------------------------------------------------------

def request_amendment(store, clock, payload: dict) -> dict:
    """The individual's request (164.526(b)). Raises AmendmentNotApplicableError for psychotherapy notes."""
    state, _ = load_note(store, payload["note_id"])
    command = c.RequestAmendment(state.note_id, payload["amendment_id"], payload["patient_id"],
                                 payload["requested_change"], payload["reason"], clock())
    return {**_run(store, state, command), "amendment_id": payload["amendment_id"]}


def accept_amendment(store, clock, payload: dict) -> dict:
    """Accept (164.526(c)): AmendmentAccepted + ProgressNoteAmended, linked by amendment_id."""
    state, _ = load_note(store, payload["note_id"])
    command = c.AcceptAmendment(state.note_id, payload["amendment_id"], payload["decided_by"],
                                dump_content(payload["content"]), clock())
    return {**_run(store, state, command), "amendment_id": payload["amendment_id"]}


def deny_amendment(store, clock, payload: dict) -> dict:
    """Deny in writing on a 164.526(a)(2) ground (164.526(d)(1))."""
    state, _ = load_note(store, payload["note_id"])
    command = c.DenyAmendment(state.note_id, payload["amendment_id"], payload["decided_by"], payload["ground"],
                              payload["denial_statement"], clock())
    return {**_run(store, state, command), "amendment_id": payload["amendment_id"]}


def extend_amendment_deadline(store, clock, payload: dict) -> dict:
    """The one 30-day extension of 164.526(b)(2)(ii), with a written statement, within the 60 days."""
    state, _ = load_note(store, payload["note_id"])
    command = c.ExtendAmendmentDeadline(state.note_id, payload["amendment_id"], payload["extended_by"],
                                        payload["statement"], clock())
    events = m.decide(state, command)
    _append(store, stream_name(CATEGORY[state.kind], state.note_id), state.version, events)
    return {**_note_reply(state, events), "amendment_id": payload["amendment_id"], "due_at": events[0].due_at}


def get_amendment_request(store, payload: dict) -> dict:
    """One amendment request and its note's metadata (no note content). Raises NoteNotFoundError,
    AmendmentNotFoundError."""
    state, _ = load_note(store, payload["note_id"])
    amendment = state.amendment(payload["amendment_id"])
    return {"note_id": state.note_id, "patient_id": state.patient_id, "author_id": state.author_id,
            "session_date": state.session_date, "kind": state.kind,
            "amendment": views.amendment_view(amendment)}


#: An open amendment request due within this many days is flagged "due soon".
DUE_SOON_DAYS = 10


def amendment_requests(store, clock, payload: dict) -> dict:
    """Every amendment request on file (164.526), metadata and deadlines only (no requested change,
    reason or note content: those are read through ``read_note``): open ones first, soonest due
    first, each flagged ``overdue`` / ``due_soon``; with ``open_only`` only those not yet decided."""
    now = clock()
    note_ids = list(dict.fromkeys(id_of(ev.stream_name) for ev in iter_category(store, PROGRESS_NOTE)
                                  if ev.type == "AmendmentRequested"))
    rows = []
    for note_id in note_ids:
        state, _ = load_note(store, note_id)
        for a in state.amendments:
            is_open = a.status == "requested"
            if payload["open_only"] and not is_open:
                continue
            due = parse_ts(a.due_at)
            rows.append({
                "amendment_id": a.amendment_id, "note_id": state.note_id, "patient_id": state.patient_id,
                "author_id": state.author_id, "session_date": state.session_date, "status": a.status,
                "requested_at": a.requested_at, "due_at": a.due_at, "extended": a.extended,
                "decided_at": a.decided_at, "decided_by": a.decided_by, "ground": a.ground,
                "overdue": is_open and now > due,
                "due_soon": is_open and now <= due and (due - now).days < DUE_SOON_DAYS,
                "days_left": (due - now).days if is_open else None,
            })
    opened = sorted((r for r in rows if r["status"] == "requested"), key=lambda r: r["due_at"])
    closed = sorted((r for r in rows if r["status"] != "requested"), key=lambda r: r["decided_at"] or "",
                    reverse=True)
    return {"as_of": format_ts(now), "amendments": opened + closed}


def append_disagreement(store, clock, payload: dict) -> dict:
    """Append the individual's statement of disagreement to a denied amendment (164.526(d)(1)(iii))."""
    state, _ = load_note(store, payload["note_id"])
    command = c.AppendDisagreement(state.note_id, payload["amendment_id"], payload["statement"], clock())
    return {**_run(store, state, command), "amendment_id": payload["amendment_id"]}


# -- access decisions --------------------------------------------------------------------

def decide_access(store, engine, clock, note: m.Note, requester: dict, purpose: str, action: str = "use",
                  exception_claimed: str | None = None, request_id: str | None = None, *,
                  key_dir, decided_for: dict | None = None, decision_id: str | None = None) -> AccessDecided:
    """Ask the engine and record AccessDecided (new stream, expected_version -1) before anything leaves.
    ``decided_for``: :func:`confide.identity.requester.decision_identity` of the principal asking.
    ``decision_id``: the id to record it under (default a new one); when that stream already exists
    the store raises WrongExpectedVersionError and nothing is recorded (see :func:`read_note`).

    The event carries ``seal`` (HMAC under ``decision.key`` in ``key_dir``). Any store or key error
    propagates: a decision that cannot be sealed and recorded releases nothing (fail closed).
    """
    now = format_ts(clock())
    case = read_case(note.facts(), requester, purpose, action, now, exception_claimed, practice=config.practice())
    try:
        outcome = engine(case).to_dict()
    except ValueError as exc:  # the engine's CaseFileError: the requester facts do not make a case
        raise errors.ValidationError(f"requester: {exc}", {"requester": [str(exc)]}) from None
    # Recorded with the supervision fact when the service established it, so a re-judging sees it too.
    recorded_requester = {k: case["requester"][k] for k in ("id", "role", "org")}
    if requester.get("supervises_author") is True:
        recorded_requester["supervises_author"] = True
    decided = AccessDecided(
        decision_id or str(uuid.uuid4()), recorded_requester, purpose, action,
        note.patient_id, note.note_id, note.kind, note.author_id, outcome["decision"], str(outcome.get("rule") or ""),
        list(outcome.get("citations") or []), outcome.get("fields_released"), now, request_id,
        note_ids=[note.note_id], decided_for=decided_for)
    decided = dataclasses.replace(decided, seal=keys.seal_decision(key_dir, decided.to_data()))
    _append(store, stream_name(ACCESS_DECISION, decided.decision_id), -1, [decided])
    return decided


def _decision_reply(d: AccessDecided) -> dict:
    return {"decision_id": d.decision_id, "decision": d.decision, "rule": d.rule, "citations": d.citations,
            "fields_released": d.fields_released}


def _deny(d: AccessDecided) -> errors.AccessDeniedError:
    return errors.AccessDeniedError(
        f"access to note {d.note_id} not permitted ({d.decision}; {d.rule}); decision {d.decision_id} recorded",
        d.decision_id, d.rule)


# -- reading -----------------------------------------------------------------------------

#: Namespace of the decision ids of reads made with a request id (uuid5 of the request id).
_READ_NS = uuid.UUID("6f0e2f7c-93d4-4f0b-9a51-0c1d3b7e8a21")


def read_decision_id(request_id: str) -> str:
    """The decision id of the read made with ``request_id``: the caller's request id is the read's
    idempotency key, so a redelivered or retried call lands on the same ``accessDecision-`` stream."""
    return str(uuid.uuid5(_READ_NS, f"read_note:{request_id}"))


def _stored_read(store, decision_id: str, payload: dict, key_dir) -> AccessDecided:
    """The sealed AccessDecided already recorded for this read's request id, when it was made for
    the same principal, note and purpose; else RequestIdConflictError (nothing released). A stream
    holding no sealed decision of ours fails closed (AccessDeniedError)."""
    recorded = store.read_stream(stream_name(ACCESS_DECISION, decision_id))
    first = [r for r in recorded if r.type == "AccessDecided"][:1]
    if not first or str(first[0].data.get("decision_id")) != decision_id \
            or not keys.verify_decision(key_dir, first[0].data, first[0].data.get("seal")):
        log.warning("refused read %s: its decision stream holds no sealed decision", decision_id)
        raise errors.AccessDeniedError(f"decision {decision_id} is not a sealed decision of this practice; "
                                       "nothing released", decision_id)
    stored = from_stored(first[0].type, first[0].data)
    if not isinstance(stored, AccessDecided):  # pragma: no cover - from_stored maps the type to the class
        raise errors.AccessDeniedError(f"decision {decision_id} cannot be read; nothing released", decision_id)
    mine = (payload.get("decided_for") or {}).get("subject")
    same = (str(stored.requester.get("id")) == str(payload["requester"]["id"])
            and (stored.decided_for or {}).get("subject") == mine
            and stored.note_id == str(payload["note_id"]) and stored.purpose == payload["purpose"])
    if not same:
        log.warning("refused read: request id of decision %s reused by another principal or request", decision_id)
        raise errors.RequestIdConflictError(
            f"request id {payload['request_id']} was already used for another read (another principal, "
            "note or purpose); nothing decided or released: use a new request id")
    log.info("read %s redelivered: returning recorded decision %s", payload["request_id"], decision_id)
    return stored


def read_note(store, keyring, engine, clock, payload: dict, *, key_dir) -> dict:
    """Decide, record, then release what the decision allows; psychotherapy text and excerpts only
    sealed to ``payload["reply_public_key"]`` (without one such a read raises ValidationError naming
    it, after the decision is recorded and before anything leaves). Raises AccessDeniedError,
    NoteNotFoundError.

    With a ``request_id`` the read happens once: its decision is recorded under
    :func:`read_decision_id` at expected version -1, so a redelivered, retried or concurrent call
    with the same id finds the stream taken and returns the recorded decision (and the note as it
    stood when decided, through the same release path) instead of deciding again; the same id from
    another principal, for another note or purpose raises RequestIdConflictError."""
    state, recorded = load_note(store, payload["note_id"])
    request_id = payload.get("request_id")
    decision_id = read_decision_id(str(request_id)) if request_id else None
    try:
        decided = decide_access(store, engine, clock, state, payload["requester"], payload["purpose"],
                                exception_claimed=payload["exception_claimed"], request_id=request_id,
                                key_dir=key_dir, decided_for=payload.get("decided_for"), decision_id=decision_id)
    except WrongExpectedVersionError:
        if decision_id is None:
            raise
        decided = _stored_read(store, decision_id, payload, key_dir)
        if decided.decision in PERMITS:
            state, recorded = load_note(store, payload["note_id"], as_of=views.decided_at(decided.to_data()))
    if decided.decision not in PERMITS:
        raise _deny(decided)
    seal = Sealer(payload.get("reply_public_key"), decided.decision_id)
    note = views.released_for_read(state, recorded, keyring, decided, payload["presentation"], seal)
    return {"decision": _decision_reply(decided), "note": note}


# -- emergency ("break-the-glass") access -------------------------------------------------

def take_emergency_access(store, keyring, engine, clock, payload: dict, *, key_dir) -> dict:
    """A clinician's emergency read of one note under a claimed exception (``m.EMERGENCY_CLAIMS``)
    with a stated reason. The engine decides as for any read (AccessDecided recorded, sealed); then
    EmergencyAccessTaken is appended to ``emergencyAccess-<decision_id>``, whatever the decision, so
    every emergency access is queued for the privacy officer's review before anything leaves. A
    denial stays a denial (AccessDeniedError). -> read_note's reply + ``emergency_access_id``."""
    state, recorded = load_note(store, payload["note_id"])
    claim = m.EMERGENCY_CLAIMS[payload["claim"]]
    decided = decide_access(store, engine, clock, state, payload["requester"], claim["purpose"],
                            exception_claimed=claim["citation"], key_dir=key_dir,
                            decided_for=payload.get("decided_for"))
    taken = EmergencyAccessTaken(decided.decision_id, state.note_id, state.patient_id, state.kind,
                                 dict(decided.requester), payload["claim"], claim["citation"], payload["reason"],
                                 decided.decision, decided.rule, decided.decided_at)
    _append(store, stream_name(EMERGENCY_ACCESS, decided.decision_id), -1, [taken])
    if decided.decision not in PERMITS:
        raise _deny(decided)
    seal = Sealer(payload.get("reply_public_key"), decided.decision_id)
    note = views.released_for_read(state, recorded, keyring, decided, payload.get("presentation"), seal)
    return {"decision": _decision_reply(decided), "note": note, "emergency_access_id": decided.decision_id}


def _emergency_row(events: list) -> dict:
    taken = next(ev.data for ev in events if ev.type == "EmergencyAccessTaken")
    review = next((ev.data for ev in events if ev.type == "EmergencyAccessReviewed"), None)
    return {**{k: taken[k] for k in ("decision_id", "note_id", "patient_id", "note_kind", "claim",
                                     "exception_claimed", "reason", "decision", "rule", "taken_at")},
            "requester_id": taken["requester"].get("id"), "requester_role": taken["requester"].get("role"),
            "reviewed": review is not None,
            "review": {k: review[k] for k in ("outcome", "comment", "reviewed_by", "reviewed_at")} if review else None}


def emergency_access_queue(store, payload: dict) -> dict:
    """Every emergency access (oldest first), with who, when, the claim, the reason, the decision and
    its rule, and its review; with ``open_only`` only those not yet reviewed."""
    streams: dict[str, list] = {}
    for ev in iter_category(store, EMERGENCY_ACCESS):
        streams.setdefault(ev.stream_name, []).append(ev)
    rows = [_emergency_row(events) for events in streams.values()
            if any(ev.type == "EmergencyAccessTaken" for ev in events)]
    if payload["open_only"]:
        rows = [r for r in rows if not r["reviewed"]]
    return {"emergency_accesses": rows}


def review_emergency_access(store, clock, payload: dict) -> dict:
    """Record the privacy officer's review (once; not by the person who took the access).
    Raises EmergencyAccessNotFoundError, EmergencyAccessStateError."""
    stream = stream_name(EMERGENCY_ACCESS, payload["decision_id"])
    events = store.read_stream(stream)
    if not any(ev.type == "EmergencyAccessTaken" for ev in events):
        raise errors.EmergencyAccessNotFoundError(f"no emergency access recorded under decision {payload['decision_id']}")
    row = _emergency_row(events)
    if row["reviewed"]:
        raise errors.EmergencyAccessStateError(f"emergency access {payload['decision_id']} was already reviewed")
    if row["requester_id"] == payload["reviewed_by"]:
        raise errors.EmergencyAccessStateError(
            f"emergency access {payload['decision_id']}: its reviewer must not be the person who took it")
    reviewed = EmergencyAccessReviewed(payload["decision_id"], payload["outcome"], payload["comment"],
                                       payload["reviewed_by"], format_ts(clock()))
    # expected version: the stream as read (one review only, even when two officers race)
    _append(store, stream, len(events) - 1, [reviewed])
    return {**row, "reviewed": True, "review": {k: getattr(reviewed, k) for k in
                                                ("outcome", "comment", "reviewed_by", "reviewed_at")}}


def list_notes(store, engine, clock, payload: dict, *, key_dir) -> dict:
    """Every note of the patient (of ``payload["kinds"]``, when given), each decided and recorded;
    denied ones are omitted (but recorded). The reply says nothing about omitted notes, not even how
    many: their existence is not disclosed. Notes of another kind are neither decided nor recorded."""
    listed = []
    kinds = tuple(payload.get("kinds") or tuple(CATEGORY))
    for note_id in views.note_ids_of_patient(store, payload["patient_id"], kinds=kinds):
        state, _ = load_note(store, note_id)
        decided = decide_access(store, engine, clock, state, payload["requester"], payload["purpose"],
                                exception_claimed=payload["exception_claimed"], key_dir=key_dir,
                                decided_for=payload.get("decided_for"))
        if decided.decision in PERMITS:
            listed.append({**views.summary(state), "decision_id": decided.decision_id})
    return {"patient_id": payload["patient_id"], "notes": listed}


def my_notes(store, payload: dict) -> dict:
    """The notes ``payload["author_id"]`` drafted, newest session first: metadata only (no content,
    no text), so no access decision is needed or recorded; each note's content is read through
    :func:`read_note`."""
    rows = [views.worklist_row(state) for state in views.notes_by_author(store, payload["author_id"])]
    rows.sort(key=lambda r: (r["session_date"], r["drafted_at"]), reverse=True)
    return {"author_id": payload["author_id"], "notes": rows}


def lint_text(lint, payload: dict) -> dict:
    """Findings for a draft text (categories, spans, suggestions; never the text)."""
    return {"findings": _findings_reply(lint(payload["text"]))}


def review_queue(store, supervisor_id: str, supervisees: list[str]) -> list[dict]:
    """Metadata of the signed notes naming ``supervisor_id`` as supervisor, written by one of
    ``supervisees``, not yet co-signed; oldest signature first. Reads the drafted events to find
    candidates, then folds only those notes (no text is opened)."""
    if not supervisees:
        return []
    wanted = set(supervisees)
    queue = []
    for kind, category in CATEGORY.items():
        names = [e.stream_name for e in iter_category(store, category)
                 if e.type == DRAFTED[kind] and e.data.get("supervisor_id") == supervisor_id
                 and e.data.get("author_id") in wanted]
        for name in names:
            state, _ = load_note(store, stream_id(name))
            if state.awaiting_cosign and state.author_id in wanted:
                queue.append({"note_id": state.note_id, "patient_id": state.patient_id, "kind": state.kind,
                              "author": state.author_id, "session_date": state.session_date,
                              "signed_at": state.signed_at})
    return sorted(queue, key=lambda n: (n["signed_at"] or "", n["note_id"]))


def release_fields(store, keyring, clock, payload: dict, *, key_dir, loaded: tuple[dict, list] | None = None) -> dict:
    """Exactly the ``fields_released`` of a recorded, sealed permit decision, for the notes it names,
    as they stood at its ``decided_at``; ``ContentReleased`` (names only) is appended to the
    decision's stream before anything is returned (if it cannot be recorded, nothing is).
    Psychotherapy excerpts (and text, for ``full_note``) leave only sealed to
    ``payload["reply_public_key"]``; without one such a release raises ValidationError naming it
    and nothing is recorded as released or returned.

    Raises AccessDeniedError when no such decision exists, its seal is missing or wrong, it does
    not permit, it names none of / not this note, or a note is not about its patient.

    ``payload["recipient"]`` (the service's verified caller: a payer's org, else the subject) is
    recorded as ``released_to``; a redelivered or repeated release of the same notes to the same
    recipient under the same decision appends no second ContentReleased.

    ``loaded``: what ``views.load_decision_events`` returned for ``payload["decision_id"]`` in this
    call (the service checked the recipient against it), so the stream is not read again.
    """
    decision, recorded_decision = loaded or views.load_decision_events(store, payload["decision_id"], key_dir)
    if (decision.get("request_id") or None) != (payload.get("request_id") or None):
        # A decision id is not a bearer token: it releases only to the request it was made for.
        log.warning("refused decision %s for request %s: made for another request", payload["decision_id"],
                    payload.get("request_id"))
        raise errors.AccessDeniedError(
            f"decision {payload['decision_id']} was not made for request {payload.get('request_id')}; "
            "nothing released",
            payload["decision_id"], decision.get("rule"))
    as_of = views.decided_at(decision)
    for note_id in payload["note_ids"]:
        views.check_named(decision, note_id)
    decided_fields = list(decision.get("fields_released") or [])
    out, released = [], []
    seal = Sealer(payload.get("reply_public_key"), str(payload["decision_id"]))
    notes = load_notes(store, payload["note_ids"], as_of=as_of)
    for note_id in payload["note_ids"]:
        if note_id not in notes:
            raise errors.AccessDeniedError(
                f"decision {payload['decision_id']}: note {note_id} was not on file when it was decided; "
                "nothing released", payload["decision_id"], decision.get("rule"))
        state, recorded = notes[note_id]
        views.check_patient(decision, state)
        fields = views.release(state, recorded, keyring, decided_fields, seal)
        released += [name for name in fields if name not in released]
        out.append({"note_id": note_id, "kind": state.kind, "fields": fields,
                    "withheld": views.withheld(state, decided_fields)})
    event = ContentReleased(str(payload["decision_id"]), [n["note_id"] for n in out], released, format_ts(clock()),
                            released_to=payload.get("recipient"))
    _record_release_once(store, event, recorded_decision)
    return {"decision_id": payload["decision_id"], "fields_released": decision.get("fields_released"),
            "notes": out}


def _record_release_once(store, event: ContentReleased, recorded: list | None = None) -> None:
    """Append ``event`` to its decision's stream unless that stream already records the release of
    the same notes to the same recipient (a redelivered or retried ``release_fields``). Appended at
    the version just read (``recorded``: the stream as this call read it already, else read now), so
    two concurrent deliveries cannot both append: the loser re-reads and finds the winner's."""
    stream = stream_name(ACCESS_DECISION, event.decision_id)
    while True:
        if recorded is None:
            recorded = store.read_stream(stream)
        for r in recorded:
            if (r.type == "ContentReleased" and r.data.get("released_to") == event.released_to
                    and sorted(r.data.get("note_ids") or []) == sorted(event.note_ids)):
                log.info("release under decision %s already recorded at %s", event.decision_id, r.global_position)
                return
        try:
            _append(store, stream, recorded[-1].stream_version if recorded else -1, [event])
            return
        except WrongExpectedVersionError:
            recorded = None  # someone appended since: read it again
            continue


# -- right of access (45 CFR 164.524) ----------------------------------------------------

def load_request(store, request_id: str) -> m.AccessRequest:
    """The right-of-access request ``request_id`` as folded (``exists`` False when never received)."""
    return _load_request(store, request_id)


def _load_request(store, request_id: str) -> m.AccessRequest:
    recorded = store.read_stream(stream_name(ACCESS_REQUEST, request_id))
    return m.fold(m.AccessRequest(request_id), [from_stored(r.type, r.data) for r in recorded])


def _run_request(store, state: m.AccessRequest, command: c.Command) -> dict:
    events = m.decide(state, command)
    _append(store, stream_name(ACCESS_REQUEST, state.request_id), state.version, events)
    return _request_reply(m.fold(state, events))


def request_record_access(store, clock, payload: dict) -> dict:
    """Record receipt of a 164.524 request; due 30 days after receipt (164.524(b)(2)(i))."""
    state = _load_request(store, payload["request_id"])
    return _run_request(store, state, c.ReceiveAccessRequest(
        state.request_id, payload["patient_id"], payload["requested_by"], clock()))


def extend_record_access(store, clock, payload: dict) -> dict:
    """The one 30-day extension, with its written reason (164.524(b)(2)(iii))."""
    state = _load_request(store, payload["request_id"])
    return _run_request(store, state, c.ExtendAccessRequest(state.request_id, payload["reason"], clock()))


def _request_reply(state: m.AccessRequest) -> dict:
    return {"request_id": state.request_id, "patient_id": state.patient_id, "received_at": state.received_at,
            "due_at": state.due_at, "extended": state.extended, "fulfilled_at": state.fulfilled_at}


def export_designated_record_set(store, engine, clock, payload: dict, *, key_dir) -> dict:
    """The patient's signed progress notes with addenda and amendments; never psychotherapy notes
    (164.524(a)(1)(i)); never a draft (the author has not yet made it part of the record; once signed it
    is in the next copy).

    The first export fulfils the request (AccessRequestFulfilled). The individual may have it again
    as often as they like under the same request (164.524(c): the copy they have a right to): a later
    export decides and records each note anew (AccessDecided with this ``request_id``) and gives the
    record as it stands now (accepted amendments and addenda included), leaving the request fulfilled
    as it was. Before this, a second fetch went through ``release_fields`` under the first decision,
    whose ``fields_released`` is the engine's description of the set, which maps to no field: every
    note came back with empty fields."""
    request = _load_request(store, payload["request_id"])
    if not request.exists:
        raise errors.AccessRequestNotFoundError(f"access request {request.request_id} not found")
    views.check_individual(payload["requester"], request)
    notes = []
    for note_id in views.note_ids_of_patient(store, request.patient_id, kinds=(m.PROGRESS,)):
        state, recorded = load_note(store, note_id)
        if not state.signed:  # a draft is not yet part of the record the individual has a right to
            continue
        decided = decide_access(store, engine, clock, state, payload["requester"], "individual_access",
                                action="disclose", request_id=request.request_id, key_dir=key_dir,
                                decided_for=payload.get("decided_for"))
        if decided.decision in PERMITS:
            notes.append(views.note_view(state, recorded, None, None))
    if request.fulfilled_at:  # a later copy under the same request: decided and recorded above
        return {**_request_reply(request), "notes": notes}
    reply = _run_request(store, request, c.FulfilAccessRequest(
        request.request_id, [n["note_id"] for n in notes], clock()))
    return {**reply, "notes": notes}

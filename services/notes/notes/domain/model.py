"""Notes and right-of-access requests as folds of their events; decisions as pure functions.

``evolve(state, event) -> state`` folds one event; ``decide(state, command) ->
list[Event]`` checks the rules (raising a domain error before any event
exists) and returns the events to append. Both are pure: the handler supplies
the clock reading in the command and does the I/O and the encryption.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Callable

from confide.contracts.casefile import NoteFacts, categories_of

# The note kinds, named here for the service.
from confide.contracts.notes import NOTE_KINDS, PROGRESS, PSYCHOTHERAPY, SEALED_KINDS, SUD_COUNSELING  # noqa: F401
from confide.timestamps import format_ts, parse_ts
from notes.domain import commands as c
from notes.domain import errors
from notes.domain import events as e

TRAINEE = "trainee"

#: 164.526(a)(2): the grounds on which an amendment may be denied.
DENIAL_GROUNDS = {
    "not_created_by_covered_entity": "45 CFR 164.526(a)(2)(i)",
    "not_part_of_designated_record_set": "45 CFR 164.526(a)(2)(ii)",
    "not_available_for_inspection": "45 CFR 164.526(a)(2)(iii)",
    "accurate_and_complete": "45 CFR 164.526(a)(2)(iv)",
}
PSYCH_AMENDMENT_CITATION = (
    "45 CFR 164.526(a)(2)(iii) with 164.524(a)(1)(i): psychotherapy notes are excluded from the "
    "right of access, so they are not subject to amendment"
)
SUD_AMENDMENT_CITATION = (
    "42 CFR 2.11, 2.31(b): SUD counseling notes are kept apart from the record and protected as "
    "psychotherapy notes are (45 CFR 164.526(a)(2)(iii) with 164.524(a)(1)(i)), so they are not subject "
    "to amendment; the author adds an addendum"
)
#: 42 CFR 2.11 (as amended in 2024): only a Part 2 program's SUD or mental-health professional writes
#: SUD counseling notes; the practice says whether it is one (CONFIDE_PRACTICE_PART2_PROGRAM).
PART2_PROGRAM_SETTING = "CONFIDE_PRACTICE_PART2_PROGRAM"
#: 164.526(b)(2): act on an amendment request within 60 days of receipt; (b)(2)(ii) one extension of at
#: most 30 days with a written statement of the reasons and the date by which it will act.
AMENDMENT_DEADLINE = timedelta(days=60)
AMENDMENT_EXTENSION = timedelta(days=30)
#: What a clinician may claim for an emergency ("break-the-glass") read of a note: the purpose the
#: engine decides for and the citation it is given. The engine decides; a denial stays a denial,
#: and every such read is queued for the privacy officer's review.
EMERGENCY_CLAIMS = {
    "treatment": {"purpose": "treatment", "citation": "45 CFR 164.506(c)(1); 164.508(a)(2)(i)(A)",
                  "label": "Urgent treatment of the patient (164.506(c)(1))"},
    "serious_threat": {"purpose": "serious_threat", "citation": "45 CFR 164.512(j)(1)(i)",
                       "label": "Serious and imminent threat to health or safety (164.512(j)(1)(i))"},
    "required_by_law": {"purpose": "required_by_law", "citation": "45 CFR 164.512(a)",
                        "label": "Required by law (164.512(a))"},
}
#: 164.524(b)(2): act within 30 days of receipt, one extension of at most 30 days with a written reason.
ACCESS_DEADLINE = timedelta(days=30)
ACCESS_EXTENSION = timedelta(days=30)


# -- state --------------------------------------------------------------------------

@dataclass(frozen=True)
class Addendum:
    addendum_id: str
    author_id: str
    added_at: str
    text: str | None
    sealed_version: int | None
    content_in_psych_note: tuple = ()


@dataclass(frozen=True)
class Amendment:
    amendment_id: str
    status: str  # requested | accepted | denied
    requested_change: str
    reason: str
    requested_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    ground: str | None = None
    citation: str | None = None
    denial_statement: str | None = None
    disagreement: str | None = None
    amended_revision: int | None = None
    due_at: str = ""  # 164.526(b)(2): 60 days from receipt, or the extended date
    extended: bool = False
    extension_statement: str | None = None


@dataclass(frozen=True)
class Note:
    """A note folded from its stream. ``version`` is the stream version (-1: no such note)."""

    note_id: str
    kind: str
    version: int = -1
    patient_id: str = ""
    author_id: str = ""
    author_role: str = ""
    author_credentials: str = ""
    supervisor_id: str | None = None
    session_date: str = ""
    drafted_at: str = ""
    revision: int = 0
    content: dict | None = None  # progress notes: the structured record
    text_version: int | None = None  # sealed kinds: stream version of the current sealed text
    content_in_psych_note: tuple = ()
    late_entry: bool = False
    signed: bool = False
    signed_by: str | None = None
    signed_at: str | None = None
    cosign_required: bool = False
    cosigned_by: str | None = None
    cosigned_at: str | None = None
    addenda: tuple = ()
    amendments: tuple = ()

    @property
    def exists(self) -> bool:
        return self.version >= 0

    @property
    def sealed(self) -> bool:
        """Its text is sealed and kept apart from the chart (psychotherapy, SUD counseling)."""
        return self.kind in SEALED_KINDS

    @property
    def awaiting_cosign(self) -> bool:
        return self.signed and self.cosign_required and self.cosigned_by is None

    @property
    def status(self) -> str:
        if not self.exists:
            return "absent"
        if not self.signed:
            return "draft"
        return "awaiting_cosign" if self.awaiting_cosign else "signed"

    def facts(self) -> NoteFacts:
        """What a decision knows of this note (:class:`confide.contracts.casefile.NoteFacts`): no content,
        and for a psychotherapy or SUD counseling note only the 164.501 categories of its text and addenda."""
        facts = NoteFacts(note_id=self.note_id, patient_id=self.patient_id, author_id=self.author_id,
                          session_date=self.session_date, kind=self.kind)
        if self.sealed:
            spans = list(self.content_in_psych_note) + [s for a in self.addenda for s in a.content_in_psych_note]
            facts["content_in_psych_note"] = sorted(categories_of(spans))
        return facts

    def amendment(self, amendment_id: str) -> Amendment:
        for a in self.amendments:
            if a.amendment_id == amendment_id:
                return a
        raise errors.AmendmentNotFoundError(f"amendment {amendment_id} not found on note {self.note_id}")


@dataclass(frozen=True)
class AccessRequest:
    request_id: str
    version: int = -1
    patient_id: str = ""
    requested_by: str = ""
    received_at: str = ""
    due_at: str = ""
    extended: bool = False
    extension_reason: str | None = None
    fulfilled_at: str | None = None

    @property
    def exists(self) -> bool:
        return self.version >= 0


# -- evolve ----------------------------------------------------------------------------

def _drafted(s: Note, ev) -> Note:
    psych = isinstance(ev, (e.PsychotherapyNoteDrafted, e.SudCounselingNoteDrafted))
    return replace(
        s, patient_id=ev.patient_id, author_id=ev.author_id, author_role=ev.author_role,
        author_credentials=ev.author_credentials, supervisor_id=ev.supervisor_id,
        session_date=ev.session_date, drafted_at=ev.drafted_at, revision=1,
        content=None if psych else dict(ev.content),
        text_version=s.version + 1 if psych else None,
        content_in_psych_note=tuple(ev.content_in_psych_note) if psych else (),
        cosign_required=ev.author_role == TRAINEE,
    )


def _revised(s: Note, ev) -> Note:
    if isinstance(ev, (e.PsychotherapyNoteRevised, e.SudCounselingNoteRevised)):
        return replace(s, revision=ev.revision, text_version=s.version + 1,
                       content_in_psych_note=tuple(ev.content_in_psych_note))
    return replace(s, revision=ev.revision, content=dict(ev.content))


def _signed(s: Note, ev) -> Note:
    return replace(s, signed=True, signed_by=ev.signed_by, signed_at=ev.signed_at,
                   cosign_required=ev.cosign_required)


def _cosigned(s: Note, ev) -> Note:
    return replace(s, cosigned_by=ev.cosigned_by, cosigned_at=ev.cosigned_at)


def _addendum(s: Note, ev: e.AddendumAdded) -> Note:
    add = Addendum(ev.addendum_id, ev.author_id, ev.added_at, ev.text,
                   s.version + 1 if ev.sealed else None, tuple(ev.content_in_psych_note))
    return replace(s, addenda=s.addenda + (add,))


def _replace_amendment(s: Note, amendment_id: str, **changes) -> Note:
    return replace(s, amendments=tuple(
        replace(a, **changes) if a.amendment_id == amendment_id else a for a in s.amendments))


_NOTE_FOLDS = {
    e.ProgressNoteDrafted: _drafted,
    e.PsychotherapyNoteDrafted: _drafted,
    e.ProgressNoteRevised: _revised,
    e.PsychotherapyNoteRevised: _revised,
    e.ProgressNoteSigned: _signed,
    e.PsychotherapyNoteSigned: _signed,
    e.ProgressNoteCosigned: _cosigned,
    e.PsychotherapyNoteCosigned: _cosigned,
    e.SudCounselingNoteDrafted: _drafted,
    e.SudCounselingNoteRevised: _revised,
    e.SudCounselingNoteSigned: _signed,
    e.SudCounselingNoteCosigned: _cosigned,
    e.LateEntryFlagged: lambda s, ev: replace(s, late_entry=True),
    e.AddendumAdded: _addendum,
    e.AmendmentRequested: lambda s, ev: replace(s, amendments=s.amendments + (Amendment(
        ev.amendment_id, "requested", ev.requested_change, ev.reason, ev.requested_at,
        due_at=format_ts(parse_ts(ev.requested_at) + AMENDMENT_DEADLINE)),)),
    e.AmendmentDeadlineExtended: lambda s, ev: _replace_amendment(
        s, ev.amendment_id, extended=True, extension_statement=ev.statement, due_at=ev.due_at),
    e.AmendmentAccepted: lambda s, ev: _replace_amendment(
        s, ev.amendment_id, status="accepted", decided_by=ev.decided_by, decided_at=ev.decided_at,
        amended_revision=ev.amended_revision, citation=ev.citation),
    e.ProgressNoteAmended: lambda s, ev: replace(s, revision=ev.revision, content=dict(ev.content)),
    e.AmendmentDenied: lambda s, ev: _replace_amendment(
        s, ev.amendment_id, status="denied", decided_by=ev.decided_by, decided_at=ev.decided_at,
        ground=ev.ground, citation=ev.citation, denial_statement=ev.denial_statement),
    e.DisagreementStatementAppended: lambda s, ev: _replace_amendment(
        s, ev.amendment_id, disagreement=ev.statement),
}

_REQUEST_FOLDS = {
    e.AccessRequestReceived: lambda s, ev: replace(
        s, patient_id=ev.patient_id, requested_by=ev.requested_by, received_at=ev.received_at, due_at=ev.due_at),
    e.AccessRequestExtended: lambda s, ev: replace(
        s, extended=True, extension_reason=ev.reason, due_at=ev.due_at),
    e.AccessRequestFulfilled: lambda s, ev: replace(s, fulfilled_at=ev.fulfilled_at),
}


def evolve(state, event: e.Event):
    """Fold one event into a Note or AccessRequest; every event bumps ``version``."""
    folds = _REQUEST_FOLDS if isinstance(state, AccessRequest) else _NOTE_FOLDS
    fold = folds.get(type(event))
    new = fold(state, event) if fold else state
    return replace(new, version=state.version + 1)


def fold(state, events) -> Note | AccessRequest:
    for event in events:
        state = evolve(state, event)
    return state


# -- guards ----------------------------------------------------------------------------

def _require_note(s: Note) -> None:
    if not s.exists:
        raise errors.NoteNotFoundError(f"note {s.note_id} not found")


def _require_unsigned(s: Note) -> None:
    _require_note(s)
    if s.signed:
        raise errors.NoteSignedError(
            f"note {s.note_id} is signed and locked; add an addendum instead")


def _require_signed(s: Note, step: str) -> None:
    _require_note(s)
    if not s.signed:
        raise errors.NoteNotSignedError(f"note {s.note_id} must be signed before {step}")


def _require_author(s: Note, who: str, step: str) -> None:
    if who != s.author_id:
        raise errors.NotAuthorError(f"only the author of note {s.note_id} may {step} it")


def _require_progress(s: Note) -> None:
    _require_note(s)
    if s.kind == PSYCHOTHERAPY:
        raise errors.AmendmentNotApplicableError(
            f"note {s.note_id} is a psychotherapy note: {PSYCH_AMENDMENT_CITATION}")
    if s.kind == SUD_COUNSELING:
        raise errors.AmendmentNotApplicableError(
            f"note {s.note_id} is a SUD counseling note: {SUD_AMENDMENT_CITATION}")


def _late_entry(note_id: str, session_date: str, now: datetime) -> list[e.Event]:
    days = (now.astimezone(timezone.utc).date() - date.fromisoformat(session_date)).days
    if days < 0:
        raise errors.ValidationError("session_date: must not be in the future",
                                     {"session_date": ["must not be in the future"]})
    return [e.LateEntryFlagged(note_id, session_date, format_ts(now), days)] if days > 0 else []


LATE_ENTRY_REASON_KEPT = "a revision keeps the late entry's stated reason (it may be reworded, not removed)"


def _keep_late_reason(s: Note, content: dict) -> None:
    """A late entry is flagged whatever its author says (``LateEntryFlagged``, dated when written, for
    the session it documents: the record shows it was not contemporaneous); the reason, where the
    author gives one (``content.late_entry_reason``), is part of the record and a revision of the draft
    cannot remove it. The reason is the practice's documentation policy, not a condition of writing the
    note: a late note without one is still the better record than none."""
    had = str((s.content or {}).get("late_entry_reason") or "").strip()
    if s.late_entry and had and not str(content.get("late_entry_reason") or "").strip():
        raise errors.ValidationError(f"content.late_entry_reason: {LATE_ENTRY_REASON_KEPT}",
                                     {"content.late_entry_reason": [LATE_ENTRY_REASON_KEPT]})


def _check_supervisor(role: str, supervisor_id: str | None) -> None:
    if role == TRAINEE and not supervisor_id:
        raise errors.ValidationError("supervisor_id: required when the author is a trainee",
                                     {"supervisor_id": ["required when the author is a trainee"]})


# -- decide ----------------------------------------------------------------------------

#: The event each step appends, by note kind.
DRAFTED = {PSYCHOTHERAPY: e.PsychotherapyNoteDrafted, SUD_COUNSELING: e.SudCounselingNoteDrafted}
REVISED = {PSYCHOTHERAPY: e.PsychotherapyNoteRevised, SUD_COUNSELING: e.SudCounselingNoteRevised}
SIGNED = {PROGRESS: e.ProgressNoteSigned, PSYCHOTHERAPY: e.PsychotherapyNoteSigned,
          SUD_COUNSELING: e.SudCounselingNoteSigned}
COSIGNED = {PROGRESS: e.ProgressNoteCosigned, PSYCHOTHERAPY: e.PsychotherapyNoteCosigned,
            SUD_COUNSELING: e.SudCounselingNoteCosigned}


def _write_progress(s: Note, cmd: c.WriteProgressNote) -> list[e.Event]:
    if s.exists:
        raise errors.NoteExistsError(f"note {cmd.note_id} already exists")
    _check_supervisor(cmd.author_role, cmd.supervisor_id)
    late = _late_entry(cmd.note_id, cmd.session_date, cmd.now)
    return [e.ProgressNoteDrafted(
        cmd.note_id, cmd.patient_id, cmd.author_id, cmd.author_role, cmd.author_credentials,
        cmd.supervisor_id, cmd.session_date, dict(cmd.content), format_ts(cmd.now))] + late


def _write_psych(s: Note, cmd: c.WritePsychotherapyNote | c.WriteSudCounselingNote) -> list[e.Event]:
    # The first event carries the text; the handler seals it (``sealed`` is a placeholder here).
    if s.exists:
        raise errors.NoteExistsError(f"note {cmd.note_id} already exists")
    _check_supervisor(cmd.author_role, cmd.supervisor_id)
    late = _late_entry(cmd.note_id, cmd.session_date, cmd.now)
    return [DRAFTED[s.kind](
        cmd.note_id, cmd.patient_id, cmd.author_id, cmd.author_role, cmd.author_credentials,
        cmd.supervisor_id, cmd.session_date, {}, list(cmd.content_in_psych_note), format_ts(cmd.now))] + late


def require_part2_program(part2_program: bool) -> None:
    """42 CFR 2.11 (as amended in 2024): SUD counseling notes are notes of a Part 2 program's SUD or
    mental-health professional, so only a Part 2 program writes them. Raises NotAPart2ProgramError
    naming ``note_kind`` and the setting when ``part2_program`` is not True."""
    if part2_program is not True:
        raise errors.NotAPart2ProgramError(
            "note_kind: sud_counseling notes are kept only by a 42 CFR Part 2 program (42 CFR 2.11); "
            f"this practice is not configured as one ({PART2_PROGRAM_SETTING}); nothing written",
            {"note_kind": ["sud_counseling notes need a 42 CFR Part 2 program "
                           f"({PART2_PROGRAM_SETTING})"]})


def _write_sud(s: Note, cmd: c.WriteSudCounselingNote) -> list[e.Event]:
    require_part2_program(cmd.part2_program)  # refused before any event exists
    return _write_psych(s, cmd)


def _revise(s: Note, cmd: c.ReviseNote) -> list[e.Event]:
    _require_unsigned(s)
    _require_author(s, cmd.revised_by, "revise")
    if s.sealed:
        return [REVISED[s.kind](s.note_id, s.revision + 1, {}, list(cmd.content_in_psych_note),
                                cmd.revised_by, format_ts(cmd.now))]
    if not cmd.content:
        raise errors.ValidationError("content: required to revise a progress note", {"content": ["required"]})
    if str(cmd.content.get("session_date", s.session_date)) != s.session_date:  # the schema requires it
        # The session a note documents is fixed when it is drafted (and with it whether it is a late entry).
        raise errors.ValidationError(
            f"content.session_date: a revision keeps the note's session date ({s.session_date}); "
            "write a new note for another session", {"content.session_date": ["must not change"]})
    _keep_late_reason(s, cmd.content)
    return [e.ProgressNoteRevised(s.note_id, s.revision + 1, dict(cmd.content), cmd.revised_by, format_ts(cmd.now))]


def _sign(s: Note, cmd: c.SignNote) -> list[e.Event]:
    _require_unsigned(s)
    _require_author(s, cmd.signed_by, "sign")
    return [SIGNED[s.kind](s.note_id, s.revision, cmd.signed_by, format_ts(cmd.now), s.cosign_required, s.supervisor_id)]


def _cosign(s: Note, cmd: c.CosignNote) -> list[e.Event]:
    _require_signed(s, "co-signature")
    if not s.awaiting_cosign:
        raise errors.CosignNotApplicableError(f"note {s.note_id} does not await a co-signature")
    if cmd.cosigned_by != s.supervisor_id:
        raise errors.CosignNotApplicableError(f"only the named supervisor may co-sign note {s.note_id}")
    return [COSIGNED[s.kind](s.note_id, cmd.cosigned_by, format_ts(cmd.now))]


def _addendum_decide(s: Note, cmd: c.AddAddendum) -> list[e.Event]:
    _require_signed(s, "an addendum")
    if cmd.author_id not in (s.author_id, s.supervisor_id):
        raise errors.NotAuthorError(
            f"only the author of note {s.note_id} or the author's supervisor on it may add an addendum")
    if any(a.addendum_id == cmd.addendum_id for a in s.addenda):
        raise errors.ValidationError("addendum_id: already used on this note", {"addendum_id": ["already used"]})
    if s.sealed:
        return [e.AddendumAdded(s.note_id, cmd.addendum_id, cmd.author_id, format_ts(cmd.now), None, {},
                                list(cmd.content_in_psych_note))]
    if not cmd.text:
        raise errors.ValidationError("text: required", {"text": ["required"]})
    return [e.AddendumAdded(s.note_id, cmd.addendum_id, cmd.author_id, format_ts(cmd.now), cmd.text)]


def _request_amendment(s: Note, cmd: c.RequestAmendment) -> list[e.Event]:
    _require_progress(s)
    if cmd.patient_id != s.patient_id:
        raise errors.ValidationError("patient_id: the note is not about this patient",
                                     {"patient_id": ["not the note's patient"]})
    if any(a.amendment_id == cmd.amendment_id for a in s.amendments):
        raise errors.ValidationError("amendment_id: already used", {"amendment_id": ["already used"]})
    return [e.AmendmentRequested(s.note_id, cmd.amendment_id, cmd.patient_id, cmd.requested_change,
                                 cmd.reason, format_ts(cmd.now))]


def _pending(s: Note, amendment_id: str) -> Amendment:
    _require_progress(s)
    amendment = s.amendment(amendment_id)
    if amendment.status != "requested":
        raise errors.AmendmentStateError(f"amendment {amendment_id} was already {amendment.status}")
    return amendment


def _accept(s: Note, cmd: c.AcceptAmendment) -> list[e.Event]:
    _pending(s, cmd.amendment_id)
    revision = s.revision + 1
    return [e.AmendmentAccepted(s.note_id, cmd.amendment_id, cmd.decided_by, format_ts(cmd.now), revision),
            e.ProgressNoteAmended(s.note_id, cmd.amendment_id, revision, dict(cmd.content), format_ts(cmd.now))]


def _deny(s: Note, cmd: c.DenyAmendment) -> list[e.Event]:
    _pending(s, cmd.amendment_id)
    if cmd.ground not in DENIAL_GROUNDS:
        raise errors.ValidationError(
            f"ground: must be one of {sorted(DENIAL_GROUNDS)} (45 CFR 164.526(a)(2))", {"ground": ["invalid"]})
    if not cmd.denial_statement.strip():
        raise errors.ValidationError("denial_statement: a written denial is required (45 CFR 164.526(d)(1))",
                                     {"denial_statement": ["required"]})
    return [e.AmendmentDenied(s.note_id, cmd.amendment_id, cmd.ground, DENIAL_GROUNDS[cmd.ground],
                              cmd.denial_statement, cmd.decided_by, format_ts(cmd.now))]


def _extend_amendment(s: Note, cmd: c.ExtendAmendmentDeadline) -> list[e.Event]:
    amendment = _pending(s, cmd.amendment_id)
    if amendment.extended:
        raise errors.AmendmentStateError(
            f"amendment {cmd.amendment_id}: only one extension is allowed (45 CFR 164.526(b)(2)(ii))")
    if cmd.now > parse_ts(amendment.due_at):
        raise errors.AmendmentStateError(
            f"amendment {cmd.amendment_id}: the extension must be given within the 60 days "
            "(45 CFR 164.526(b)(2)(ii))")
    if not cmd.statement.strip():
        raise errors.ValidationError(
            "statement: a written statement of the reasons for the delay is required (45 CFR 164.526(b)(2)(ii))",
            {"statement": ["required"]})
    due = format_ts(parse_ts(amendment.due_at) + AMENDMENT_EXTENSION)
    return [e.AmendmentDeadlineExtended(s.note_id, cmd.amendment_id, cmd.statement, cmd.extended_by,
                                        format_ts(cmd.now), due)]


def _disagree(s: Note, cmd: c.AppendDisagreement) -> list[e.Event]:
    _require_progress(s)
    amendment = s.amendment(cmd.amendment_id)
    if amendment.status != "denied" or amendment.disagreement is not None:
        raise errors.AmendmentStateError(
            f"amendment {cmd.amendment_id}: a statement of disagreement follows one denial (164.526(d)(1)(iii))")
    return [e.DisagreementStatementAppended(s.note_id, cmd.amendment_id, cmd.statement, format_ts(cmd.now))]


def _receive(s: AccessRequest, cmd: c.ReceiveAccessRequest) -> list[e.Event]:
    if s.exists:
        raise errors.AccessRequestStateError(f"access request {cmd.request_id} already received")
    return [e.AccessRequestReceived(cmd.request_id, cmd.patient_id, cmd.requested_by, format_ts(cmd.now),
                                    format_ts(cmd.now + ACCESS_DEADLINE))]


def _require_open(s: AccessRequest) -> None:
    if not s.exists:
        raise errors.AccessRequestNotFoundError(f"access request {s.request_id} not found")
    if s.fulfilled_at:
        raise errors.AccessRequestStateError(f"access request {s.request_id} is already fulfilled")


def _extend(s: AccessRequest, cmd: c.ExtendAccessRequest) -> list[e.Event]:
    _require_open(s)
    if s.extended:
        raise errors.AccessRequestStateError(
            f"access request {s.request_id}: only one extension is allowed (45 CFR 164.524(b)(2)(iii))")
    if cmd.now > parse_ts(s.due_at):
        raise errors.AccessRequestStateError(
            f"access request {s.request_id}: the extension must be given within the first 30 days "
            "(45 CFR 164.524(b)(2)(iii))")
    if not cmd.reason.strip():
        raise errors.ValidationError("reason: a written reason is required (45 CFR 164.524(b)(2)(iii)(A))",
                                     {"reason": ["required"]})
    return [e.AccessRequestExtended(s.request_id, cmd.reason, format_ts(cmd.now),
                                    format_ts(parse_ts(s.due_at) + ACCESS_EXTENSION))]


def _fulfil(s: AccessRequest, cmd: c.FulfilAccessRequest) -> list[e.Event]:
    _require_open(s)
    return [e.AccessRequestFulfilled(s.request_id, format_ts(cmd.now), list(cmd.note_ids),
                                     cmd.now <= parse_ts(s.due_at))]


_DECIDERS: dict[type, Callable[..., list[e.Event]]] = {
    c.WriteProgressNote: _write_progress,
    c.WritePsychotherapyNote: _write_psych,
    c.WriteSudCounselingNote: _write_sud,
    c.ReviseNote: _revise,
    c.SignNote: _sign,
    c.CosignNote: _cosign,
    c.AddAddendum: _addendum_decide,
    c.RequestAmendment: _request_amendment,
    c.AcceptAmendment: _accept,
    c.DenyAmendment: _deny,
    c.AppendDisagreement: _disagree,
    c.ExtendAmendmentDeadline: _extend_amendment,
    c.ReceiveAccessRequest: _receive,
    c.ExtendAccessRequest: _extend,
    c.FulfilAccessRequest: _fulfil,
}


def decide(state, command: c.Command) -> list[e.Event]:
    """The events ``command`` produces on ``state``; raises a NotesError subclass when refused."""
    return _DECIDERS[type(command)](state, command)


def with_sealed(event: e.Event, sealed: dict) -> e.Event:
    """The same event carrying the sealed text (the handler's step after encryption)."""
    return dataclasses.replace(event, **{"sealed": sealed})  # drafted, revised and addendum events have it

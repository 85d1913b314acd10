"""Events of a note's stream, published: the notes service writes them; disclosures (fact
gathering), audit (projections, as-of, re-judging) read them.

Streams: ``progressNote-<note_id>``, ``psychotherapyNote-<note_id>`` and
``sudCounselingNote-<note_id>`` (a 42 CFR Part 2 program's SUD counseling notes, 2.11 as amended in
2024: Part 2's counterpart of psychotherapy notes, kept apart from the rest of the record the same
way). Timestamps are RFC 3339 UTC strings (:func:`confide.timestamps.format_ts`) and dates ISO
``YYYY-MM-DD``. Psychotherapy and SUD counseling text never appears here: ``sealed`` holds
``{ciphertext, nonce, data_key_id, alg}`` (base64) and ``content_in_psych_note`` holds 45 CFR 164.501
lint findings as ``{category, start, end}`` only (2.11 excludes the same items from SUD counseling
notes as 164.501 does from psychotherapy notes, so the same lint applies).
Versioning: :mod:`confide.contracts.base`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from confide.contracts.base import Event, registry

PROGRESS = "progress"
PSYCHOTHERAPY = "psychotherapy"
#: 42 CFR 2.11 (as amended in 2024): SUD counseling notes, written only in a Part 2 program.
SUD_COUNSELING = "sud_counseling"
#: The kinds whose text is sealed and kept apart from the chart (164.501; 42 CFR 2.11).
SEALED_KINDS = frozenset({PSYCHOTHERAPY, SUD_COUNSELING})
#: Every note kind, in the order the services list them.
NOTE_KINDS = (PROGRESS, PSYCHOTHERAPY, SUD_COUNSELING)

# -- progress notes -------------------------------------------------------------

@dataclass(frozen=True)
class ProgressNoteDrafted(Event):
    note_id: str
    patient_id: str
    author_id: str
    author_role: str
    author_credentials: str
    supervisor_id: str | None
    session_date: str
    content: dict
    drafted_at: str


@dataclass(frozen=True)
class ProgressNoteRevised(Event):
    note_id: str
    revision: int
    content: dict
    revised_by: str
    revised_at: str


@dataclass(frozen=True)
class ProgressNoteSigned(Event):
    note_id: str
    revision: int
    signed_by: str
    signed_at: str
    cosign_required: bool
    supervisor_id: str | None


@dataclass(frozen=True)
class ProgressNoteCosigned(Event):
    note_id: str
    cosigned_by: str
    cosigned_at: str


@dataclass(frozen=True)
class ProgressNoteAmended(Event):
    """The amended version accepted under 164.526(c); linked to its request by amendment_id."""

    note_id: str
    amendment_id: str
    revision: int
    content: dict
    amended_at: str


# -- psychotherapy notes ----------------------------------------------------------

@dataclass(frozen=True)
class PsychotherapyNoteDrafted(Event):
    note_id: str
    patient_id: str
    author_id: str
    author_role: str
    author_credentials: str
    supervisor_id: str | None
    session_date: str
    sealed: dict
    content_in_psych_note: list
    drafted_at: str


@dataclass(frozen=True)
class PsychotherapyNoteRevised(Event):
    note_id: str
    revision: int
    sealed: dict
    content_in_psych_note: list
    revised_by: str
    revised_at: str


@dataclass(frozen=True)
class PsychotherapyNoteSigned(Event):
    note_id: str
    revision: int
    signed_by: str
    signed_at: str
    cosign_required: bool
    supervisor_id: str | None


@dataclass(frozen=True)
class PsychotherapyNoteCosigned(Event):
    note_id: str
    cosigned_by: str
    cosigned_at: str


# -- SUD counseling notes (42 CFR 2.11, 2.31(b)) ---------------------------------
# The same shape as the psychotherapy-note events: text sealed, lint categories only.

@dataclass(frozen=True)
class SudCounselingNoteDrafted(Event):
    note_id: str
    patient_id: str
    author_id: str
    author_role: str
    author_credentials: str
    supervisor_id: str | None
    session_date: str
    sealed: dict
    content_in_psych_note: list
    drafted_at: str


@dataclass(frozen=True)
class SudCounselingNoteRevised(Event):
    note_id: str
    revision: int
    sealed: dict
    content_in_psych_note: list
    revised_by: str
    revised_at: str


@dataclass(frozen=True)
class SudCounselingNoteSigned(Event):
    note_id: str
    revision: int
    signed_by: str
    signed_at: str
    cosign_required: bool
    supervisor_id: str | None


@dataclass(frozen=True)
class SudCounselingNoteCosigned(Event):
    note_id: str
    cosigned_by: str
    cosigned_at: str


# -- every kind ------------------------------------------------------------------

@dataclass(frozen=True)
class LateEntryFlagged(Event):
    """Documented after the session day (recorded with the draft, never cleared)."""

    note_id: str
    session_date: str
    documented_at: str
    days_late: int


@dataclass(frozen=True)
class AddendumAdded(Event):
    """A separate entry linked to a signed note: ``text`` for progress notes, ``sealed`` for psychotherapy
    and SUD counseling notes."""

    note_id: str
    addendum_id: str
    author_id: str
    added_at: str
    text: str | None = None
    sealed: dict | None = None
    content_in_psych_note: list = field(default_factory=list)


# -- amendment (45 CFR 164.526), progress notes only -------------------------------

@dataclass(frozen=True)
class AmendmentRequested(Event):
    note_id: str
    amendment_id: str
    patient_id: str
    requested_change: str
    reason: str
    requested_at: str


@dataclass(frozen=True)
class AmendmentAccepted(Event):
    note_id: str
    amendment_id: str
    decided_by: str
    decided_at: str
    amended_revision: int
    citation: str = "45 CFR 164.526(c)"


@dataclass(frozen=True)
class AmendmentDenied(Event):
    note_id: str
    amendment_id: str
    ground: str
    citation: str
    denial_statement: str
    decided_by: str
    decided_at: str


@dataclass(frozen=True)
class AmendmentDeadlineExtended(Event):
    """The one extension of 164.526(b)(2)(ii): at most 30 days, with a written statement of the
    reasons for the delay and the date by which the practice will act (``due_at``)."""

    note_id: str
    amendment_id: str
    statement: str
    extended_by: str
    extended_at: str
    due_at: str


@dataclass(frozen=True)
class DisagreementStatementAppended(Event):
    """The individual's statement of disagreement, 164.526(d)(1)(iii), linked to the denial."""

    note_id: str
    amendment_id: str
    statement: str
    appended_at: str


NOTE_EVENTS = registry([
    ProgressNoteDrafted, ProgressNoteRevised, ProgressNoteSigned, ProgressNoteCosigned, ProgressNoteAmended,
    PsychotherapyNoteDrafted, PsychotherapyNoteRevised, PsychotherapyNoteSigned, PsychotherapyNoteCosigned,
    SudCounselingNoteDrafted, SudCounselingNoteRevised, SudCounselingNoteSigned, SudCounselingNoteCosigned,
    LateEntryFlagged, AddendumAdded, AmendmentRequested, AmendmentAccepted, AmendmentDenied,
    DisagreementStatementAppended, AmendmentDeadlineExtended,
])
#: The event that opens a note's stream, by kind (the patient index serves these; see patient_index).
DRAFTED = {PROGRESS: "ProgressNoteDrafted", PSYCHOTHERAPY: "PsychotherapyNoteDrafted",
           SUD_COUNSELING: "SudCounselingNoteDrafted"}
#: Events of a sealed note (psychotherapy, SUD counseling) whose 164.501 findings describe its current text.
TEXT_EVENTS = frozenset({"PsychotherapyNoteDrafted", "PsychotherapyNoteRevised",
                         "SudCounselingNoteDrafted", "SudCounselingNoteRevised"})

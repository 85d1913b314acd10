"""Events of a note's stream, published: the notes service writes them; disclosures (fact
gathering), audit (projections, as-of, re-judging) read them.

Streams: ``progressNote-<note_id>`` and ``psychotherapyNote-<note_id>``. Timestamps are RFC 3339 UTC
strings (:func:`confide.timestamps.format_ts`) and dates ISO ``YYYY-MM-DD``. Psychotherapy text never
appears here: ``sealed`` holds ``{ciphertext, nonce, data_key_id, alg}`` (base64) and
``content_in_psych_note`` holds 45 CFR 164.501 lint findings as ``{category, start, end}`` only.
Versioning: :mod:`confide.contracts.base`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from confide.contracts.base import Event, registry

PROGRESS = "progress"
PSYCHOTHERAPY = "psychotherapy"

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


# -- both kinds ------------------------------------------------------------------

@dataclass(frozen=True)
class LateEntryFlagged(Event):
    """Documented after the session day (recorded with the draft, never cleared)."""

    note_id: str
    session_date: str
    documented_at: str
    days_late: int


@dataclass(frozen=True)
class AddendumAdded(Event):
    """A separate entry linked to a signed note: ``text`` for progress notes, ``sealed`` for psychotherapy notes."""

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
    LateEntryFlagged, AddendumAdded, AmendmentRequested, AmendmentAccepted, AmendmentDenied,
    DisagreementStatementAppended, AmendmentDeadlineExtended,
])
#: The event that opens a note's stream, by kind (the patient index serves these; see patient_index).
DRAFTED = {PROGRESS: "ProgressNoteDrafted", PSYCHOTHERAPY: "PsychotherapyNoteDrafted"}
#: Events of a psychotherapy note whose 164.501 findings describe its current text.
TEXT_EVENTS = frozenset({"PsychotherapyNoteDrafted", "PsychotherapyNoteRevised"})

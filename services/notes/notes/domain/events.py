"""Events of the notes service (past tense, frozen, JSON-able fields only).

Timestamps are RFC 3339 UTC strings and dates ISO ``YYYY-MM-DD`` so an event's
data is exactly what the store keeps. Psychotherapy text never appears here:
``sealed`` holds ``{ciphertext, nonce, data_key_id, alg}`` (base64), and
``content_in_psych_note`` holds lint findings as ``{category, start, end}``
only. The catalogue with streams is in services/notes/README.md.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    @property
    def type(self) -> str:
        return type(self).__name__

    def to_data(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
class DisagreementStatementAppended(Event):
    """The individual's statement of disagreement, 164.526(d)(1)(iii), linked to the denial."""

    note_id: str
    amendment_id: str
    statement: str
    appended_at: str


# -- right of access (45 CFR 164.524), stream accessRequest-<id> --------------------

@dataclass(frozen=True)
class AccessRequestReceived(Event):
    request_id: str
    patient_id: str
    requested_by: str
    received_at: str
    due_at: str


@dataclass(frozen=True)
class AccessRequestExtended(Event):
    request_id: str
    reason: str
    extended_at: str
    due_at: str


@dataclass(frozen=True)
class AccessRequestFulfilled(Event):
    request_id: str
    fulfilled_at: str
    note_ids: list
    on_time: bool


# -- access decisions, stream accessDecision-<decision_id> ----------------------------

@dataclass(frozen=True)
class AccessDecided(Event):
    """The engine's decision on one read, recorded before any content leaves. No clinical content."""

    decision_id: str
    requester: dict
    purpose: str
    action: str
    patient_id: str
    note_id: str
    note_kind: str
    originator_id: str
    decision: str
    rule: str
    citations: list
    fields_released: list | None
    decided_at: str
    request_id: str | None = None
    seal: str | None = None  # HMAC-SHA256 under decision.key (confide.keys.seal_decision)


@dataclass(frozen=True)
class ContentReleased(Event):
    """Content left under a recorded decision (``release_fields``): which notes and field names,
    never the content. Appended to the decision's stream before the content is returned."""

    decision_id: str
    note_ids: list
    fields_released: list
    released_at: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls for cls in Event.__subclasses__()
}


def from_stored(type_: str, data: dict) -> Event:
    """Rebuild a domain event from a stored (type, data). Raises KeyError for unknown types."""
    cls = EVENT_TYPES[type_]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})

"""Events of the notes service. Those of a note's stream and of access decisions are read by
other services too, so they are defined once in the published contracts
(:mod:`confide.contracts.notes`, :mod:`confide.contracts.access`); the right-of-access request
events (stream ``accessRequest-<id>``) are the notes service's own.

Timestamps are RFC 3339 UTC strings and dates ISO ``YYYY-MM-DD``. Psychotherapy and SUD counseling
text never appears in any of them. The catalogue with streams is in services/notes/README.md.
"""
from __future__ import annotations

from dataclasses import dataclass

from confide.contracts.access import ACCESS_EVENTS, AccessDecided, ContentReleased
from confide.contracts.base import Event, event_from_stored, registry
from confide.contracts.notes import (
    NOTE_EVENTS,
    AddendumAdded,
    AmendmentAccepted,
    AmendmentDeadlineExtended,
    AmendmentDenied,
    AmendmentRequested,
    DisagreementStatementAppended,
    LateEntryFlagged,
    ProgressNoteAmended,
    ProgressNoteCosigned,
    ProgressNoteDrafted,
    ProgressNoteRevised,
    ProgressNoteSigned,
    PsychotherapyNoteCosigned,
    PsychotherapyNoteDrafted,
    PsychotherapyNoteRevised,
    PsychotherapyNoteSigned,
    SudCounselingNoteCosigned,
    SudCounselingNoteDrafted,
    SudCounselingNoteRevised,
    SudCounselingNoteSigned,
)

__all__ = [
    "AccessDecided", "AccessRequestExtended", "AccessRequestFulfilled", "AccessRequestReceived", "AddendumAdded",
    "AmendmentAccepted", "AmendmentDeadlineExtended", "AmendmentDenied", "AmendmentRequested", "ContentReleased",
    "DisagreementStatementAppended", "EVENT_TYPES", "Event", "LateEntryFlagged", "ProgressNoteAmended",
    "ProgressNoteCosigned", "ProgressNoteDrafted", "ProgressNoteRevised", "ProgressNoteSigned",
    "PsychotherapyNoteCosigned", "PsychotherapyNoteDrafted", "PsychotherapyNoteRevised", "PsychotherapyNoteSigned",
    "SudCounselingNoteCosigned", "SudCounselingNoteDrafted", "SudCounselingNoteRevised", "SudCounselingNoteSigned",
    "from_stored",
]


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


EVENT_TYPES: dict[str, type[Event]] = {
    **NOTE_EVENTS, **ACCESS_EVENTS,
    **registry([AccessRequestReceived, AccessRequestExtended, AccessRequestFulfilled]),
}


def from_stored(type_: str, data: dict) -> Event:
    """Rebuild an event of this service from a stored (type, data). Raises KeyError for unknown types."""
    return event_from_stored(EVENT_TYPES, type_, data)

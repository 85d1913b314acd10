"""Commands of the notes service (imperative, frozen). ``now`` is the handler's clock reading (aware UTC)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Command:
    pass


@dataclass(frozen=True)
class WriteProgressNote(Command):
    note_id: str
    patient_id: str
    author_id: str
    author_role: str
    author_credentials: str
    supervisor_id: str | None
    session_date: str
    content: dict
    now: datetime


@dataclass(frozen=True)
class WritePsychotherapyNote(Command):
    """The text itself is sealed by the handler; the command carries only lint spans."""

    note_id: str
    patient_id: str
    author_id: str
    author_role: str
    author_credentials: str
    supervisor_id: str | None
    session_date: str
    content_in_psych_note: list
    now: datetime


@dataclass(frozen=True)
class WriteSudCounselingNote(Command):
    """A Part 2 program's SUD counseling note (42 CFR 2.11): sealed like a psychotherapy note.
    ``part2_program``: the practice's configuration (``confide.config.practice``), given by the handler."""

    note_id: str
    patient_id: str
    author_id: str
    author_role: str
    author_credentials: str
    supervisor_id: str | None
    session_date: str
    content_in_psych_note: list
    now: datetime
    part2_program: bool = False


@dataclass(frozen=True)
class ReviseNote(Command):
    note_id: str
    revised_by: str
    now: datetime
    content: dict | None = None  # progress notes
    content_in_psych_note: list = field(default_factory=list)  # psychotherapy notes


@dataclass(frozen=True)
class SignNote(Command):
    note_id: str
    signed_by: str
    now: datetime


@dataclass(frozen=True)
class CosignNote(Command):
    note_id: str
    cosigned_by: str
    now: datetime


@dataclass(frozen=True)
class AddAddendum(Command):
    note_id: str
    addendum_id: str
    author_id: str
    now: datetime
    text: str | None = None  # progress notes; psychotherapy addenda are sealed by the handler
    content_in_psych_note: list = field(default_factory=list)


@dataclass(frozen=True)
class RequestAmendment(Command):
    note_id: str
    amendment_id: str
    patient_id: str
    requested_change: str
    reason: str
    now: datetime


@dataclass(frozen=True)
class AcceptAmendment(Command):
    note_id: str
    amendment_id: str
    decided_by: str
    content: dict
    now: datetime


@dataclass(frozen=True)
class DenyAmendment(Command):
    note_id: str
    amendment_id: str
    decided_by: str
    ground: str
    denial_statement: str
    now: datetime


@dataclass(frozen=True)
class AppendDisagreement(Command):
    note_id: str
    amendment_id: str
    statement: str
    now: datetime


@dataclass(frozen=True)
class ExtendAmendmentDeadline(Command):
    note_id: str
    amendment_id: str
    extended_by: str
    statement: str
    now: datetime


@dataclass(frozen=True)
class ReceiveAccessRequest(Command):
    request_id: str
    patient_id: str
    requested_by: str
    now: datetime


@dataclass(frozen=True)
class ExtendAccessRequest(Command):
    request_id: str
    reason: str
    now: datetime


@dataclass(frozen=True)
class FulfilAccessRequest(Command):
    request_id: str
    note_ids: list
    now: datetime

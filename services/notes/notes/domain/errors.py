"""Domain errors of the notes service.

Every message names the note, field or rule involved and never carries note
text: these messages reach logs and RPC callers (nameko's RemoteError keeps
the class name in ``exc_type``).
"""
from __future__ import annotations


class NotesError(Exception):
    """Base class of every notes-service user error."""


class ValidationError(NotesError, ValueError):
    """Bad input; the message starts with the offending field name(s).

    ``fields``: dict of field name -> list of messages.
    """

    def __init__(self, message: str, fields: dict | None = None):
        self.fields = fields or {}
        super().__init__(message)


class NotAPart2ProgramError(ValidationError):
    """A SUD counseling note written where the practice is not a 42 CFR Part 2 program (2.11): refused,
    naming ``note_kind`` and the setting ``CONFIDE_PRACTICE_PART2_PROGRAM``."""


class NoteNotFoundError(NotesError):
    """No note with this id (in the expected stream category)."""


class NoteExistsError(NotesError):
    """A note with this id was already written."""


class NoteSignedError(NotesError):
    """The note is signed and locked: revise/sign refused; use an addendum or an amendment."""


class NoteNotSignedError(NotesError):
    """The step needs a signed note (addendum, co-signature, amendment)."""


class CosignNotApplicableError(NotesError):
    """Co-signature refused: not required, already given, or not by the named supervisor."""


class NotAuthorError(NotesError):
    """Only the note's author may revise or sign it (and only the author or the author's supervisor
    on the note may add an addendum)."""


class PatientNotRegisteredError(NotesError):
    """The patient id is not registered in the directory: nothing is written about them."""


class AmendmentNotApplicableError(NotesError):
    """45 CFR 164.526 does not apply (psychotherapy notes, 164.526(a)(2)/164.524(a)(1)(i); SUD
    counseling notes, protected the same way under 42 CFR 2.11, 2.31(b))."""


class AmendmentNotFoundError(NotesError):
    """No amendment request with this id on the note."""


class AmendmentStateError(NotesError):
    """The amendment request is not in a state that allows this step."""


class EmergencyAccessNotFoundError(NotesError):
    """No emergency access recorded under this decision id."""


class EmergencyAccessStateError(NotesError):
    """The emergency access was already reviewed, or the reviewer is the person who took it."""


class AccessDeniedError(NotesError):
    """The recorded access decision did not permit release; nothing was returned.

    ``decision_id`` and ``rule`` identify the recorded AccessDecided event.
    """

    def __init__(self, message: str, decision_id: str | None = None, rule: str | None = None):
        self.decision_id = decision_id
        self.rule = rule
        super().__init__(message)


class RequestIdConflictError(NotesError):
    """A request id (the idempotency key of a read) was already used by another principal, for another
    note or purpose; nothing was decided or released under it."""


class AccessRequestNotFoundError(NotesError):
    """No right-of-access request (164.524) with this id."""


class AccessRequestStateError(NotesError):
    """The access request cannot take this step (already extended, fulfilled, or past due)."""

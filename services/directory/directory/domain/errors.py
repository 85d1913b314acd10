"""Domain errors of the directory service. Messages name the id, role or field involved."""
from __future__ import annotations


class DirectoryError(Exception):
    """Base class of every directory user error."""


class ValidationError(DirectoryError, ValueError):
    """Bad input; the message starts with the offending field. ``fields``: {field: [messages]}."""

    def __init__(self, message: str, fields: dict | None = None):
        self.fields = fields or {}
        super().__init__(message)


class MemberNotFoundError(DirectoryError):
    """No workforce member with this id is enrolled."""


class MemberExistsError(DirectoryError):
    """A member with this id is already enrolled."""


class MemberInactiveError(DirectoryError):
    """The member is deactivated."""


class RoleNotGrantedError(DirectoryError):
    """The role to revoke (or needed for a link) is not granted to the member."""


class SupervisionNotFoundError(DirectoryError):
    """No current supervision link between these members."""


class FirstAdminExistsError(DirectoryError):
    """An active practice_admin exists: the set-up enrolment is closed."""


class PatientNotRegisteredError(DirectoryError):
    """No patient with this id is registered."""


class PatientExistsError(DirectoryError):
    """A patient with this id is already registered."""


class RepresentativeNotFoundError(DirectoryError):
    """No current personal representative with this id for the patient."""


class PayerNotRegisteredError(DirectoryError):
    """No payer organisation with this id is registered."""


class PayerExistsError(DirectoryError):
    """A payer with this org id is already registered."""


class PayerInactiveError(DirectoryError):
    """The payer is deactivated."""


class ConcurrentChangeError(DirectoryError):
    """The record kept changing under the request; nothing was written, try again."""


class ClientAssertionReplayedError(DirectoryError):
    """This client assertion was already used at the token endpoint (by any gateway replica)."""

"""Domain errors: raised before any event exists, so nothing is half-recorded."""
from __future__ import annotations


class DisclosuresError(Exception):
    """Base class of the disclosures service's user errors."""


class DisclosureRequestNotFoundError(DisclosuresError):
    """No disclosure request with that id (or not visible to the caller)."""


class AuthorizationNotFoundError(DisclosuresError):
    """No authorization with that id on file."""


class AuthorizationAlreadyRecordedError(DisclosuresError):
    """An authorization with that id is already on file."""


class AuthorizationNotActiveError(DisclosuresError):
    """The authorization is already revoked or expired."""


class RevocationNotInWritingError(DisclosuresError):
    """164.508(b)(5): a revocation must be in writing."""


class InvalidTransitionError(DisclosuresError):
    """The command does not apply to the request's current status."""


class AccountingRequestNotFoundError(DisclosuresError):
    """No accounting request with that id for the patient."""


class ExtensionNotAllowedError(DisclosuresError):
    """164.528(c)(1)(ii): only one 30-day extension, given before the deadline."""


class InvalidRequestError(DisclosuresError):
    """A payload failed validation; the message names the field."""

    def __init__(self, message: str, field: str | None = None, messages: dict | None = None):
        # All three go into args so nameko's RemoteError carries them to the caller.
        super().__init__(message, field, messages or {})
        self.message = message
        self.field = field
        self.messages = messages or {}

    def __str__(self) -> str:
        return self.message


class DisclosureRequestExistsError(DisclosuresError):
    """A request with that id is already on file (an idempotent retry: fetch it instead)."""


class TooManyCopiesError(DisclosuresError):
    """164.524(c): the patient asked for copies of their record faster than the service gives them
    (each copy decides and records every note anew); nothing was decided or recorded. Try again later."""

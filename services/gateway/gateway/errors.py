"""Remote errors of the disclosures service re-raised as local types, and the HTTP error table."""
from __future__ import annotations

from nameko.exceptions import RemoteError, registry

from gateway.cdex import TaskMappingError
from gateway.tokens import InsufficientScope, TokenError


def remote_error(exc_path: str):
    """Register a local class for a remote ``exc_path`` (nameko rebuilds it with the remote args)."""
    def register(cls):
        registry[exc_path] = cls
        return cls
    return register


@remote_error("disclosures.domain.errors.DisclosureRequestNotFoundError")
class RequestNotFound(Exception):
    pass


@remote_error("disclosures.domain.errors.InvalidRequestError")
class RemoteInvalidRequest(Exception):
    @property
    def field(self):
        return self.args[1] if len(self.args) > 1 else None

    @property
    def messages(self):
        return self.args[2] if len(self.args) > 2 else {}


class MalformedJSON(Exception):
    """The body is not a JSON object (HTTP 400)."""


class InvalidBody(Exception):
    """The body failed schema validation (HTTP 422)."""

    def __init__(self, field: str, messages: dict):
        super().__init__(f"invalid field {field}")
        self.field, self.messages = field, messages


def error_reply(exc: Exception) -> tuple[int, dict] | None:
    """(status, body) for a known error, None for an unexpected one."""
    if isinstance(exc, TokenError):
        return 401, {"error": str(exc), "field": None, "messages": {}}
    if isinstance(exc, InsufficientScope):
        return 403, {"error": str(exc), "field": None, "messages": {}}
    if isinstance(exc, RequestNotFound):
        return 404, {"error": "not found", "field": None, "messages": {}}
    if isinstance(exc, MalformedJSON):
        return 400, {"error": str(exc), "field": None, "messages": {}}
    if isinstance(exc, InvalidBody):
        return 422, {"error": str(exc), "field": exc.field, "messages": exc.messages}
    if isinstance(exc, TaskMappingError):
        return 422, {"error": exc.message, "field": exc.field, "messages": {exc.field: [exc.message]}}
    if isinstance(exc, RemoteError) and exc.exc_type == "NotAuthenticatedError":
        # The payer's assertion did not verify at the service (e.g. expired mid-request): as a bad token.
        return 401, {"error": "not authenticated", "field": None, "messages": {}}
    if isinstance(exc, RemoteError) and exc.exc_type == "NotAuthorizedError":
        # The identity gate refused the payer (deactivated in the directory, ...); its reason stays in its log.
        return 403, {"error": "not authorized", "field": None, "messages": {}}
    if isinstance(exc, RemoteInvalidRequest):
        return 422, {"error": str(exc.args[0]) if exc.args else "invalid request", "field": exc.field,
                     "messages": exc.messages or {}}
    return None

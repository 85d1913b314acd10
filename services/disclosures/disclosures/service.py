"""DisclosuresService: nameko RPC entrypoints that only translate (schema → command → handler → reply).

Every reply is a JSON-safe dict. User errors (listed in ``expected_exceptions``)
reach callers as nameko RemoteErrors with the domain error's class name as
``exc_type``; InvalidRequestError carries (message, field, messages) in ``exc_args``.

``reply_public_key`` (optional, every call that can release content): the caller's ephemeral
X25519 public key (base64), forwarded to ``notes.release_fields``; psychotherapy text and excerpts
come back as ``{"sealed": box}`` to it and this service passes them on unopened. Without it a
release of psychotherapy content is refused by the notes service.
"""
from __future__ import annotations

from confide import validation
from confide.eventstore.provider import EventStore
from confide.providers import Clock, DecisionKeyDir
from confide.rpc import RpcProxy, rpc
from disclosures import handlers, schemas
from disclosures.domain import commands, errors

USER_ERRORS = (
    errors.DisclosuresError,
)


def load(schema, payload) -> dict:
    """Validate ``payload`` fully; raise InvalidRequestError naming the first bad field."""
    try:
        return validation.load(schema, payload or {})
    except validation.PayloadError as exc:
        raise errors.InvalidRequestError(f"invalid field {exc.field}", exc.field, exc.messages) from None


def _case_errors(call):
    # The engine and authorization_defects raise CaseFileError (a ValueError with .field).
    try:
        return call()
    except ValueError as exc:
        if hasattr(exc, "field"):
            raise errors.InvalidRequestError(str(exc), exc.field) from None
        raise


class DisclosuresService:
    """Disclosure requests, authorizations and the accounting of disclosures."""

    name = "disclosures"

    store = EventStore()
    clock = Clock()
    notes = RpcProxy("notes")
    decision_key_dir = DecisionKeyDir()

    @rpc(expected_exceptions=USER_ERRORS)
    def request_disclosure(self, payload, reply_public_key=None):
        """Record and process a disclosure request.

        payload: {"requester": {"id": "u-1", "role": "insurer_health_plan", "org": "Acme Health Plan",
        "identity_verified": true}, "patient_id": "P-001", "purpose": "payment", "note_kind": "progress",
        "date_from": "2026-01-01", "date_to": "2026-03-31"}
        → {"request_id", "status": requested|on_hold|decided|released|refused, "decision": {...},
        "release": {"note_ids", "fields_released"}, "refusal": {"reason", "rule"}, "content": [...]}
        An optional ``request_id`` (UUID) already on file raises DisclosureRequestExistsError.
        """
        data = load(schemas.RequestDisclosureSchema(), payload)
        data["request_id"] = str(data["request_id"]) if data.get("request_id") else None
        cmd = commands.RequestDisclosure(**data)
        notes = handlers.with_reply_key(self.notes, reply_public_key)
        return _case_errors(lambda: handlers.request_disclosure(
            cmd, self.store, self.clock, notes, key_dir=self.decision_key_dir))

    @rpc(expected_exceptions=USER_ERRORS)
    def verify_requester(self, payload, reply_public_key=None):
        """Release a held request once identity/authority is verified (164.514(h)).

        payload: {"request_id": "...", "verified_by": "staff-7", "method": "photo id"} → request view.
        """
        cmd = commands.VerifyRequester(**load(schemas.VerifyRequesterSchema(), payload))
        notes = handlers.with_reply_key(self.notes, reply_public_key)
        return _case_errors(lambda: handlers.verify_requester(
            cmd, self.store, self.clock, notes, key_dir=self.decision_key_dir))

    @rpc(expected_exceptions=USER_ERRORS)
    def get_disclosure_request(self, request_id, org=None, include_content=False, reply_public_key=None):
        """The request view; ``org`` restricts to that requester org (else DisclosureRequestNotFoundError);
        ``include_content`` re-fetches released fields under the recorded decision."""
        notes = handlers.with_reply_key(self.notes, reply_public_key) if include_content else None
        return handlers.get_disclosure_request(str(request_id), self.store, org=org, notes=notes)

    @rpc(expected_exceptions=USER_ERRORS)
    def resume_request(self, request_id, reply_public_key=None):
        """Carry on a request left ``requested``/``verified``/``decided`` (a crash, or the notes service
        unavailable) → request view. Raises InvalidTransitionError for one on hold or finished."""
        notes = handlers.with_reply_key(self.notes, reply_public_key)
        return _case_errors(lambda: handlers.resume_request(
            str(request_id), self.store, self.clock, notes, key_dir=self.decision_key_dir))

    @rpc(expected_exceptions=USER_ERRORS)
    def record_authorization(self, authorization, received_at=None):
        """Record an authorization (case-file form); defective ones are recorded with their defects.

        authorization: {"id": "AUTH-1", "patient": "P-001", "covers": ["psychotherapy_notes"], ...}
        → {"authorization_id", "status": active|defective, "defective", "defects": [{code, citation, ...}], ...}
        """
        data = load(schemas.RecordAuthorizationSchema(), {"authorization": authorization, "received_at": received_at})
        cmd = commands.RecordAuthorization(**data)
        return _case_errors(lambda: handlers.record_authorization(cmd, self.store, self.clock))

    @rpc(expected_exceptions=USER_ERRORS)
    def revoke_authorization(self, authorization_id, in_writing, revoked_by, received_at=None):
        """164.508(b)(5) written revocation, effective when received → authorization view."""
        data = load(schemas.RevokeAuthorizationSchema(), {"authorization_id": authorization_id,
                    "in_writing": in_writing, "revoked_by": revoked_by, "received_at": received_at})
        return handlers.revoke_authorization(commands.RevokeAuthorization(**data), self.store, self.clock)

    @rpc(expected_exceptions=USER_ERRORS)
    def expire_authorization(self, authorization_id, reason, expired_at=None, event_description=None):
        """Record expiry by ``reason`` "date" or "event" → authorization view."""
        data = load(schemas.ExpireAuthorizationSchema(), {"authorization_id": authorization_id, "reason": reason,
                    "expired_at": expired_at, "event_description": event_description})
        return handlers.expire_authorization(commands.ExpireAuthorization(**data), self.store, self.clock)

    @rpc(expected_exceptions=USER_ERRORS)
    def get_authorization(self, authorization_id, as_of=None):
        """The authorization as known at ``as_of`` (RFC 3339; default now) → authorization view."""
        return handlers.get_authorization(str(authorization_id), self.store, as_of)

    @rpc(expected_exceptions=USER_ERRORS)
    def request_access(self, patient_id, requester):
        """164.524 right of access to the designated record set (no psychotherapy notes) → request view."""
        requester = load(schemas.RequesterSchema(), requester)
        return _case_errors(lambda: handlers.request_access(
            str(patient_id), requester, self.store, self.clock, self.notes, key_dir=self.decision_key_dir))

    @rpc(expected_exceptions=USER_ERRORS)
    def request_accounting(self, payload):
        """164.528 accounting: {"patient_id", "requested_by", "received_at"?} → {"entries", "due_at", ...}."""
        cmd = commands.RequestAccounting(**load(schemas.RequestAccountingSchema(), payload))
        return handlers.request_accounting(cmd, self.store, self.clock)

    @rpc(expected_exceptions=USER_ERRORS)
    def suspend_accounting(self, payload):
        """164.528(a)(2) suspension: {"patient_id", "agency": {"org", "role"}, "in_writing", "statement",
        "starts_at", "ends_at"?} → the suspension."""
        cmd = commands.SuspendAccounting(**load(schemas.SuspendAccountingSchema(), payload))
        return handlers.suspend_accounting(cmd, self.store, self.clock)

    @rpc(expected_exceptions=USER_ERRORS)
    def extend_accounting_deadline(self, payload):
        """164.528(c)(1)(ii) one 30-day extension: {"patient_id", "accounting_request_id", "reason"}."""
        cmd = commands.ExtendAccountingDeadline(**load(schemas.ExtendAccountingDeadlineSchema(), payload))
        return handlers.extend_accounting_deadline(cmd, self.store, self.clock)

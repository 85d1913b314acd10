"""Commands of the disclosures service: imperative, frozen, already validated by schemas."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class RequestDisclosure:
    requester: dict
    patient_id: str
    purpose: str
    note_kind: str = "progress"
    action: str = "disclose"
    date_from: Optional[str] = None
    date_to: Optional[str] = None
    note_ids: Optional[list] = None
    authorization_id: Optional[str] = None
    exception_claimed: Optional[str] = None
    facts: dict = field(default_factory=dict)
    channel: dict = field(default_factory=dict)
    request_id: Optional[str] = None
    recorded_by: Optional[str] = None  # the staff member who recorded an outside party's request
    received_from: Optional[dict] = None  # decision_identity of the call that made or recorded it
    await_release: bool = False  # staff release a permitted decision themselves (resume_request)


@dataclass(frozen=True)
class VerifyRequester:
    request_id: str
    verified_by: str
    method: str
    identity_verified: bool = True
    authority_verified: bool = True


@dataclass(frozen=True)
class AmendDisclosureFacts:
    """Amend the case facts of a held request (release-of-information staff), then decide it again.
    ``facts``: merged over the request's; ``authorization_id``: the authorization it now relies on
    (None: unchanged); ``amendment_id``: the idempotency key (None: derived from what is amended)."""

    request_id: str
    amended_by: str
    facts: dict = field(default_factory=dict)
    authorization_id: Optional[str] = None
    amendment_id: Optional[str] = None
    reason: Optional[str] = None


@dataclass(frozen=True)
class RecordAuthorization:
    authorization: dict
    received_at: Optional[str] = None


@dataclass(frozen=True)
class RevokeAuthorization:
    authorization_id: str
    in_writing: bool
    received_at: str
    revoked_by: str


@dataclass(frozen=True)
class ExpireAuthorization:
    authorization_id: str
    reason: str
    expired_at: Optional[str] = None
    event_description: Optional[str] = None


@dataclass(frozen=True)
class SuspendAccounting:
    patient_id: str
    agency: dict
    in_writing: bool
    statement: str
    starts_at: str
    ends_at: Optional[str] = None


@dataclass(frozen=True)
class RequestAccounting:
    patient_id: str
    requested_by: str
    received_at: Optional[str] = None


@dataclass(frozen=True)
class ExtendAccountingDeadline:
    patient_id: str
    accounting_request_id: str
    reason: str

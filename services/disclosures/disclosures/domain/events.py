"""Events of the disclosures service: past tense, frozen; ``type`` is the class name.

Streams (see services/disclosures/README.md for the catalogue):

- ``disclosureRequest-<request_id>``: DisclosureRequested, DisclosurePlacedOnHold,
  RequesterVerified, DisclosureDecided, DisclosureReleased, DisclosureRefused.
- ``accessDecision-<decision_id>``: AccessDecided (checked by the notes service
  before it releases any field).
- ``authorization-<authorization_id>``: AuthorizationRecorded, AuthorizationRevoked,
  AuthorizationExpired.
- ``accounting-<patient_id>``: AccountingEntryRecorded, AccountingSuspended,
  AccountingRequested, AccountingDeadlineExtended, AccountingProvided.

Event data never holds note text: only ids, field names, citations and facts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

ACCOUNTING = "accounting"


@dataclass(frozen=True)
class Event:
    @property
    def type(self) -> str:
        return type(self).__name__

    def data(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DisclosureRequested(Event):
    request_id: str
    requester: dict
    patient_id: str
    purpose: str
    action: str
    note_kind: str
    received_at: str
    date_from: Optional[str] = None
    date_to: Optional[str] = None
    note_ids: Optional[list] = None
    authorization_id: Optional[str] = None
    exception_claimed: Optional[str] = None
    facts: dict = field(default_factory=dict)
    channel: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DisclosurePlacedOnHold(Event):
    request_id: str
    reasons: list
    rule: str
    held_at: str


@dataclass(frozen=True)
class RequesterVerified(Event):
    request_id: str
    verified_by: str
    method: str
    identity_verified: bool
    authority_verified: bool
    verified_at: str


@dataclass(frozen=True)
class DisclosureDecided(Event):
    request_id: str
    decision_id: str
    decision: str
    rule: str
    citations: list
    reasons: list
    fields_released: Optional[list]
    minimum_necessary_applies: Optional[bool]
    accounting_required: bool
    note_ids: list
    authorization_id: Optional[str]
    decided_at: str
    seal: Optional[str] = None  # HMAC under decision.key: only this service's engine run makes one


@dataclass(frozen=True)
class AccessDecided(Event):
    decision_id: str
    requester: dict
    purpose: str
    action: str
    patient_id: str
    note_id: Optional[str]
    note_ids: list
    note_kind: str
    originator_id: Optional[str]
    decision: str
    rule: str
    citations: list
    fields_released: Optional[list]
    request_id: str
    decided_at: str
    seal: Optional[str] = None  # HMAC-SHA256 under decision.key (confide.keys.seal_decision)


@dataclass(frozen=True)
class DisclosureReleased(Event):
    request_id: str
    decision_id: str
    note_ids: list
    fields_released: list
    released_at: str
    accounting_entry_id: Optional[str] = None


@dataclass(frozen=True)
class DisclosureRefused(Event):
    request_id: str
    decision_id: Optional[str]
    reason: str
    rule: str
    refused_at: str


@dataclass(frozen=True)
class AuthorizationRecorded(Event):
    authorization_id: str
    patient_id: str
    authorization: dict
    defective: bool
    defects: list
    received_at: str
    recorded_at: str


@dataclass(frozen=True)
class AuthorizationRevoked(Event):
    authorization_id: str
    patient_id: str
    in_writing: bool
    received_at: str
    revoked_by: str
    recorded_at: str


@dataclass(frozen=True)
class AuthorizationExpired(Event):
    authorization_id: str
    patient_id: str
    reason: str  # "date" or "event"
    expired_at: str
    event_description: Optional[str]
    recorded_at: str


@dataclass(frozen=True)
class AccountingEntryRecorded(Event):
    entry_id: str
    patient_id: str
    request_id: str
    decision_id: str
    disclosed_at: str
    recipient: dict
    purpose: str
    description: str
    rule: str


@dataclass(frozen=True)
class AccountingSuspended(Event):
    suspension_id: str
    patient_id: str
    agency: dict
    in_writing: bool
    statement: str
    starts_at: str
    ends_at: str
    recorded_at: str


@dataclass(frozen=True)
class AccountingRequested(Event):
    accounting_request_id: str
    patient_id: str
    requested_by: str
    received_at: str
    due_at: str


@dataclass(frozen=True)
class AccountingDeadlineExtended(Event):
    accounting_request_id: str
    reason: str
    due_at: str
    extended_at: str


@dataclass(frozen=True)
class AccountingProvided(Event):
    accounting_request_id: str
    entry_ids: list
    provided_at: str

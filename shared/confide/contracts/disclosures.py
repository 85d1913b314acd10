"""Disclosure requests and the accounting of disclosures, published: the disclosures service
writes them; audit projects them (disclosure log, accounting), re-judges each ``DisclosureDecided``
and shows any request as of a time.

Streams: ``disclosureRequest-<request_id>``: DisclosureRequested, DisclosurePlacedOnHold,
RequesterVerified, DisclosureFactsAmended, DisclosureDecided, DisclosureReleased, DisclosureRefused;
``accounting-<patient_id>``: AccountingEntryRecorded, AccountingSuspended, AccountingRequested,
AccountingDeadlineExtended, AccountingProvided (45 CFR 164.528). Event data never holds note text:
only ids, field names, citations and facts. Versioning: :mod:`confide.contracts.base`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Optional

from confide.contracts.base import Event, registry

ACCOUNTING = "accounting"  # stream category: accounting-<patient_id>

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
    # A request made by an outside party and recorded by staff (release of information, front desk,
    # privacy officer): the staff member's subject; None when the requester made it itself.
    recorded_by: Optional[str] = None
    # decision_identity(principal) of the call that made (or recorded) the request: subject, session,
    # amr, auth_time, acting service (164.312(b)); None on requests recorded before identity.
    received_from: Optional[dict] = None
    # An outside party's request recorded by staff who release it themselves: once permitted it
    # stays ``decided`` (the decision and the fields that will leave on file) until a staff member
    # carries it on (``resume_request``); False: released as soon as it is decided.
    await_release: bool = False


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
class DisclosureFactsAmended(Event):
    """Release-of-information staff amended the case facts of a held request (legal process recorded
    with its coverage, an authorization received, a fact that was unknown now known), after which it
    is decided again. ``fields``: the names amended (``facts.<name>``, ``authorization_id``);
    ``facts``: their new values (case facts only, never clinical content; merged over the request's
    ``facts`` by :func:`evolve`); ``authorization_id``: the authorization the request now relies on,
    when amended. ``amendment_id`` is the idempotency key of the command (a redelivery appends
    nothing); ``reason``: staff's note of what established the facts (e.g. "order received by
    fax"), never clinical content."""

    request_id: str
    amendment_id: str
    amended_by: str
    amended_at: str
    fields: list
    facts: dict
    authorization_id: Optional[str] = None
    reason: Optional[str] = None


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
    decided_for: Optional[dict] = None  # decision_identity(principal): subject, session, amr, auth_time, acting service


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


DISCLOSURE_EVENTS = registry([DisclosureRequested, DisclosurePlacedOnHold, RequesterVerified, DisclosureFactsAmended,
                              DisclosureDecided, DisclosureReleased, DisclosureRefused, AccountingEntryRecorded, AccountingSuspended, AccountingRequested, AccountingDeadlineExtended, AccountingProvided])


# -- the request as folded from its stream -----------------------------------------------------

@dataclass(frozen=True)
class DisclosureRequestState:
    """A request folded from ``disclosureRequest-<id>``; ``version`` is its last stream version."""

    request_id: str
    version: int = -1
    status: str = "new"
    request: dict = field(default_factory=dict)
    hold: Optional[dict] = None
    verification: Optional[dict] = None
    decision: Optional[dict] = None
    release: Optional[dict] = None
    refusal: Optional[dict] = None
    #: ``DisclosureFactsAmended`` so far: {amendment_id, amended_by, amended_at, fields, reason}, oldest first.
    amendments: tuple = ()


def evolve(state: DisclosureRequestState, event_type: str, data: dict[str, Any]) -> DisclosureRequestState:
    """Apply one stored event to the request state (unknown types only bump the version)."""
    state = replace(state, version=state.version + 1)
    if event_type == "DisclosureRequested":
        return replace(state, status="requested", request=data)
    if event_type == "DisclosurePlacedOnHold":
        return replace(state, status="on_hold", hold=data)
    if event_type == "RequesterVerified":
        return replace(state, status="verified", verification=data)
    if event_type == "DisclosureFactsAmended":
        return amended(state, data)
    if event_type == "DisclosureDecided":
        return replace(state, status="decided", decision=data)
    if event_type == "DisclosureReleased":
        return replace(state, status="released", release=data)
    if event_type == "DisclosureRefused":
        return replace(state, status="refused", refusal=data)
    return state


def amended(state: DisclosureRequestState, data: dict[str, Any]) -> DisclosureRequestState:
    """``state`` (already at the event's version) with a ``DisclosureFactsAmended`` applied: its
    ``facts`` merged over the request's, its ``authorization_id`` (when it amends it) replacing the
    request's, the hold cleared and the request back to ``verified`` (when its requester was
    verified) or ``requested``, to be decided again on the amended facts."""
    request = dict(state.request)
    request["facts"] = {**(request.get("facts") or {}), **(data.get("facts") or {})}
    if "authorization_id" in (data.get("fields") or ()):
        request["authorization_id"] = data.get("authorization_id")
    amendment = {k: data.get(k) for k in ("amendment_id", "amended_by", "amended_at", "fields", "reason")}
    status = "verified" if state.verification else "requested"
    return replace(state, status=status, request=request, hold=None,
                   amendments=state.amendments + (amendment,))


def fold(request_id: str, events: Iterable[tuple[str, dict]]) -> DisclosureRequestState:
    state = DisclosureRequestState(request_id)
    for event_type, data in events:
        state = evolve(state, event_type, data)
    return state


def effective_requester(state: DisclosureRequestState) -> dict:
    """The request's requester with a recorded verification (164.514(h)) applied."""
    requester = dict(state.request["requester"])
    if state.verification:
        requester["identity_verified"] = bool(state.verification["identity_verified"])
    return requester

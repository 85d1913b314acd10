"""Authorizations (45 CFR 164.508), published: the disclosures service records them; its decisions,
audit's re-judging and as-of views read them as they stood at an instant.

Stream ``authorization-<authorization_id>``: AuthorizationRecorded, AuthorizationRevoked,
AuthorizationExpired. :func:`fold_authorization` is the one reading of that stream, so that a
decision and its re-judging see the same authorization. Versioning: :mod:`confide.contracts.base`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Iterable, Optional

from confide.contracts.base import Event, registry
from confide.timestamps import parse_ts


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


AUTHORIZATION_EVENTS = registry([AuthorizationRecorded, AuthorizationRevoked, AuthorizationExpired])


# -- authorizations ----------------------------------------------------------

#: 42 CFR 2.31(b): SUD counseling notes are reached only by a consent naming them (``sud_counseling_notes``).
COVERS_FOR_KIND = {"psychotherapy": "psychotherapy_notes", "progress": "progress_notes",
                   "sud_counseling": "sud_counseling_notes"}


@dataclass(frozen=True)
class AuthorizationState:
    """An authorization as known at some instant (folded from ``authorization-<id>``)."""

    authorization_id: str
    version: int = -1
    patient_id: Optional[str] = None
    authorization: dict = field(default_factory=dict)
    defective: bool = False
    defects: list = field(default_factory=list)
    recorded_at: Optional[str] = None
    revocation: Optional[dict] = None
    expiration: Optional[dict] = None

    @property
    def exists(self) -> bool:
        """Recorded (an ``AuthorizationRecorded`` was folded). A stream holding only events a reader
        ignored (not sealed by the disclosures service) has a version but no authorization."""
        return self.version >= 0 and self.recorded_at is not None

    @property
    def status(self) -> str:
        if self.revocation:
            return "revoked"
        if self.expiration:
            return "expired"
        return "defective" if self.defective else "active"

    def case_form(self) -> dict:
        """The authorization in the engine's case-file form, with revocation/expiry facts folded in."""
        form = dict(self.authorization)
        form["id"] = self.authorization_id
        form["revoked"] = bool(self.revocation)
        form["revocation"] = (
            {"in_writing": self.revocation["in_writing"], "received_at": self.revocation["received_at"]}
            if self.revocation else form.get("revocation")
        )
        if self.expiration and self.expiration.get("reason") == "event":
            form["expiration_event_occurred"] = True
        return form


def evolve_authorization(state: AuthorizationState, event_type: str, data: dict) -> AuthorizationState:
    state = replace(state, version=state.version + 1)
    if event_type == "AuthorizationRecorded":
        return replace(state, patient_id=data["patient_id"], authorization=data["authorization"],
                       defective=data["defective"], defects=data["defects"], recorded_at=data["recorded_at"])
    if event_type == "AuthorizationRevoked":
        return replace(state, revocation=data)
    if event_type == "AuthorizationExpired":
        return replace(state, expiration=data)
    return state


def fold_authorization(authorization_id: str, events: Iterable[tuple[str, dict, datetime]],
                       as_of: Optional[datetime] = None) -> AuthorizationState:
    """Fold the events recorded at or before ``as_of``.

    164.508(b)(5): a revocation takes effect when the covered entity receives
    it, so a revocation recorded later but received before ``as_of`` still
    counts only once it is on file (replay judges with the facts known then).
    """
    state = AuthorizationState(authorization_id)
    for event_type, data, recorded_at in events:
        if as_of is not None and recorded_at > as_of:
            break
        if event_type == "AuthorizationRevoked" and as_of is not None and parse_ts(data["received_at"]) > as_of:
            continue
        state = evolve_authorization(state, event_type, data)
    return state


def select_authorization(candidates: Iterable[AuthorizationState], note_kind: str,
                         recipient_org: Optional[str]) -> Optional[AuthorizationState]:
    """The authorization on file that best fits a request, or None.

    Prefers one that covers the note kind and names the recipient, then one not
    revoked or expired, then the most recently recorded. A revoked one is still
    returned when it is the only fit, so the engine cites 164.508(b)(5).
    """
    cover = COVERS_FOR_KIND.get(note_kind, note_kind)
    org = (recipient_org or "").casefold()

    def fits(a: AuthorizationState) -> bool:
        covers = a.authorization.get("covers") or []
        recipients = [str(r).casefold() for r in a.authorization.get("recipients") or []]
        return cover in covers and (not org or not recipients or org in recipients)

    fitting = [a for a in candidates if a.exists and fits(a)]
    if not fitting:
        return None
    return sorted(fitting, key=lambda a: (a.status == "active", not a.defective, a.recorded_at or ""))[-1]

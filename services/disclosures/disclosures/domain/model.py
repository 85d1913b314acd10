"""Folds and pure rules of the disclosure workflow (stdlib only).

A request's state is rebuilt by folding its stream; decisions about what to
append next are plain functions of that state and the engine's outcome.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any, Iterable, Optional

# Outcome decisions (see /work/shared/cases/README.md) that let content leave.
# 164.524(b)(2): act on a request for access within 30 days of receipt.
ACCESS_RESPONSE_DAYS = 30

RELEASING = frozenset({"permit", "permit_minimum_necessary", "permit_redacted"})

# 164.514(h)(1): verify the identity and authority of a person requesting PHI
# when that person is not known to the covered entity. Workforce roles are
# known (authenticated inside the practice); everyone else must be verified.
WORKFORCE_ROLES = frozenset({
    "originator_clinician", "clinician_same_practice", "former_workforce_clinician", "trainee",
    "supervisor", "billing_staff", "compliance_staff", "practice_admin",
})

# 164.501 "health plan" is a covered entity; the other insurers are not.
COVERED_ENTITY_ROLES = frozenset({"insurer_health_plan", "external_clinician", "external_clinician_group"})


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def fmt_ts(ts: datetime) -> str:
    """RFC 3339 UTC with ``Z`` (the form every event field uses)."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str | datetime | None) -> Optional[datetime]:
    """Parse RFC 3339 (``Z`` or offset) or a plain date (midnight UTC). None stays None."""
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
    ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


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


def evolve(state: DisclosureRequestState, event_type: str, data: dict[str, Any]) -> DisclosureRequestState:
    """Apply one stored event to the request state (unknown types only bump the version)."""
    state = replace(state, version=state.version + 1)
    if event_type == "DisclosureRequested":
        return replace(state, status="requested", request=data)
    if event_type == "DisclosurePlacedOnHold":
        return replace(state, status="on_hold", hold=data)
    if event_type == "RequesterVerified":
        return replace(state, status="verified", verification=data)
    if event_type == "DisclosureDecided":
        return replace(state, status="decided", decision=data)
    if event_type == "DisclosureReleased":
        return replace(state, status="released", release=data)
    if event_type == "DisclosureRefused":
        return replace(state, status="refused", refusal=data)
    return state


def fold(request_id: str, events: Iterable[tuple[str, dict]]) -> DisclosureRequestState:
    state = DisclosureRequestState(request_id)
    for event_type, data in events:
        state = evolve(state, event_type, data)
    return state


def needs_verification(requester: dict) -> bool:
    """164.514(h)(1): an unknown requester's identity and authority must be verified first."""
    if requester.get("role") in WORKFORCE_ROLES:
        return False
    return not requester.get("identity_verified")


def note_in_range(note: dict, date_from: Optional[str], date_to: Optional[str]) -> bool:
    session = (note.get("session_date") or "")[:10]
    if date_from and (not session or session < date_from[:10]):
        return False
    if date_to and (not session or session > date_to[:10]):
        return False
    return True


def matching_notes(notes: Iterable[dict], request: dict) -> list[dict]:
    """Notes of the request's patient and kind, within its period or among its explicit ids."""
    wanted = set(request.get("note_ids") or [])
    out = []
    for note in notes:
        if note.get("patient_id") != request["patient_id"] or note.get("kind") != request["note_kind"]:
            continue
        if wanted and note.get("note_id") not in wanted:
            continue
        if note_in_range(note, request.get("date_from"), request.get("date_to")):
            out.append(note)
    return sorted(out, key=lambda n: (n.get("session_date") or "", n.get("note_id") or ""))


# -- authorizations ----------------------------------------------------------

COVERS_FOR_KIND = {"psychotherapy": "psychotherapy_notes", "progress": "progress_notes"}


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
        return self.version >= 0

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

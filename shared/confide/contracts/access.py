"""Access decisions, published: ``accessDecision-<decision_id>``.

Two services write an ``AccessDecided``: the notes service for a read of one note (``note_id``,
no ``request_id`` unless the caller gave one), the disclosures service for a disclosure request
(``note_ids``, ``request_id``; ``note_id`` only when it names exactly one note). The notes service
reads every one of them before it releases content (it must be sealed: ``seal`` is an HMAC under
the practice's decision key, :mod:`confide.keys`); audit projects and re-judges them.
``ContentReleased`` follows in the same stream each time content leaves under the decision.
Neither carries clinical content. Versioning: :mod:`confide.contracts.base`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from confide.contracts.base import Event, registry

#: Decisions under which content may leave (see ../shared/cases/README.md).
PERMITS = frozenset({"permit", "permit_minimum_necessary", "permit_redacted"})


@dataclass(frozen=True)
class AccessDecided(Event):
    """The engine's decision, recorded before any content leaves."""

    decision_id: str
    requester: dict  # {id, role, org}
    purpose: str
    action: str
    patient_id: str
    note_id: Optional[str]  # the one note decided on, else None
    note_kind: str
    originator_id: Optional[str]  # the notes' author when there is exactly one
    decision: str
    rule: str
    citations: list
    fields_released: Optional[list]
    decided_at: str
    request_id: Optional[str] = None
    seal: Optional[str] = None  # HMAC-SHA256 under decision.key (confide.keys.seal_decision)
    note_ids: list = field(default_factory=list)  # every note it covers (the notes service's
    # release check, notes.views.named_notes, is the one reading of which notes a decision names)
    # Who the decision was made for and how they proved it (confide.identity.requester.decision_identity:
    # subject, session_id, amr, auth_time, acting_service); None on decisions recorded before identity.
    decided_for: Optional[dict] = None


@dataclass(frozen=True)
class ContentReleased(Event):
    """Content left under a recorded decision: which notes and field names, never the content.
    Appended to the decision's stream before the content is returned."""

    decision_id: str
    note_ids: list
    fields_released: list
    released_at: str
    # Who it was released to (a payer: its org; else the caller's subject); one ContentReleased per
    # decision and recipient. None on releases recorded before it was named.
    released_to: Optional[str] = None


@dataclass(frozen=True)
class EmergencyAccessTaken(Event):
    """A workforce member's emergency ("break-the-glass") read of one note under a claimed exception,
    with the reason they stated: ``emergencyAccess-<decision_id>``, appended right after the
    ``AccessDecided`` it names, whatever the decision (a denial is queued for review too). Always
    reviewed by the privacy officer (45 CFR 164.308(a)(1)(ii)(D), 164.312(b)). No clinical content
    beyond the stated reason."""

    decision_id: str
    note_id: str
    patient_id: str
    note_kind: str
    requester: dict  # {id, role, org}
    claim: str  # a key of the notes service's EMERGENCY_CLAIMS
    exception_claimed: str  # the citation the engine was given
    reason: str
    decision: str
    rule: str
    taken_at: str


@dataclass(frozen=True)
class EmergencyAccessReviewed(Event):
    """The privacy officer's review of one emergency access: ``outcome`` one of
    ``EMERGENCY_REVIEW_OUTCOMES``, a comment, who and when."""

    decision_id: str
    outcome: str
    comment: str
    reviewed_by: str
    reviewed_at: str


#: What a review of an emergency access may conclude.
EMERGENCY_REVIEW_OUTCOMES = ("appropriate", "inappropriate", "needs_follow_up")

ACCESS_EVENTS = registry([AccessDecided, ContentReleased])
EMERGENCY_ACCESS_EVENTS = registry([EmergencyAccessTaken, EmergencyAccessReviewed])

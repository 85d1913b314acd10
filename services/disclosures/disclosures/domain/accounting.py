"""The accounting of disclosures workflow, 45 CFR 164.528 (deadlines and the service's event shapes).

What an accounting holds -- the six-year lookback (a)(1), the exclusions (a)(1)(i)-(ix), the
temporary suspensions (a)(2) -- is decided in one place, :mod:`confide.hipaa.accounting` (and
whether one disclosure is accountable at all by the engine, which says so in
``accounting_required`` before an ``AccountingEntryRecorded`` is ever written). This module keeps
only what the service's workflow adds:

- 164.528(c)(1): act within 60 days of receipt; one extension of at most 30 days, with a written
  statement of the reasons, given within the 60 days (:func:`due_at`, :func:`extended_due_at`);
- the translation of the service's events into the shared helper's input
  (:func:`as_disclosure`, :func:`as_suspension`).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

RESPONSE_DAYS = 60
EXTENSION_DAYS = 30


def due_at(received_at: datetime) -> datetime:
    """164.528(c)(1): no later than 60 days after receipt."""
    return received_at + timedelta(days=RESPONSE_DAYS)


def extended_due_at(current_due: datetime, already_extended: bool, now: datetime) -> Optional[datetime]:
    """164.528(c)(1)(ii): one 30-day extension, only before the current deadline; None when not allowed."""
    if already_extended or now > current_due:
        return None
    return current_due + timedelta(days=EXTENSION_DAYS)


def as_disclosure(entry: dict) -> dict:
    """An ``AccountingEntryRecorded`` payload as a disclosure of :func:`confide.hipaa.accounting.accounting`.

    The entry exists only because the engine's outcome said ``accounting_required`` (164.528(a)),
    so it is passed as accountable; the shared helper still applies the period and suspensions.
    Shape: {id, disclosed_at, recipient (org), recipient_role, description, purpose, accounting_required}.
    """
    recipient = entry.get("recipient") or {}
    return {"id": entry["entry_id"], "disclosed_at": entry["disclosed_at"], "recipient": recipient.get("org"),
            "recipient_role": recipient.get("role"), "description": entry.get("description"),
            "purpose": entry.get("purpose"), "accounting_required": True}


def as_suspension(suspension: dict) -> dict:
    """An ``AccountingSuspended`` payload as a suspension of :func:`confide.hipaa.accounting.accounting`.

    It protects disclosures to the agency named in ``agency.org`` (its role is the authority to ask,
    checked when it is recorded, not a filter on recipients).
    Shape: {recipient, requested_at, in_writing, until}.
    """
    return {"recipient": (suspension.get("agency") or {}).get("org"), "requested_at": suspension["starts_at"],
            "in_writing": bool(suspension.get("in_writing")), "until": suspension.get("ends_at")}

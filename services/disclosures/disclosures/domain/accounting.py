"""The accounting of disclosures, 45 CFR 164.528 (stdlib only).

- 164.528(a)(1): six years before the request; exclusions (i)-(ix).
- 164.528(a)(2): temporary suspension for a health oversight agency or law
  enforcement official: for the period in its written statement, or at most
  30 days from an oral statement (164.528(a)(2)(ii)).
- 164.528(b)(2): each entry gives date, recipient, a brief description of the
  information and a brief statement of purpose.
- 164.528(c)(1): act within 60 days of receipt; one extension of at most 30
  days, with a written statement of the reasons, given within the 60 days.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Optional

LOOKBACK_YEARS = 6
RESPONSE_DAYS = 60
EXTENSION_DAYS = 30
ORAL_SUSPENSION_MAX_DAYS = 30
SUSPENDING_ROLES = frozenset({"health_oversight_agency", "law_enforcement"})

# 164.528(a)(1)(i)-(ii), (iv): disclosures for TPO, to the individual, or under
# an authorization are never accounted. The engine already says so through
# ``accounting_required``; this filter is the second line of defence.
EXCLUDED_PURPOSES = frozenset({"treatment", "payment", "operations", "individual_access", "amendment"})


def lookback_start(requested_at: datetime) -> datetime:
    """164.528(a)(1): six years before the date the accounting is requested (Feb 29 → Feb 28)."""
    try:
        return requested_at.replace(year=requested_at.year - LOOKBACK_YEARS)
    except ValueError:
        return requested_at.replace(year=requested_at.year - LOOKBACK_YEARS, day=28)


def due_at(received_at: datetime) -> datetime:
    """164.528(c)(1): no later than 60 days after receipt."""
    return received_at + timedelta(days=RESPONSE_DAYS)


def extended_due_at(current_due: datetime, already_extended: bool, now: datetime) -> Optional[datetime]:
    """164.528(c)(1)(ii): one 30-day extension, only before the current deadline; None when not allowed."""
    if already_extended or now > current_due:
        return None
    return current_due + timedelta(days=EXTENSION_DAYS)


def suspension_end(starts_at: datetime, ends_at: Optional[datetime], in_writing: bool) -> datetime:
    """164.528(a)(2)(i)-(ii): a written statement names the period; an oral one lasts at most 30 days."""
    limit = starts_at + timedelta(days=ORAL_SUSPENSION_MAX_DAYS)
    if in_writing:
        if ends_at is None:
            raise ValueError("ends_at: a written suspension statement must specify the time period")
        return ends_at
    return min(ends_at, limit) if ends_at else limit


def is_suspended(entry: dict, suspensions: Iterable[dict], at: datetime, parse) -> bool:
    """True when a suspension requested by the entry's recipient agency is in force at ``at``."""
    recipient_org = (entry.get("recipient") or {}).get("org", "").casefold()
    for s in suspensions:
        agency_org = (s.get("agency") or {}).get("org", "").casefold()
        if agency_org and agency_org == recipient_org and parse(s["starts_at"]) <= at <= parse(s["ends_at"]):
            return True
    return False


def accountable(entries: Iterable[dict], suspensions: Iterable[dict], requested_at: datetime, parse) -> tuple[list, int]:
    """Entries to give the individual, and how many are withheld under a suspension.

    ``parse`` turns the stored timestamps into datetimes (kept a parameter so
    this module needs nothing beyond the standard library).
    """
    start = lookback_start(requested_at)
    shown, withheld = [], 0
    suspensions = list(suspensions)
    for entry in entries:
        disclosed = parse(entry["disclosed_at"])
        if not (start <= disclosed <= requested_at) or entry.get("purpose") in EXCLUDED_PURPOSES:
            continue
        if is_suspended(entry, suspensions, requested_at, parse):
            withheld += 1
            continue
        shown.append(entry)
    return shown, withheld

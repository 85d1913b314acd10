"""The accounting of disclosures report (45 CFR 164.528).

Whether one disclosure is accountable is a rule of the engine
(:func:`confide.hipaa.rules.s164_528.accounting_required`, re-exported here).  This module turns a
patient's recorded disclosures into the entries of the accounting the individual receives.

Input: ``disclosures`` -- a list of dicts, one per disclosure already made::

    {"id": str,                          # the disclosure's id (optional)
     "disclosed_at": RFC 3339 | datetime,  # required
     "recipient": str,                   # name of the entity or person who received the PHI
     "recipient_address": str | None,    # if known (164.528(b)(2)(ii))
     "recipient_role": str | None,       # e.g. "law_enforcement" -- matched against suspensions
     "description": str,                 # brief description of the PHI disclosed
     "purpose": str,                     # brief statement of purpose, or a copy of the request
     "accounting_required": bool | None, # the engine's decision, when recorded
     "basis": str | None}                # else: tpo, individual, incidental, authorization,
                                         # involvement, national_security, correctional,
                                         # limited_data_set (excluded) or hhs, 164.512 (included)

``suspensions`` -- temporary suspensions at a health oversight agency's or law enforcement
official's request (164.528(a)(2))::

    {"recipient": str | None, "recipient_role": str | None,   # whose disclosures are suspended
     "requested_at": RFC 3339,                                # when the statement was made
     "in_writing": bool,                                      # (a)(2)(i) written / (ii) oral
     "until": RFC 3339 | None}                                # the time limit stated

A written statement suspends for the time it specifies; an oral one for at most 30 days from the
statement, unless a written statement is submitted in that time (give it as its own written
suspension).

Output: a list of entries sorted by date, each
``{"disclosure_id", "date", "recipient", "recipient_address", "description", "purpose"}``
(164.528(b)(2)).  Disclosures more than ``lookback_years`` (six by default, 164.528(a)(1)) before
``as_of``, after ``as_of``, before the compliance date (2003-04-14, (a)(1)(ix)), excluded by
(a)(1), or suspended at ``as_of`` are left out.

Errors: :class:`~confide.hipaa.rules._case.CaseFileError` naming the item and field when a date is
missing or malformed.  Pure: no clock (``as_of`` is given), no I/O.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from confide.hipaa.rules._case import CaseFileError, parse_instant
from confide.hipaa.rules.s164_528 import COMPLIANCE_DATE, EXCLUSIONS, accounting_required

__all__ = ["accounting_entries", "accounting_required", "suspended"]

ORAL_SUSPENSION_LIMIT = timedelta(days=30)


def _years_before(at: datetime, years: int) -> datetime:
    try:
        return at.replace(year=at.year - years)
    except ValueError:  # 29 February
        return at.replace(year=at.year - years, day=28)


def _included(d: Mapping[str, Any]) -> bool:
    flag = d.get("accounting_required")
    if flag is not None:
        return bool(flag)
    basis = d.get("basis")
    return basis is not None and basis not in EXCLUSIONS


def suspended(disclosure: Mapping[str, Any], suspensions: Iterable[Mapping[str, Any]],
              as_of: datetime) -> bool:
    """Is ``disclosure`` temporarily suspended from the accounting at ``as_of`` (164.528(a)(2))?"""
    for i, s in enumerate(suspensions):
        if s.get("recipient") and s["recipient"] != disclosure.get("recipient"):
            continue
        if s.get("recipient_role") and s["recipient_role"] != disclosure.get("recipient_role"):
            continue
        if not s.get("recipient") and not s.get("recipient_role"):
            continue  # a suspension must name the agency or official it protects
        start = parse_instant(s.get("requested_at"), f"suspensions[{i}].requested_at")
        end = parse_instant(s["until"], f"suspensions[{i}].until") if s.get("until") else None
        if not s.get("in_writing"):
            limit = start + ORAL_SUSPENSION_LIMIT
            end = limit if end is None or end > limit else end
        elif end is None:
            continue  # (a)(2)(i) requires the written statement to specify the time
        if start <= as_of <= end:
            return True
    return False


def accounting_entries(disclosures: list[Mapping[str, Any]], *, as_of: datetime | str,
                       lookback_years: int = 6,
                       suspensions: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The entries of an accounting of disclosures as of ``as_of`` (see the module docstring)."""
    as_of = parse_instant(as_of, "as_of")
    if not isinstance(lookback_years, int) or lookback_years < 0:
        raise CaseFileError("lookback_years", "expected a non-negative integer")
    suspensions = list(suspensions)
    start = max(_years_before(as_of, lookback_years), COMPLIANCE_DATE)
    entries = []
    for i, d in enumerate(disclosures):
        if not isinstance(d, Mapping):
            raise CaseFileError(f"disclosures[{i}]", "expected an object")
        at = parse_instant(d.get("disclosed_at"), f"disclosures[{i}].disclosed_at")
        if not (start <= at <= as_of) or not _included(d) or suspended(d, suspensions, as_of):
            continue
        entries.append({
            "disclosure_id": d.get("id"),
            "date": at.isoformat().replace("+00:00", "Z"),
            "recipient": d.get("recipient"),
            "recipient_address": d.get("recipient_address"),
            "description": d.get("description"),
            "purpose": d.get("purpose"),
        })
    entries.sort(key=lambda e: (e["date"], str(e["disclosure_id"])))
    return entries

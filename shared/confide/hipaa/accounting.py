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

:func:`accounting` gives the same entries together with the start of the period and how many
otherwise accountable disclosures a suspension withholds (what a service answering an
individual's request needs); :func:`suspension_end` and :data:`SUSPENDING_ROLES` are the
164.528(a)(2) rules a service applies when it records a suspension.  Names of recipients are
compared without regard to case ("HHS OCR" and "hhs ocr" are one agency).

Errors: :class:`~confide.hipaa.rules._case.CaseFileError` naming the item and field when a date is
missing or malformed.  Pure: no clock (``as_of`` is given), no I/O.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from confide.hipaa.rules._case import CaseFileError, parse_instant
from confide.hipaa.rules.s164_528 import COMPLIANCE_DATE, EXCLUSIONS, accounting_required

__all__ = ["SUSPENDING_ROLES", "accounting", "accounting_entries", "accounting_required", "period_start",
           "suspended", "suspension_end"]

LOOKBACK_YEARS = 6
ORAL_SUSPENSION_LIMIT = timedelta(days=30)
#: 164.528(a)(2)(i): who may have the individual's right to an accounting temporarily suspended
SUSPENDING_ROLES = frozenset({"health_oversight_agency", "law_enforcement"})


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


def _same_name(a: Any, b: Any) -> bool:
    return str(a).casefold() == str(b or "").casefold()


def period_start(as_of: datetime | str, lookback_years: int = LOOKBACK_YEARS) -> datetime:
    """164.528(a)(1), (a)(1)(ix): the earliest disclosure an accounting requested at ``as_of`` covers --
    ``lookback_years`` (six) before it (29 February -> 28 February), never before the compliance date
    (2003-04-14).  Raises CaseFileError naming ``as_of`` or ``lookback_years``."""
    as_of = parse_instant(as_of, "as_of")
    if not isinstance(lookback_years, int) or isinstance(lookback_years, bool) or lookback_years < 0:
        raise CaseFileError("lookback_years", "expected a non-negative integer")
    return max(_years_before(as_of, lookback_years), COMPLIANCE_DATE)


def suspension_end(requested_at: datetime | str, until: datetime | str | None, in_writing: bool,
                   field: str = "suspension") -> datetime | None:
    """164.528(a)(2): when a suspension stated at ``requested_at`` ends.

    (a)(2)(i) a written statement suspends for the time it specifies (``until``); one that specifies
    none suspends nothing, and None is returned.  (a)(2)(ii) an oral statement suspends for at most
    30 days from the statement (``until`` caps it earlier).  Raises CaseFileError naming
    ``<field>.requested_at`` / ``<field>.until`` for a malformed instant."""
    start = parse_instant(requested_at, f"{field}.requested_at")
    end = parse_instant(until, f"{field}.until") if until else None
    if in_writing:
        return end
    limit = start + ORAL_SUSPENSION_LIMIT
    return limit if end is None or end > limit else end


def suspended(disclosure: Mapping[str, Any], suspensions: Iterable[Mapping[str, Any]],
              as_of: datetime) -> bool:
    """Is ``disclosure`` temporarily suspended from the accounting at ``as_of`` (164.528(a)(2))?"""
    for i, s in enumerate(suspensions):
        if s.get("recipient") and not _same_name(s["recipient"], disclosure.get("recipient")):
            continue
        if s.get("recipient_role") and s["recipient_role"] != disclosure.get("recipient_role"):
            continue
        if not s.get("recipient") and not s.get("recipient_role"):
            continue  # a suspension must name the agency or official it protects
        start = parse_instant(s.get("requested_at"), f"suspensions[{i}].requested_at")
        end = suspension_end(start, s.get("until"), bool(s.get("in_writing")), f"suspensions[{i}]")
        if end is not None and start <= as_of <= end:
            return True
    return False


def accounting(disclosures: list[Mapping[str, Any]], *, as_of: datetime | str,
               lookback_years: int = LOOKBACK_YEARS,
               suspensions: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The accounting of disclosures as of ``as_of`` (see the module docstring).

    Returns ``{"period_start": RFC 3339, "entries": [...], "withheld_under_suspension": int}``:
    ``entries`` as :func:`accounting_entries`; ``withheld_under_suspension`` counts the disclosures
    that would be entries but for a suspension in force at ``as_of`` (164.528(a)(2)).
    Raises CaseFileError naming the item and field."""
    as_of = parse_instant(as_of, "as_of")
    start = period_start(as_of, lookback_years)
    suspensions = list(suspensions)
    entries, withheld = [], 0
    for i, d in enumerate(disclosures):
        if not isinstance(d, Mapping):
            raise CaseFileError(f"disclosures[{i}]", "expected an object")
        at = parse_instant(d.get("disclosed_at"), f"disclosures[{i}].disclosed_at")
        if not (start <= at <= as_of) or not _included(d):
            continue
        if suspended(d, suspensions, as_of):
            withheld += 1
            continue
        entries.append({
            "disclosure_id": d.get("id"),
            "date": _rfc3339(at),
            "recipient": d.get("recipient"),
            "recipient_address": d.get("recipient_address"),
            "description": d.get("description"),
            "purpose": d.get("purpose"),
        })
    entries.sort(key=lambda e: (e["date"], str(e["disclosure_id"])))
    return {"period_start": _rfc3339(start), "entries": entries, "withheld_under_suspension": withheld}


def accounting_entries(disclosures: list[Mapping[str, Any]], *, as_of: datetime | str,
                       lookback_years: int = LOOKBACK_YEARS,
                       suspensions: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The entries of an accounting of disclosures as of ``as_of`` (see the module docstring)."""
    return accounting(disclosures, as_of=as_of, lookback_years=lookback_years,
                      suspensions=suspensions)["entries"]


def _rfc3339(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")

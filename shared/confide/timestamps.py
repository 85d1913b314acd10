"""The one timestamp form of Confide's events, and the one parser.

Every instant in an event's data, a reply or a case file is RFC 3339 in UTC with
microseconds and ``Z`` (``2026-05-01T15:00:00.000000Z``): :func:`format_ts`. The
store hashes ``recorded_at`` in the same form. :func:`parse_ts` reads that form and
every older or foreign one Confide meets (an offset instead of ``Z``, no fraction,
a plain date, which means midnight UTC).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Optional, Union, overload

Moment = Union[str, datetime, None]


def now_utc() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(timezone.utc)


def format_ts(moment: datetime, *, compact: bool = False) -> str:
    """``moment`` as RFC 3339 UTC with microseconds and ``Z``.

    ``compact=True`` drops a zero fraction (``2026-05-01T15:00:00Z``): the form of signed tree
    heads, which must stay byte-identical to the heads already handed out.
    Raises ValueError for a naive datetime (an instant without a zone is ambiguous).
    """
    if not compact:  # the usual case, an instant already in UTC (what the store returns): one call
        text = moment.isoformat(timespec="microseconds")
        if text.endswith("+00:00"):
            return text[:-6] + "Z"
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    if moment.utcoffset():
        moment = moment.astimezone(timezone.utc)
    text = moment.replace(tzinfo=None).isoformat(timespec="microseconds")
    if compact and moment.microsecond == 0:
        text = text[:-7]
    return text + "Z"


@overload
def parse_ts(value: Union[str, datetime], field: str = ..., *, require_zone: bool = ...) -> datetime: ...
@overload
def parse_ts(value: None, field: str = ..., *, require_zone: bool = ...) -> None: ...


def parse_ts(value: Moment, field: str = "timestamp", *, require_zone: bool = False) -> Optional[datetime]:
    """An aware UTC datetime from RFC 3339 (``Z`` or an offset; a naive one is taken as UTC) or a
    plain ``YYYY-MM-DD`` date (midnight UTC). ``None`` stays ``None``; a datetime passes through
    (made aware, in UTC). With ``require_zone`` only an instant with a zone is accepted (a recorded
    instant that lacks one is unreadable, not guessed).

    Raises ValueError naming ``field`` when the text is not such a timestamp.
    """
    if value is None:
        if require_zone:
            raise ValueError(f"{field}: expected an RFC 3339 timestamp with a zone, got None")
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            if len(text) == 10 and not require_zone:
                return datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
        except (ValueError, IndexError):
            raise ValueError(f"{field}: expected an RFC 3339 timestamp, got {value!r}") from None
    if moment.tzinfo is None:
        if require_zone:
            raise ValueError(f"{field}: expected an RFC 3339 timestamp with a zone, got {value!r}")
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 lies after datetime.max in UTC
        raise ValueError(f"{field}: timestamp out of range, got {value!r}") from None

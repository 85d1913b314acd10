"""Time travel: a stream's state as it stood at a given time.

The state is the fold of the stream's events recorded at or before ``at``:
each event's data is merged over the previous state (later fields win), and
the list of events known then is kept, so an auditor sees both what the note,
authorization or request looked like and how it got there.

A note's *clinical content* is never shown here: this is an audit view, not a
read of the note (reads go through the notes service, which decides and
records each access first). Note streams keep only lifecycle facts (ids,
people, dates, signatures, revision, lint categories); every other field is
named in ``withheld`` without its value.
"""
from __future__ import annotations

from datetime import datetime

from confide.streams import PROGRESS_NOTE, PSYCHOTHERAPY_NOTE, SUD_COUNSELING_NOTE, category_of
from confide.timestamps import format_ts

_NOTE_CATEGORIES = (PROGRESS_NOTE, PSYCHOTHERAPY_NOTE, SUD_COUNSELING_NOTE)
_LIFECYCLE_SUFFIXES = ("_id", "_ids", "_at", "_by", "_date", "_role", "_credentials")
_LIFECYCLE_KEYS = {"revision", "status", "kind", "late_entry", "days_late", "cosign_required",
                   "content_in_psych_note", "ground", "decision", "rule", "amendment_status"}


def _lifecycle_only(data: dict, withheld: set) -> dict:
    kept = {}
    for key, value in data.items():
        if key in _LIFECYCLE_KEYS or key.endswith(_LIFECYCLE_SUFFIXES):
            kept[key] = value
        else:
            withheld.add(key)
    return kept


def state_as_of(store, stream_name: str, at: datetime) -> dict:
    """``{stream, as_of, version, status, state, events: [{version, type, recorded_at}], withheld?}``.

    ``version`` is -1 and ``state`` empty when the stream did not exist yet.
    """
    state: dict = {}
    events = []
    withheld: set = set()
    is_note = category_of(stream_name) in _NOTE_CATEGORIES
    for ev in store.read_stream(stream_name):
        if ev.recorded_at > at:
            break
        state.update(_lifecycle_only(ev.data, withheld) if is_note else ev.data)
        events.append({"version": ev.stream_version, "type": ev.type,
                       "recorded_at": format_ts(ev.recorded_at), "global_position": ev.global_position})
    return {"stream": stream_name, "as_of": format_ts(at),
            "version": events[-1]["version"] if events else -1,
            "status": events[-1]["type"] if events else None, "state": state, "events": events,
            **({"withheld": sorted(withheld)} if is_note else {})}

"""Reading the facts a decision needs from the event store, as of the decision time.

Only metadata leaves these readers: a note's id, patient, author, session date
and kind. Note text (or ciphertext) in the same event data is never copied.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterator, Optional

from confide import streams
from confide.envelope import RecordedEvent

from disclosures.domain import model

NOTE_CATEGORIES = {
    streams.PROGRESS_NOTE: ("progress", "ProgressNoteDrafted"),
    streams.PSYCHOTHERAPY_NOTE: ("psychotherapy", "PsychotherapyNoteDrafted"),
}
NOTE_METADATA = ("note_id", "patient_id", "author_id", "session_date")
PAGE = 1000


def iter_category(store, category: str, as_of: Optional[datetime] = None) -> Iterator[RecordedEvent]:
    """Every event of a category recorded at or before ``as_of``, paging through the store."""
    position = 1
    while True:
        page = store.read_category(category, position, PAGE)
        for event in page:
            if as_of is None or event.recorded_at <= as_of:
                yield event
        if len(page) < PAGE:
            return
        position = page[-1].global_position + 1


def note_index(store, as_of: Optional[datetime] = None) -> list[dict]:
    """Metadata of every note drafted by ``as_of``: note_id, patient_id, author_id, session_date, kind."""
    notes = []
    for category, (kind, first_type) in NOTE_CATEGORIES.items():
        for event in iter_category(store, category, as_of):
            if event.type != first_type:
                continue
            data = event.data
            meta = {key: data.get(key) for key in NOTE_METADATA}
            meta["note_id"] = meta["note_id"] or streams.id_of(event.stream_name)
            meta["kind"] = kind
            notes.append(meta)
    return notes


def authorization_events(store, authorization_id: str) -> list[tuple[str, dict, datetime]]:
    name = streams.stream_name(streams.AUTHORIZATION, authorization_id)
    return [(e.type, e.data, e.recorded_at) for e in store.read_stream(name)]


def authorization_as_of(store, authorization_id: str, as_of: Optional[datetime]) -> model.AuthorizationState:
    return model.fold_authorization(authorization_id, authorization_events(store, authorization_id), as_of)


def authorizations_for_patient(store, patient_id: str, as_of: Optional[datetime]) -> list[model.AuthorizationState]:
    """Every authorization about ``patient_id`` on file at ``as_of``, folded as of then."""
    ids = [
        e.data["authorization_id"]
        for e in iter_category(store, streams.AUTHORIZATION, as_of)
        if e.type == "AuthorizationRecorded" and e.data.get("patient_id") == patient_id
    ]
    return [authorization_as_of(store, i, as_of) for i in ids]

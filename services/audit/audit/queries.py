"""Read-side queries over the audit projections (JSON-safe rows)."""
from __future__ import annotations

from typing import Protocol

from confide.eventstore.interfaces import CheckpointStore, LogReader, ProjectionStore
from confide.eventstore.store import json_default


def _safe(row: dict) -> dict:
    return {k: (json_default(v) if v is not None and not isinstance(v, (str, int, float, bool)) else v)
            for k, v in row.items()}


def rows(projections: ProjectionStore, table: str, patient_id: str | None, limit: int = 1000) -> list[dict]:
    """Rows of one projection table in global order, optionally for one patient."""
    where = {"patient_id": patient_id} if patient_id else None
    return [_safe(r) for r in projections.select(table, where=where, limit=limit)]


def note_history(projections: ProjectionStore, note_id: str) -> list[dict]:
    return [_safe(r) for r in projections.select("note_version_view", where={"note_id": note_id},
                                                 order_by="stream_version")]


#: The events that make a note and name its author (``note_version_view.actor_id`` = author_id).
DRAFTED_TYPES = ("ProgressNoteDrafted", "PsychotherapyNoteDrafted")
#: What "who has seen my notes" tells the author of each decision (no patient id: the page needs none).
SEEN_COLUMNS = ("global_position", "recorded_at", "decision_id", "requester_id", "requester_role",
                "requester_org", "note_id", "note_kind", "purpose", "action", "decision", "rule")


def decisions_on_notes_by(projections: ProjectionStore, author_id: str, limit: int = 200) -> list[dict]:
    """Access decisions on the notes ``author_id`` drafted, newest first (at most ``limit``)."""
    found = projections.access_log_on_notes_by(author_id, drafted_types=DRAFTED_TYPES, limit=limit)
    return [_safe({k: r.get(k) for k in SEEN_COLUMNS}) for r in found]


class StatusSource(LogReader, CheckpointStore, Protocol):
    """The log's head and the relay's checkpoint (a PostgresEventStore; the sealed index comes from
    :func:`confide.eventstore.chain.sealed_index`)."""


def status(store: StatusSource) -> dict:
    from confide.eventstore.chain import sealed_index
    from confide.relay import RELAY_CHECKPOINT

    sealed = sealed_index(store)
    return {"head_position": store.head_position(), "relayed_position": store.read_checkpoint(RELAY_CHECKPOINT),
            "sealed_index": sealed}

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


class StatusSource(LogReader, CheckpointStore, Protocol):
    """The log's head and the relay's checkpoint (a PostgresEventStore; the sealed index comes from
    :func:`confide.eventstore.chain.sealed_index`)."""


def status(store: StatusSource) -> dict:
    from confide.eventstore.chain import sealed_index
    from confide.relay import RELAY_CHECKPOINT

    sealed = sealed_index(store)
    return {"head_position": store.head_position(), "relayed_position": store.read_checkpoint(RELAY_CHECKPOINT),
            "sealed_index": sealed}

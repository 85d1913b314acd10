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


#: Note kinds a patient's own access log leaves out: the right of access does not extend to
#: psychotherapy notes (45 CFR 164.524(a)(1)(i)) and the portal does not disclose that any exist (as
#: ``notes.list_notes`` says nothing about notes it does not list).
PATIENT_LOG_EXCLUDED_KINDS = ("psychotherapy",)
#: How a patient's access log names a requester other than the patient: by role and organisation
#: only (``"role"``, the default), or with the requester's id too (``"id"``): the practice chooses
#: (audit config ``PATIENT_LOG_NAMES``, environment ``CONFIDE_PATIENT_LOG_NAMES``).
PATIENT_LOG_NAMES = ("role", "id")


def access_log_of_patient(projections: ProjectionStore, patient_id: str, names: str = "role",
                          limit: int = 200) -> list[dict]:
    """``patient_id``'s access-log rows, newest first, for the patient themself: {global_position,
    recorded_at, requester_role, requester_org, requester_id (the patient's own id when they asked;
    another requester's only when ``names`` is "id", else None), by_patient, note_id (progress notes;
    None otherwise), purpose, action, decision, rule}. No rows on psychotherapy notes
    (:data:`PATIENT_LOG_EXCLUDED_KINDS`); no request ids."""
    out = []
    for r in projections.access_log_of_patient(patient_id, excluded_note_kinds=PATIENT_LOG_EXCLUDED_KINDS,
                                               limit=limit):
        mine = r.get("requester_id") == patient_id
        out.append(_safe({
            "global_position": r["global_position"], "recorded_at": r["recorded_at"],
            "requester_role": r.get("requester_role"), "requester_org": r.get("requester_org"),
            "requester_id": r.get("requester_id") if mine or names == "id" else None, "by_patient": mine,
            "note_id": r.get("note_id") if r.get("note_kind") == "progress" else None,
            "purpose": r.get("purpose"), "action": r.get("action"), "decision": r.get("decision"),
            "rule": r.get("rule")}))
    return out


class StatusSource(LogReader, CheckpointStore, Protocol):
    """The log's head and the relay's checkpoint (a PostgresEventStore; the sealed index comes from
    :func:`confide.eventstore.chain.sealed_index`)."""


def status(store: StatusSource) -> dict:
    from confide.eventstore.chain import sealed_index
    from confide.relay import RELAY_CHECKPOINT

    sealed = sealed_index(store)
    return {"head_position": store.head_position(), "relayed_position": store.read_checkpoint(RELAY_CHECKPOINT),
            "sealed_index": sealed}

"""Read-side queries over the audit projections (JSON-safe rows)."""
from __future__ import annotations

from psycopg import sql
from psycopg.rows import dict_row

from confide.eventstore.store import json_default


def _safe(row: dict) -> dict:
    return {k: (json_default(v) if v is not None and not isinstance(v, (str, int, float, bool)) else v)
            for k, v in row.items()}


def rows(store, table: str, patient_id: str | None, limit: int = 1000) -> list[dict]:
    """Rows of one projection table in global order, optionally for one patient."""
    where = sql.SQL("WHERE patient_id = %s") if patient_id else sql.SQL("")
    query = sql.SQL("SELECT * FROM {}.{} {} ORDER BY global_position LIMIT %s").format(
        sql.Identifier(store.schema), sql.Identifier(table), where)
    params = (patient_id, limit) if patient_id else (limit,)
    with store.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return [_safe(r) for r in cur.execute(query, params).fetchall()]


def note_history(store, note_id: str) -> list[dict]:
    query = store.q("SELECT * FROM {s}.note_version_view WHERE note_id = %s ORDER BY stream_version")
    with store.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return [_safe(r) for r in cur.execute(query, (note_id,)).fetchall()]


def status(store) -> dict:
    with store.connection() as conn:
        sealed = conn.execute(store.q("SELECT max(chain_index) FROM {s}.event_chain")).fetchone()[0]
    from confide.relay import RELAY_CHECKPOINT

    return {"head_position": store.head_position(), "relayed_position": store.read_checkpoint(RELAY_CHECKPOINT),
            "sealed_index": sealed}

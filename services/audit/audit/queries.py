"""Read-side queries over the audit projections (JSON-safe rows)."""
from __future__ import annotations

from typing import Protocol

from confide.contracts.notes import DRAFTED
from confide.eventstore.interfaces import CheckpointStore, LogReader, ProjectionStore
from confide.eventstore.store import json_default


def _cell(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):  # an id array (access_log_view.note_ids)
        return [_cell(v) for v in value]
    return json_default(value)


def _safe(row: dict) -> dict:
    return {k: _cell(v) for k, v in row.items()}


def rows(projections: ProjectionStore, table: str, patient_id: str | None, limit: int = 1000) -> list[dict]:
    """Rows of one projection table in global order, optionally for one patient."""
    where = {"patient_id": patient_id} if patient_id else None
    return [_safe(r) for r in projections.select(table, where=where, limit=limit)]


def note_history(projections: ProjectionStore, note_id: str) -> list[dict]:
    return [_safe(r) for r in projections.select("note_version_view", where={"note_id": note_id},
                                                 order_by="stream_version")]


#: The events that make a note and name its author (``note_version_view.actor_id`` = author_id).
DRAFTED_TYPES = tuple(DRAFTED.values())
#: What "who has seen my notes" tells the author of each decision (no patient id: the page needs none;
#: no request id). ``note_ids`` are the author's own notes among those the decision covers, never a
#: colleague's; ``note_id`` is the decision's one note when it named exactly one (then hers), else None.
SEEN_COLUMNS = ("global_position", "recorded_at", "decision_id", "requester_id", "requester_role",
                "requester_org", "note_id", "note_ids", "note_kind", "purpose", "action", "decision", "rule")


def decisions_on_notes_by(projections: ProjectionStore, author_id: str, limit: int = 200) -> list[dict]:
    """Every access decision covering at least one note ``author_id`` drafted, each once, newest
    first (at most ``limit``): a read of one note, and a decision on several at once (a disclosure
    request, a patient's copy) that includes one of hers. Columns :data:`SEEN_COLUMNS`, with
    ``note_ids`` narrowed to her own notes (which others it covered is not hers to know)."""
    found = projections.access_log_on_notes_by(author_id, drafted_types=DRAFTED_TYPES, limit=limit)
    return [_safe({**{k: r.get(k) for k in SEEN_COLUMNS}, "note_ids": list(r.get("author_note_ids") or [])})
            for r in found]


#: Note kinds a patient's own access log leaves out: the right of access does not extend to
#: psychotherapy notes (45 CFR 164.524(a)(1)(i)), nor to a Part 2 program's SUD counseling notes,
#: protected the same way (42 CFR 2.11, 2.31(b)), and the portal does not disclose that any exist (as
#: ``notes.list_notes`` says nothing about notes it does not list).
PATIENT_LOG_EXCLUDED_KINDS = ("psychotherapy", "sud_counseling")
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


# -- the auditor's pages (web) ---------------------------------------------------------------

#: The most timeline rows one page of a patient's or a note's timeline holds, whatever is asked.
MAX_TIMELINE_ROWS = 500
#: The most access-log rows one search answers with (the counts always cover every matching row).
MAX_SEARCH_ROWS = 2000
#: What a timeline row says: metadata only (ids, roles, purposes, decisions, rules), never content.
TIMELINE_COLUMNS = ("position", "at", "kind", "label", "who", "role", "decision", "rule", "detail", "note_id")


def _timeline_rows(projections: ProjectionStore, where: dict, *, with_disclosures: bool) -> list[dict]:
    from audit import report

    notes = projections.select("note_version_view", where=where, related_by="note_id")
    if "note_id" in where:  # every decision covering the note, one on several notes included (as this note's)
        access = [{**r, "note_id": where["note_id"]}
                  for r in projections.access_log_search({"note_id": where["note_id"]}, newest_first=False)]
    else:
        access = projections.select("access_log_view", where=where)
    disclosures = (projections.select("disclosure_log_view", where=where, related_by="request_id")
                   if with_disclosures else [])
    accounting = projections.select("accounting_view", where=where) if with_disclosures else []
    entries = report.timeline(access_rows=[_safe(r) for r in access], disclosure_rows=[_safe(r) for r in disclosures],
                              accounting_rows=[_safe(r) for r in accounting], note_rows=[_safe(r) for r in notes])
    return [{k: e.get(k) for k in TIMELINE_COLUMNS} for e in entries]


def _page(entries: list[dict], limit: int, before_position: int | None) -> dict:
    """The newest ``limit`` entries below ``before_position``, oldest first, and where the next
    (older) page starts (None when there is none)."""
    limit = max(1, min(int(limit), MAX_TIMELINE_ROWS))
    if before_position is not None:
        entries = [e for e in entries if (e["position"] or 0) < int(before_position)]
    page = entries[-limit:]
    older = len(entries) > len(page)
    return {"entries": page, "total": len(entries), "older_before": page[0]["position"] if older and page else None}


def patient_timeline(projections: ProjectionStore, patient_id: str, limit: int = 200,
                     before_position: int | None = None) -> dict:
    """One patient's history by global position: note versions (every version of each of the
    patient's notes), access decisions, disclosure steps and accounting entries.

    -> {patient_id, entries: [{position, at, kind, label, who, role, decision, rule, detail}] oldest
    first (the newest ``limit`` below ``before_position``), total, older_before}."""
    found = _timeline_rows(projections, {"patient_id": patient_id}, with_disclosures=True)
    return {"patient_id": patient_id, **_page(found, limit, before_position)}


def note_timeline(projections: ProjectionStore, note_id: str, limit: int = 200,
                  before_position: int | None = None) -> dict:
    """One note's versions and the access decisions on it (a decision on several notes at once
    included), by global position (shape of
    :func:`patient_timeline`, with ``note_id`` and the note's ``patient_id`` and ``note_kind``)."""
    found = _timeline_rows(projections, {"note_id": note_id}, with_disclosures=False)
    versions = projections.select("note_version_view", where={"note_id": note_id}, limit=1)
    first = versions[0] if versions else {}
    return {"note_id": note_id, "patient_id": first.get("patient_id"), "note_kind": first.get("note_kind"),
            **_page(found, limit, before_position)}


#: The decisions a chart counts as a permit (any permit_*) or a deny; others (hold, discretionary) as other.
def decision_bucket(decision: str | None) -> str:
    if decision and decision.startswith("permit"):
        return "permit"
    if decision == "deny":
        return "deny"
    return "other"


def access_log_search(projections: ProjectionStore, filters: dict, since=None, until=None,
                      limit: int = 500) -> dict:
    """The access log filtered (``filters``: equality on decision, rule, purpose, requester_role,
    patient_id, note_id; ``since``/``until``: datetimes, ``[since, until)``), newest first.

    -> {rows (at most ``limit``), total (every match), by_rule: [{rule, decision, n}],
    by_day: [{day "YYYY-MM-DD", permit, deny, other}], choices: {decision, rule, purpose,
    requester_role: [values present in the whole log]}}."""
    filters = {k: v for k, v in filters.items() if v not in (None, "")}
    limit = max(1, min(int(limit), MAX_SEARCH_ROWS))
    rows = projections.access_log_search(filters, since=since, until=until, limit=limit)
    counts = projections.access_log_counts(filters, since=since, until=until)
    days: dict[str, dict] = {}
    for r in counts["by_day"]:
        day = r["day"].isoformat() if hasattr(r["day"], "isoformat") else str(r["day"])[:10]
        bucket = days.setdefault(day, {"day": day, "permit": 0, "deny": 0, "other": 0})
        bucket[decision_bucket(r["decision"])] += r["n"]
    return {"rows": [_safe(r) for r in rows], "total": counts["total"],
            "by_rule": [_safe(r) for r in counts["by_rule"]], "by_day": [days[d] for d in sorted(days)],
            "choices": projections.access_log_choices()}

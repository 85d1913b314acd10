"""Audit projections as pure functions: one event in, the rows it contributes out.

Each projection maps an event to zero or one row of its table, keyed by the
event's global position. Because a row depends on its event alone, applying
the same event twice is a no-op (ON CONFLICT DO NOTHING), and rebuilding from
position 1 gives identical rows to the live projection fed by RabbitMQ.

Tables (``deploy/sql/projections/10_audit.sql``): ``access_log_view`` (who
asked to see which note, for what, and the decision and rule),
``disclosure_log_view`` (each step of each disclosure request),
``accounting_view`` (45 CFR 164.528 accounting entries per patient),
``note_version_view`` (every version, addendum, amendment and signature).
No clinical content ever reaches these tables.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from confide.contracts.casefile import NOTE_CATEGORIES
from confide.streams import category_of, id_of

Row = dict[str, Any]


def _base(ev: dict) -> Row:
    return {"global_position": ev["global_position"], "event_id": ev["event_id"],
            "recorded_at": ev["recorded_at"]}


def _requester(data: dict) -> dict:
    r = data.get("requester") or {}
    return r if isinstance(r, dict) else {"id": str(r)}


def decided_note_ids(data: dict) -> list[str]:
    """The notes an ``AccessDecided`` covers: its ``note_ids`` when it names any (a disclosure
    request, a patient's copy), else its one ``note_id`` (a read; decisions recorded before
    ``note_ids`` existed), else none. In the event's order, as text (the SQL backfill in
    ``10_audit.sql`` gives the same list for rows projected before this column)."""
    many = data.get("note_ids")
    if isinstance(many, list) and many:
        return [str(n) for n in many]
    return [str(data["note_id"])] if data.get("note_id") else []


def access_log(ev: dict) -> Row | None:
    """AccessDecided → one access-log row (requester, note, patient, purpose, decision, rule), one
    per decision however many notes it covers: ``note_id`` when it names exactly one, ``note_ids``
    every note it covers (:func:`decided_note_ids`)."""
    if ev["type"] != "AccessDecided":
        return None
    d, r = ev["data"], _requester(ev["data"])
    return {**_base(ev), "decision_id": d.get("decision_id"), "requester_id": r.get("id"),
            "requester_role": r.get("role"), "requester_org": r.get("org"),
            "patient_id": d.get("patient_id"), "note_id": d.get("note_id"), "note_kind": d.get("note_kind"),
            "purpose": d.get("purpose"), "action": d.get("action"), "decision": d.get("decision"),
            "rule": d.get("rule"), "request_id": d.get("request_id"), "note_ids": decided_note_ids(d)}


_DISCLOSURE_STATUS = {
    "DisclosureRequested": "received",
    "DisclosurePlacedOnHold": "on_hold",
    "RequesterVerified": "verified",
    "DisclosureFactsAmended": "facts_amended",
    "DisclosureDecided": "decided",
    "DisclosureReleased": "released",
    "DisclosureRefused": "refused",
}


def disclosure_log(ev: dict) -> Row | None:
    """Each step of a disclosure request (received, on hold, verified, facts amended, decided,
    released, refused)."""
    if ev["type"] not in _DISCLOSURE_STATUS or category_of(ev["stream_name"]) != "disclosureRequest":
        return None
    d, r = ev["data"], _requester(ev["data"])
    fields = d.get("fields_released")
    return {**_base(ev), "request_id": d.get("request_id") or id_of(ev["stream_name"]),
            "event_type": ev["type"], "patient_id": d.get("patient_id"),
            "requester_org": r.get("org"), "requester_role": r.get("role"), "purpose": d.get("purpose"),
            "note_kind": d.get("note_kind"), "status": _DISCLOSURE_STATUS[ev["type"]],
            "decision": d.get("decision"), "rule": d.get("rule"),
            "fields_released": json.dumps(fields) if fields is not None else None}


def accounting(ev: dict) -> Row | None:
    """AccountingEntryRecorded → one 164.528 accounting row for the patient."""
    if ev["type"] != "AccountingEntryRecorded":
        return None
    d = ev["data"]
    recipient = d.get("recipient")
    if isinstance(recipient, dict):
        recipient = recipient.get("org") or recipient.get("name") or recipient.get("id")
    return {**_base(ev), "patient_id": d.get("patient_id") or "", "disclosed_at": d.get("disclosed_at"),
            "recipient": recipient, "purpose": d.get("purpose"), "description": d.get("description"),
            "request_id": d.get("request_id")}


# Who acted, in the order the notes service's events name them (signed_by on a
# signature, cosigned_by on a co-signature, decided_by on an amendment decision…).
_ACTOR_KEYS = ("signed_by", "signer_id", "cosigned_by", "cosigner_id", "revised_by", "decided_by", "author_id",
               "requested_by",
               "actor_id", "patient_id")


def note_versions(ev: dict) -> Row | None:
    """Every event of a note stream: version, type (drafted, revised, signed, addendum...) and actor."""
    category = category_of(ev["stream_name"])
    if category not in NOTE_CATEGORIES:
        return None
    d = ev["data"]
    actor = None
    for key in _ACTOR_KEYS:  # a loop, not next(genexpr): replay runs this for every note event
        actor = d.get(key)
        if actor:
            break
    else:
        actor = None
    return {**_base(ev), "note_id": d.get("note_id") or id_of(ev["stream_name"]),
            "note_kind": NOTE_CATEGORIES[category],
            "stream_version": ev["stream_version"], "event_type": ev["type"],
            "patient_id": d.get("patient_id"), "actor_id": actor}


PROJECTIONS: dict[str, tuple[str, Callable[[dict], Row | None]]] = {
    "access_log": ("access_log_view", access_log),
    "disclosure_log": ("disclosure_log_view", disclosure_log),
    "accounting": ("accounting_view", accounting),
    "note_versions": ("note_version_view", note_versions),
}

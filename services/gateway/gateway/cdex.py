"""HL7 Da Vinci CDex Task ↔ disclosure requests (pure functions, no I/O).

Inbound (``map_task``): a payer's data/attachment request Task becomes a
disclosure request for payment:

- ``Task.for`` → patient id: ``for.identifier.value``; a ``#id`` reference to a
  contained Patient → its member-number (``MB``) identifier, else its first
  identifier; a ``Patient/<id>`` reference → ``<id>``. The member id is taken as
  the practice's patient id (no crosswalk yet).
- note kind: ``psychotherapy`` when any requested code asks for psychotherapy
  notes (PSYCHOTHERAPY_CODES, or "psychotherapy" in a coding's display/text
  or a data-query string), else ``progress``.
- POU from the ``purpose-of-use`` input (e.g. CLMATTCH, COVERAGE, COVAUTH);
  claim from ``reasonReference``; service period from the ``service-date``
  input (valueDate or valuePeriod); due date from ``restriction.period.end``.
- the Task's own id and identifiers (tracking ids) are kept.
- ``Task.requester`` must not name another organisation than the bearer token's ``org``
  claim (``check_requester``): the token says who will receive the PHI, and a Task that claims
  to come from someone else is ambiguous about the recipient. This is answered **422 naming the
  field ``requester``** (not 403): the caller is authenticated and may ask, but this body
  contradicts its own credentials, like any other invalid field; nothing is recorded.
  A requester that names no organisation (e.g. only a ``PractitionerRole/<id>`` reference) is
  not checked; the token's org is the requester either way.
- Idempotency (``request_id_for``): the disclosure request id is ``uuid5`` of the token's org and
  the client's Task id (else its identifiers), so a re-POST of the same Task -- a retry after a
  timeout or a crash -- finds the request already made instead of creating a second one.

Outbound (``task_from_view``): the request's status the CDex way: requested →
accepted / on-hold / rejected (``statusReason``) → completed (``output``).
"""
from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Optional

HREX_TEMP = "http://hl7.org/fhir/us/davinci-hrex/CodeSystem/hrex-temp"
CONFIDE_TASK_ID = "urn:confide:client-task-id"
CONFIDE_RULE = "urn:confide:hipaa-rule"
# Codes that ask for psychotherapy notes: HL7 v3 ActCode PSYTHPN (psychotherapy
# note information sensitivity); extend with local or LOINC document codes here.
PSYCHOTHERAPY_CODES = frozenset({"PSYTHPN"})
INSURER_ROLES = frozenset({"insurer_health_plan", "insurer_non_covered", "workers_comp_carrier"})
TREATMENT_POU = frozenset({"TREAT", "COC", "ETREAT", "POPHLTH"})
# Namespace of the deterministic request ids derived from (token org, client Task id).
TASK_REQUEST_NAMESPACE = uuid.UUID("3f0c8a0e-5d0b-4b6e-9a43-6c1f2b7d9e15")


class TaskMappingError(ValueError):
    """The Task cannot be mapped; ``field`` names the offending element (HTTP 422)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list:
    return value if isinstance(value, list) else []


def _s(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value.strip() else None


def codings(concept: Any) -> list[dict]:
    return [c for c in _l(_d(concept).get("coding")) if isinstance(c, dict)]


def _input_code(item: dict) -> Optional[str]:
    for coding in codings(item.get("type")):
        if _s(coding.get("code")):
            return coding["code"]
    return None


def patient_of(task: dict) -> str:
    """The patient id a Task is ``for``. Raises TaskMappingError(field="for")."""
    subject = _d(task.get("for"))
    value = _s(_d(subject.get("identifier")).get("value"))
    if value:
        return value
    ref = _s(subject.get("reference"))
    if ref and ref.startswith("#"):
        contained = next((r for r in _l(task.get("contained"))
                          if isinstance(r, dict) and r.get("id") == ref[1:] and r.get("resourceType") == "Patient"), None)
        if contained is None:
            raise TaskMappingError("for", f"reference {ref} names no contained Patient")
        ids = [i for i in _l(contained.get("identifier")) if isinstance(i, dict) and _s(i.get("value"))]
        member = [i for i in ids if any(c.get("code") == "MB" for c in codings(i.get("type")))]
        if member or ids:
            return (member or ids)[0]["value"]
        raise TaskMappingError("for", f"contained Patient {ref} has no identifier")
    if ref and "Patient/" in ref:
        tail = ref.rsplit("Patient/", 1)[1].split("/", 1)[0]
        if tail:
            return tail
    raise TaskMappingError("for", "Task.for must identify the patient (identifier or Patient reference)")


def requested_codes(task: dict) -> list[dict]:
    """Every coding the Task asks with: Task.code, reasonCode, input types and coded values."""
    found = codings(task.get("code")) + codings(task.get("reasonCode"))
    for item in _l(task.get("input")):
        item = _d(item)
        if _input_code(item) != "purpose-of-use":
            found += codings(item.get("valueCodeableConcept"))
    return [{k: c.get(k) for k in ("system", "code", "display") if isinstance(c.get(k), str)} for c in found]


def _texts(task: dict) -> list[str]:
    texts = [_d(task.get("code")).get("text"), _d(task.get("reasonCode")).get("text")]
    for item in _l(task.get("input")):
        item = _d(item)
        texts += [item.get("valueString"), _d(item.get("valueCodeableConcept")).get("text")]
    return [t for t in texts if isinstance(t, str)]


def asks_for_psychotherapy(task: dict) -> bool:
    codes = requested_codes(task)
    if any(c.get("code") in PSYCHOTHERAPY_CODES for c in codes):
        return True
    words = [c.get("display") or "" for c in codes] + _texts(task)
    return any("psychotherapy" in w.casefold() for w in words)


def purpose_of_use(task: dict) -> Optional[str]:
    for item in _l(task.get("input")):
        item = _d(item)
        if _input_code(item) == "purpose-of-use":
            for coding in codings(item.get("valueCodeableConcept")):
                if _s(coding.get("code")):
                    return coding["code"]
    return None


def service_period(task: dict) -> tuple[Optional[str], Optional[str]]:
    for item in _l(task.get("input")):
        item = _d(item)
        if _input_code(item) != "service-date":
            continue
        day = _s(item.get("valueDate"))
        if day:
            return day[:10], day[:10]
        period = _d(item.get("valuePeriod"))
        if _s(period.get("start")) or _s(period.get("end")):
            return (_s(period.get("start")) or "")[:10] or None, (_s(period.get("end")) or "")[:10] or None
    return None, None


def claim_of(task: dict) -> Optional[str]:
    reason = _d(task.get("reasonReference"))
    return _s(_d(reason.get("identifier")).get("value")) or _s(reason.get("reference"))


def _requester_label(task: dict) -> Optional[str]:
    requester = _d(task.get("requester"))
    return _s(_d(requester.get("identifier")).get("value")) or _s(requester.get("reference"))


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def requester_names(task: dict) -> list[str]:
    """The organisation names/ids ``Task.requester`` gives: ``identifier.value``, ``display``,
    the id of an ``Organization/<id>`` reference, and the name and identifiers of a contained
    Organization it references (``#id``). Empty when it names no organisation."""
    requester = _d(task.get("requester"))
    names = [_s(_d(requester.get("identifier")).get("value")), _s(requester.get("display"))]
    ref = _s(requester.get("reference")) or ""
    if ref.startswith("#"):
        contained = next((r for r in _l(task.get("contained")) if isinstance(r, dict)
                          and r.get("id") == ref[1:] and r.get("resourceType") == "Organization"), None)
        if contained:
            names.append(_s(contained.get("name")))
            names += [_s(i.get("value")) for i in _l(contained.get("identifier")) if isinstance(i, dict)]
    elif "Organization/" in ref:
        names.append(_s(ref.rsplit("Organization/", 1)[1].split("/", 1)[0]))
    return [n for n in names if n]


def check_requester(task: dict, org: str) -> None:
    """Raise TaskMappingError(field="requester") when ``Task.requester`` names organisations and
    none of them is ``org`` (the token's claim; compared ignoring case and spacing)."""
    names = requester_names(task)
    if names and _norm(org) not in {_norm(n) for n in names}:
        raise TaskMappingError("requester", f"Task.requester names {', '.join(names)}, but the token was "
                                            f"issued to {org}: a Task may only be sent on one's own behalf")


def client_task_key(task: dict) -> Optional[str]:
    """What identifies a Task on the client's side: its ``id``, else its identifiers (system|value,
    sorted); None when it has neither."""
    task_id = _s(task.get("id"))
    if task_id:
        return f"id:{task_id}"
    pairs = sorted(f"{i.get('system') or ''}|{i.get('value')}" for i in _l(task.get("identifier"))
                   if isinstance(i, dict) and _s(i.get("value")))
    return "identifier:" + "\x1f".join(pairs) if pairs else None


def request_id_for(org: str, task: dict) -> Optional[str]:
    """The deterministic disclosure request id of ``task`` sent by ``org`` (uuid5 of both), or None
    when the Task carries no id or identifier to be recognised by (then every POST is new)."""
    key = client_task_key(task)
    return str(uuid.uuid5(TASK_REQUEST_NAMESPACE, f"{org}\x1f{key}")) if key else None


def purpose_for(role: str, pou: Optional[str]) -> str:
    """Insurers ask for payment (164.506(c)(3)); a clinician's TREAT/COC Task is treatment."""
    if role not in INSURER_ROLES and pou in TREATMENT_POU:
        return "treatment"
    return "payment"


def _validate_dates(date_from: Optional[str], date_to: Optional[str]) -> None:
    from datetime import date

    for value in (date_from, date_to):
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise TaskMappingError("input", f"service-date {value!r} is not a date") from None


def map_task(task: dict, role: str = "insurer_health_plan", org: Optional[str] = None) -> dict:
    """A validated CDex Task → the disclosure request fields (see module docstring).

    With ``org`` (the token's claim) the Task's requester is checked against it first.
    Returns {patient_id, purpose, note_kind, date_from, date_to, channel{...}}.
    Raises TaskMappingError naming the element (``resourceType``, ``requester``, ``for``, ``input``).
    """
    if task.get("resourceType") != "Task":
        raise TaskMappingError("resourceType", "resourceType must be 'Task'")
    if org is not None:
        check_requester(task, org)
    patient = patient_of(task)
    date_from, date_to = service_period(task)
    _validate_dates(date_from, date_to)
    pou = purpose_of_use(task)
    channel = {
        "standard": "HL7 Da Vinci CDex", "task_id": _s(task.get("id")),
        "task_identifiers": [i for i in _l(task.get("identifier")) if isinstance(i, dict)],
        "task_status": "requested", "task_requester": _requester_label(task), "pou": pou,
        "claim": claim_of(task), "codes": requested_codes(task),
        "reason": _s(_d(task.get("reasonCode")).get("text")),
        "due": _s(_d(_d(task.get("restriction")).get("period")).get("end")),
    }
    return {"patient_id": patient, "purpose": purpose_for(role, pou),
            "note_kind": "psychotherapy" if asks_for_psychotherapy(task) else "progress",
            "date_from": date_from, "date_to": date_to, "channel": channel}


# -- outbound ------------------------------------------------------------------

def task_status(view: dict) -> str:
    """requested → on-hold / accepted → completed | rejected (FHIR Task.status codes)."""
    return {"requested": "requested", "on_hold": "on-hold", "verified": "accepted", "decided": "accepted",
            "released": "completed", "refused": "rejected"}.get(view["status"], "requested")


def _outputs(content: Any) -> list[dict]:
    items = content if isinstance(content, list) else ([content] if content else [])
    out = []
    for i, item in enumerate(items):
        note_id = item.get("note_id") if isinstance(item, dict) else None
        payload = base64.b64encode(json.dumps(item, sort_keys=True).encode()).decode()
        out.append({
            "type": {"coding": [{"system": HREX_TEMP, "code": "data-value"}]},
            "valueAttachment": {"contentType": "application/json", "data": payload,
                                "title": f"note {note_id}" if note_id else f"item {i + 1}"},
        })
    return out


def task_from_view(view: dict) -> dict:
    """A FHIR Task for a disclosure request view (with ``content`` when released)."""
    channel = view.get("channel") or {}
    identifiers = list(channel.get("task_identifiers") or [])
    if channel.get("task_id"):
        identifiers.append({"system": CONFIDE_TASK_ID, "value": channel["task_id"]})
    task = {
        "resourceType": "Task", "id": view["request_id"], "identifier": identifiers,
        "status": task_status(view), "intent": "order",
        "for": {"identifier": {"value": view["patient_id"]}},
        "requester": {"identifier": {"value": view["requester"]["org"]}},
        "authoredOn": view["received_at"],
        "input": [{"type": {"coding": [{"code": "data-code"}]},
                   "valueCodeableConcept": {"coding": channel.get("codes") or [], "text": f"{view['note_kind']} notes"}}],
    }
    if channel.get("claim"):
        task["reasonReference"] = {"identifier": {"value": channel["claim"]}}
    reason = view.get("refusal") or view.get("hold")
    if reason:
        text = reason.get("reason") or "; ".join(reason.get("reasons") or [])
        task["statusReason"] = {"coding": [{"system": CONFIDE_RULE, "code": reason.get("rule") or ""}], "text": text}
    if view.get("decision"):
        task["businessStatus"] = {"text": view["decision"]["decision"]}
    if task["status"] == "completed":
        task["output"] = _outputs(view.get("content"))
    return task

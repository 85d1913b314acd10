"""The auditor's pages in Chromium on the demo data: timelines, the access log's filters, counts and
chart, verify, re-judging and the exports; refused to everyone else."""
from __future__ import annotations

import csv
import io
import json

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_choice(practice):
    """A demo patient with a note that has both versions and access decisions, and a rule cited."""
    import uuid

    reader = practice.people.member(f"AU-{uuid.uuid4().hex[:8]}", "auditor")
    with practice.rpc(reader) as rpc:
        rows = rpc.audit.access_log(limit=100_000)
        with_note = [r for r in rows if r.get("note_id") and r.get("patient_id")]
        assert with_note, f"the demo recorded no access decision on a note: {rows[:5]}"
        row = with_note[0]
        assert rpc.audit.note_history(row["note_id"]), "the demo's note has no versions"
    rules = {}
    for r in rows:
        rules[r["rule"]] = rules.get(r["rule"], 0) + 1
    return {"patient_id": row["patient_id"], "note_id": row["note_id"], "rule": row["rule"],
            "rule_rows": rules[row["rule"]], "all_rows": len(rows)}


def test_an_auditor_walks_the_audit_pages_on_the_demo_data(practice, journey, new_id, demo_choice):
    auditor = new_id("AU")
    practice.people.member(auditor, "auditor")
    data = journey("auditor.walk", person_id=auditor, **{k: demo_choice[k] for k in ("patient_id", "note_id", "rule")})
    assert "Audit" in data["nav"]

    # The patient's timeline: versions and decisions interleaved, positions strictly increasing.
    positions = [r["position"] for r in data["patient_rows"]]
    assert positions == sorted(set(positions)) and len(positions) >= 2, positions
    kinds = {r["kind"] for r in data["patient_rows"]}
    assert "note" in kinds and kinds & {"read", "decision"}, kinds
    assert any(r["decision"] for r in data["patient_rows"])
    # The note's: its versions and the decisions on it, in order, and nothing about another note.
    note_positions = [r["position"] for r in data["note_rows"]]
    assert note_positions == sorted(set(note_positions))
    note_kinds = {r["kind"] for r in data["note_rows"]}
    assert "note" in note_kinds and note_kinds & {"read", "decision"}, note_kinds
    assert set(note_positions) <= set(positions)

    # The access log filtered by one rule: the counts are the rows. The practice is shared by the
    # session's journeys and the projection applies events as they come, so the page's counts lie
    # between what the log held before the walk and after it.
    with practice.rpc(practice.people.member(new_id("AU"), "auditor")) as rpc:
        after = rpc.audit.access_log(limit=100_000)
    after_rule = sum(1 for r in after if r["rule"] == demo_choice["rule"])
    assert demo_choice["all_rows"] <= data["unfiltered_total"] <= len(after)
    assert demo_choice["rule_rows"] <= data["filtered_total"] <= after_rule
    assert data["filtered_total"] == len(data["filtered_rows"])
    assert data["rule_counts"] == [{"rule": demo_choice["rule"], "total": data["filtered_total"]}]
    assert {r["rule"] for r in data["filtered_rows"]} == {demo_choice["rule"]}
    # The chart: bars whose numbers add up to the rows, and the same numbers as a table.
    drawn = [b for b in data["bars"] if b["n"]]
    assert drawn and all(b["height"] > 0 for b in drawn)
    assert sum(b["n"] for b in data["bars"]) == data["filtered_total"]
    assert "per day" in data["chart_name"]
    assert data["chart_table"] and sum(int(c) for row in data["chart_table"] for c in row[1:]) == data["filtered_total"]

    # The FHIR export: a valid R4B Bundle of IHE BALP AuditEvents, one or more per row.
    from fhir.resources.R4B.bundle import Bundle

    assert data["fhir"]["filename"].endswith(".fhir.json")
    bundle = Bundle.parse_obj(json.loads(data["fhir"]["text"]))
    events = [e.resource for e in bundle.entry]
    assert events and {e.get_resource_type() for e in events} == {"AuditEvent"}
    assert len(events) >= data["filtered_total"]
    assert all(any("profiles.ihe.net/ITI/BALP" in p for p in e.meta.profile) for e in events)
    # The CSV: a header and the filtered rows.
    assert data["csv"]["filename"].endswith(".csv")
    table = list(csv.reader(io.StringIO(data["csv"]["text"])))
    assert table[0][:3] == ["global_position", "event_id", "recorded_at"]
    assert len(table) - 1 == data["filtered_total"]
    assert {dict(zip(table[0], r))["rule"] for r in table[1:]} == {demo_choice["rule"]}

    # Verify (OK, with the counts) and re-judging (nothing differs on the demo data).
    assert data["verify_events"] > 0 and "Verify: OK" in data["messages"]
    assert data["tree_heads"] >= 1
    assert data["rejudge"]["checked"] > 0 and data["rejudge"]["mismatches"] == 0, data["rejudge_text"]
    assert f"{data['rejudge']['checked']} decisions checked, 0 mismatches" in data["rejudge_summary"]


def test_markup_is_shown_as_text_bad_input_is_named_and_posts_need_csrf(practice, journey, new_id):
    auditor = new_id("AU")
    practice.people.member(auditor, "auditor")
    data = journey("auditor.hostile_input", person_id=auditor)
    assert data["shown"] == '<img src=x id="injected">"\''
    assert data["injected"] == 0 and data["dialogs"] == []
    assert data["bad_date_status"] == 400 and "since" in data["bad_date_text"]
    assert data["filtered_status"] == 200 and data["filtered_total"] == "0"
    assert data["no_csrf_status"] == 403


@pytest.mark.parametrize("roles", [["clinician"], ["front_desk"]])
def test_people_who_are_not_auditors_are_refused_the_audit_pages(practice, journey, new_id, demo_choice, roles):
    person = new_id("C")
    practice.people.member(person, *roles)
    data = journey("auditor.statuses", person_id=person, roles=roles, label=roles[0],
                   patient_id=demo_choice["patient_id"])
    assert "Audit" not in data["nav"]
    assert set(data["status"].values()) == {403}, data["status"]
    assert "You may not open this page" in data["audit_home"] and "auditor" in data["audit_home"]


def test_the_privacy_officer_may_read_the_audit_pages(practice, journey, new_id, demo_choice):
    officer = new_id("PO")
    practice.people.member(officer, "privacy_officer")
    data = journey("auditor.statuses", person_id=officer, roles=["privacy_officer"], label="privacy_officer",
                   patient_id=demo_choice["patient_id"])
    assert "Audit" in data["nav"]
    pages = {p: 200 for p in data["status"] if not p.startswith("/audit/integrity/")}
    # The same POSTs (with the CSRF token) that a clinician is refused run for her: verify, then re-judging.
    assert data["status"] == {**pages, "/audit/integrity/": 200, "/audit/integrity/verify": 302,
                              "/audit/integrity/rejudge": 200}

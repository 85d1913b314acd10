""""Who has seen my notes" in Chromium, against a real AuditService: a clinician signs in at the
front door, follows the home page's link, and sees every access decision on the notes she wrote
(newest first) and none on a colleague's, an insurer's decision on her note and a colleague's at
once among them, naming her note and never the colleague's; with the audit service unreachable the page says so
(503) and shows no table; a billing member has no link and is refused (403).

The AuditService runs in a nameko container on this test's vhost over a scratch schema; the web
server calls it over that vhost (``CONFIDE_AMQP_URI_WEB``) and shares its key directory, so the
gate trusts the assertions the web mints. The clinician is enrolled both in the file directory
(the web's) and in the event store's directory (the audit gate's).
"""
from __future__ import annotations

import uuid

import pytest

from confide.envelope import NewEvent
from confide.testing.polling import wait_for

from .conftest import start_web, stop

pytestmark = pytest.mark.integration


@pytest.fixture
def store(audit_store):
    return audit_store


@pytest.fixture
def people(audit_people):
    return audit_people


def a_note(store, author_id):
    note_id = str(uuid.uuid4())
    store.append(f"progressNote-{note_id}", [NewEvent("ProgressNoteDrafted", {
        "note_id": note_id, "patient_id": "P-1", "author_id": author_id, "author_role": "clinician",
        "author_credentials": "LCSW", "supervisor_id": None, "session_date": "2026-12-01",
        "drafted_at": "2026-12-01T10:00:00Z"})], -1)
    return note_id


def a_decision(store, note_id, requester_id, org, decision, purpose, rule):
    decision_id = str(uuid.uuid4())
    store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": requester_id, "role": "clinician_same_practice", "org": org},
        "patient_id": "P-1", "note_id": note_id, "note_kind": "progress", "purpose": purpose,
        "action": "use", "decision": decision, "rule": rule})])
    return decision_id


def a_disclosure_decision(store, note_ids, org, decision, purpose, rule):
    """As the disclosures service records a request's decision: ``note_ids``, no single ``note_id``."""
    decision_id = str(uuid.uuid4())
    store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", {
        "decision_id": decision_id, "requester": {"id": f"{org} claims", "role": "insurer_health_plan", "org": org},
        "patient_id": "P-1", "note_id": None, "note_ids": note_ids, "note_kind": "progress", "purpose": purpose,
        "action": "disclose", "decision": decision, "rule": rule, "request_id": f"req-{decision_id[:8]}"})])
    return decision_id


def test_a_clinician_sees_who_has_seen_her_notes(tmp_path, web_db_dsn, directory, journey, member_id,
                                                 audit, audit_config, people, store):
    clinician, colleague = member_id("C"), member_id("C")
    people.member(clinician, "clinician")
    mine, theirs = a_note(store, clinician), a_note(store, colleague)
    first = a_decision(store, mine, colleague, "North", "permit", "treatment", "45 CFR 164.506(c)(1)")
    a_decision(store, theirs, clinician, "North", "permit", "treatment", "45 CFR 164.506(c)(1)")
    second = a_decision(store, mine, "X-payer", "Acme Health", "deny", "payment", "45 CFR 164.508(a)(2)")
    insurer = a_disclosure_decision(store, [theirs, mine], "Acme Health Plan", "permit_minimum_necessary", "payment",
                                    "45 CFR 164.506(c)(4); 164.502(b)")
    wait_for(lambda: len(store.projections.select("access_log_view")) == 4, timeout=30)

    server = start_web(tmp_path, web_db_dsn, directory, CONFIDE_KEY_DIR=audit_config["KEY_DIR"],
                       CONFIDE_AMQP_URI_WEB=audit_config["AMQP_URI"])
    try:
        data = journey("notes_seen", server, member_id=clinician, expect="table")
    finally:
        stop(server.proc)
    assert data["status"] == 200 and "no-store" in data["cache_control"], data
    assert data["decisions"] == [insurer, second, first]
    assert data["col_headers"] == 6
    # The insurer's decision covered her note and the colleague's: hers shown, the colleague's nowhere.
    when, who, purpose, decision, rule, note = data["rows"][0]
    assert who.split()[-3:] == ["Acme", "Health", "Plan"] and "insurer_health_plan" in who, who
    assert purpose.split() == ["payment", "disclosure"] and decision == "permit_minimum_necessary"
    assert rule == "45 CFR 164.506(c)(4); 164.502(b)" and note.startswith("progress " + mine[:6])
    assert data["notes"] == [[mine], [mine], [mine]]
    assert theirs not in data["html"] and theirs[:6] not in data["html"]
    when, who, purpose, decision, rule, note = data["rows"][1]
    assert who.split() == ["X-payer", "clinician_same_practice,", "Acme", "Health"], who
    assert (purpose, decision, rule) == ("payment", "deny", "45 CFR 164.508(a)(2)")
    assert note.startswith("progress " + mine[:6])
    assert data["rows"][2][1].split()[0] == colleague


def test_the_page_fails_closed_when_the_audit_service_is_unreachable(tmp_path, web_db_dsn, directory, journey,
                                                                     member_id):
    # Nothing listens on this broker address: the call cannot be made, so the page must say so.
    server = start_web(tmp_path, web_db_dsn, directory, CONFIDE_AMQP_URI_WEB="amqp://web:x@127.0.0.1:1/nowhere")
    try:
        data = journey("notes_seen", server, member_id=member_id("C"), expect="unavailable")
    finally:
        stop(server.proc)
    assert data == {"status": 503, "tables": 0}


def test_billing_has_no_link_and_is_refused_the_page(web, journey, member_id):
    data = journey("notes_seen", web, member_id=member_id("B"), roles=["billing"], expect="forbidden")
    assert data == {"links": 0, "status": 403}

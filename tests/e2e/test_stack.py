"""The walking skeleton end to end: practice RPCs, insurer HTTP, audit trail and verify.

Synthetic data only.
"""
import uuid

import psycopg
import pytest
from nameko.exceptions import RemoteError

from confide import config as confide_config
from confide import transport
from confide.eventstore.chain import load_chain_key, verify
from confide.eventstore.store import PostgresEventStore
from confide.keys import load_public_key
from confide.testing.notes import progress_content
from confide.testing.polling import wait_for
from gateway import client

PRACTICE = "Northside Counseling Group"
MARKER = "ZEBRA-PERSIMMON-" + uuid.uuid4().hex[:8]


def author(stack):
    """clin-a, the clinician who writes the notes (who is asking: her assertion)."""
    return stack.people.member("clin-a", "clinician", credentials="PhD", org=PRACTICE)


def other_clinician(stack):
    return stack.people.member("clin-b", "clinician", org=PRACTICE)


def payer_token(stack, org):
    """An access token the SMART Backend Services way: key pair, registration in the directory (the one
    payer registry: the gateway reads it through the directory service, the services' identity gate
    from the store), client assertion, /oauth/token."""
    key = client.new_key()
    stack.people.payer(org, "insurer_health_plan", name=org, jwks=client.public_jwks(key))
    status, body = client.request_token(stack.base_url + "/oauth/token", org, key)
    assert status == 200, body
    return body["access_token"]


def write_notes(stack, patient):
    """clin-a writes and signs a progress and a psychotherapy note about ``patient`` (registered here)."""
    stack.people.patient(patient)
    with stack.rpc("notes", author(stack)) as notes:
        progress = notes.write_progress_note({"patient_id": patient, "content": progress_content()})
        notes.sign_note(progress["note_id"])
        psych = notes.write_psychotherapy_note({
            "patient_id": patient, "session_date": "2026-03-02",
            "sealed_text": transport.seal_for(notes.transport_public_key(),
                                              f"Noticed my own impatience when she spoke about her brother. {MARKER}")})
        notes.sign_note(psych["note_id"])
    return progress["note_id"], psych["note_id"]


def access_rows(stack, patient):
    store = PostgresEventStore(stack.config["DB_DSN"], schema=stack.schema, pool_size=1)
    try:
        return [(r["requester_id"], r["decision"], r["rule"])
                for r in store.projections.select("access_log_view", where={"patient_id": patient})]
    finally:
        store.close()


def test_author_reads_her_psychotherapy_note_and_another_clinician_is_denied(stack):
    patient = "P-" + uuid.uuid4().hex[:8]
    _, psych_id = write_notes(stack, patient)
    with stack.rpc("notes", author(stack)) as notes:  # the originator: the notes show she wrote it
        key, reply_key = transport.ephemeral()
        sealed = notes.read_note(psych_id, "treatment", reply_public_key=reply_key)
        assert MARKER not in str(sealed)  # sealed on the broker
        mine = transport.open_tree(key, sealed)
    with stack.rpc("notes", other_clinician(stack)) as notes, pytest.raises(RemoteError) as denied:
        notes.read_note(psych_id, "treatment")
    assert mine["decision"]["decision"] == "permit" and MARKER in str(mine["note"])
    assert "164.508(a)(2)(i)(A)" in mine["decision"]["rule"]
    assert denied.value.exc_type == "AccessDeniedError" and "recorded" in denied.value.value
    assert MARKER not in denied.value.value
    # Both decisions reached the audit trail through the relay and RabbitMQ.
    rows = wait_for(lambda: (lambda r: r if len(r) >= 2 else None)(access_rows(stack, patient)))
    assert [(r[0], r[1]) for r in rows] == [("clin-a", "permit"), ("clin-b", "deny")]


def test_insurer_gets_minimum_necessary_progress_fields_and_is_denied_psychotherapy_notes(stack):
    patient = "P-" + uuid.uuid4().hex[:8]
    write_notes(stack, patient)
    token = payer_token(stack, "Acme Health Plan")

    status, body = stack.http("POST", "/disclosure-requests", {
        "patient_id": patient, "purpose": "payment", "note_kind": "progress",
        "date_from": "2026-03-01", "date_to": "2026-03-31"}, token)
    assert status == 201, body
    assert body["decision"]["decision"] == "permit_minimum_necessary"
    released = body["content"]["notes"][0]["fields"]
    assert set(released) <= set(body["decision"]["fields_released"])
    assert "diagnosis_codes" in released
    for clinical in ("interventions", "risk_assessment", "prognosis"):
        assert clinical not in released  # not in the payment minimum necessary set
    assert MARKER not in str(body)

    status, body = stack.http("POST", "/disclosure-requests", {
        "patient_id": patient, "purpose": "payment", "note_kind": "psychotherapy"}, token)
    assert status == 201, body
    assert body["decision"]["decision"] == "deny"
    assert "164.508(a)(2)" in body["decision"]["rule"]
    assert MARKER not in str(body)

    status, got = stack.http("GET", f"/disclosure-requests/{body['id']}", token=token)
    assert status == 200 and got["status"] == "refused"
    other_org = payer_token(stack, "Other Plan")
    assert stack.http("GET", f"/disclosure-requests/{body['id']}", token=other_org)[0] == 404


def test_audit_verify_catches_a_row_altered_by_a_superuser(stack, tmp_path):
    patient = "P-" + uuid.uuid4().hex[:8]
    write_notes(stack, patient)
    store = PostgresEventStore(stack.config["DB_DSN"], schema=stack.schema, pool_size=2)
    key_dir, checkpoints = stack.config["KEY_DIR"], stack.config["CHECKPOINT_DIR"]
    try:
        head = store.head_position()
        wait_for(lambda: store.read_checkpoint("relay:confide.events") >= head)
        report = verify(store, load_chain_key(key_dir), load_public_key(key_dir), checkpoints)
        assert report.ok and report.sealed >= head - 1
        admin = confide_config.with_dbname(confide_config.admin_dsn(), "confide_test")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute(f'UPDATE "{stack.schema}".events SET type = type || \'X\' WHERE global_position = 2')
        report = verify(store, load_chain_key(key_dir), load_public_key(key_dir), checkpoints)
        assert not report.ok and report.first_bad_position == 2
    finally:
        store.close()


def test_a_retried_insurer_request_with_an_idempotency_key_is_made_once(stack):
    """Issue 12: a payer that lost the answer retries with the same Idempotency-Key and gets the same
    request (id, status), not a second disclosure; the same key with another body is refused (422);
    another payer's same key is its own request."""
    patient = "P-" + uuid.uuid4().hex[:8]
    write_notes(stack, patient)
    token = payer_token(stack, "Acme Health Plan")
    key = {"Idempotency-Key": "claim-77-" + uuid.uuid4().hex[:8]}
    body = {"patient_id": patient, "purpose": "payment", "note_kind": "progress", "claim_id": "C-77"}

    status, first = stack.http("POST", "/disclosure-requests", body, token, headers=key)
    assert status == 201 and first["status"] == "released", first
    status, again = stack.http("POST", "/disclosure-requests", body, token, headers=key)
    assert status == 200 and (again["id"], again["status"]) == (first["id"], first["status"])
    assert again["content"]["notes"][0]["fields"] == first["content"]["notes"][0]["fields"]

    status, other = stack.http("POST", "/disclosure-requests", {**body, "note_kind": "psychotherapy"}, token,
                               headers=key)
    assert status == 422 and other["field"] == "Idempotency-Key"

    status, theirs = stack.http("POST", "/disclosure-requests", body, payer_token(stack, "Other Plan"), headers=key)
    assert status == 201 and theirs["id"] != first["id"]

    store = PostgresEventStore(stack.config["DB_DSN"], schema=stack.schema, pool_size=1)
    try:
        made = [e.type for e in store.read_stream(f"disclosureRequest-{first['id']}")]
    finally:
        store.close()
    assert made == ["DisclosureRequested", "DisclosureDecided", "DisclosureReleased"]  # once

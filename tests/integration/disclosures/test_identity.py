"""Who is asking, end to end: the disclosures service takes it from the verified identity alone
(the payer's assertion the gateway mints, a member's or patient's a front door mints), never from
the payload (164.312(d), 164.514(h))."""
import importlib.util
import json
import pathlib
import uuid

import pytest
from nameko.exceptions import RemoteError

from confide import config, transport
from gateway import cdex
from gateway.errors import RequestNotFound

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest_id", pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)


def post(system, token, path, body):
    return system.http.post(path, data=json.dumps(body), headers={**cf.auth_header(token),
                                                                  "Content-Type": "application/json"})


def written(pg_store, request_id):
    return pg_store.read_stream(f"disclosureRequest-{request_id}")


def access_decided(pg_store, decision_id):
    [decided] = [e.data for e in pg_store.read_stream(f"accessDecision-{decision_id}") if e.type == "AccessDecided"]
    return decided


def test_a_payload_naming_a_requester_is_refused_and_nothing_is_written(system, org, patient, pg_store):
    payer = system.payers.principal(org)
    forged = {"id": "someone-else", "role": "clinician_same_practice", "org": "practice", "identity_verified": True}
    request_id = str(uuid.uuid4())
    with system.as_(payer, "disclosures") as disclosures, pytest.raises(RemoteError) as info:
        disclosures.request_disclosure({"requester": forged, "patient_id": patient, "purpose": "payment",
                                        "request_id": request_id})
    assert info.value.exc_type == "NotAuthorizedError" and "requester" in str(info.value)
    assert written(pg_store, request_id) == []
    with system.rpc("disclosures") as anonymous, pytest.raises(RemoteError) as info:
        anonymous.request_disclosure({"patient_id": patient, "purpose": "payment", "request_id": request_id})
    assert info.value.exc_type == "NotAuthenticatedError"
    assert written(pg_store, request_id) == []


def test_an_insurer_decides_as_the_role_it_is_registered_with(system, org, patient, pg_store):
    cf.write_note(system, cf.progress_note(patient))
    token = system.token(org, role="workers_comp_carrier")
    body = post(system, token, "/disclosure-requests", {"patient_id": patient}).json()
    assert body["decision"], body
    with system.as_(system.payers.principal(org, "workers_comp_carrier"), "disclosures") as disclosures:
        view = disclosures.get_disclosure_request(body["id"])
    assert view["requester"]["role"] == "workers_comp_carrier"
    decided = access_decided(pg_store, view["decision"]["decision_id"])
    assert decided["requester"] == {"id": org, "role": "workers_comp_carrier", "org": org}
    assert decided["decided_for"]["subject"] == org and decided["decided_for"]["amr"] == ["swk"]
    # the same payer re-fetches under the same decision: the requester id is the payer's subject
    again = system.http.get(f"/disclosure-requests/{body['id']}", headers=cf.auth_header(token))
    assert again.status_code == 200 and again.json()["status"] == body["status"]


def test_an_unregistered_patient_is_refused_and_nothing_is_written(system, org, pg_store):
    stranger = "P-never-registered-" + org
    reply = post(system, system.token(org), "/disclosure-requests", {"patient_id": stranger})
    assert reply.status_code == 422 and reply.json()["field"] == "patient_id", reply.text
    task = json.loads((config.data_dir() / "payer-requests" / "davinci-cdex" / "cdex-task-example19.json").read_text())
    task["requester"] = {"identifier": {"system": "urn:confide:test-org", "value": org}}
    task["for"] = {"identifier": {"value": stranger}}
    reply = post(system, system.token(org), "/fhir/Task", task)
    assert reply.status_code == 422 and reply.json()["field"] == "patient_id", reply.text
    assert written(pg_store, cdex.request_id_for(org, task)) == []


def test_a_request_staff_record_is_held_until_they_verify_it(system, org, patient, pg_store):
    note_id = cf.write_note(system, cf.progress_note(patient))
    outside = {"role": "insurer_health_plan", "id": "claims-clerk-1", "org": org}  # by post, not through the API
    with system.as_(system.staff, "disclosures") as disclosures:
        held = disclosures.request_disclosure({"patient_id": patient, "purpose": "payment",
                                               "external_requester": outside})
    assert held["status"] == "on_hold" and "164.514(h)" in held["hold"]["rule"]
    assert held["recorded_by"] == system.staff.subject and held["requester"]["identity_verified"] is False
    # the payer's own API does not show a request it did not make through it
    assert system.http.get(f"/disclosure-requests/{held['request_id']}",
                           headers=cf.auth_header(system.token(org))).status_code == 404

    officer = system.people.member(f"PO-{org}", "privacy_officer")
    key, reply_key = transport.ephemeral()
    with system.as_(officer, "disclosures") as disclosures:
        done = transport.open_tree(key, disclosures.verify_requester(
            {"request_id": held["request_id"], "method": "call-back to the number on file"},
            reply_public_key=reply_key))
    assert done["status"] == "released" and done["verification"]["verified_by"] == officer.subject
    assert done["release"]["note_ids"] == [note_id]
    decided = access_decided(pg_store, done["decision"]["decision_id"])
    assert decided["requester"]["id"] == "claims-clerk-1" and decided["decided_for"]["subject"] == officer.subject


def test_a_payer_cannot_read_another_orgs_request(system, org, patient):
    mine = post(system, system.token(org), "/disclosure-requests", {"patient_id": patient}).json()
    other = system.payers.principal(org + "-other")
    with system.as_(other, "disclosures") as disclosures:
        for call in (lambda: disclosures.get_disclosure_request(mine["id"], include_content=True),
                     lambda: disclosures.resume_request(mine["id"])):
            with pytest.raises(RequestNotFound):  # the gateway's local type for it (registered in this process)
                call()
    with system.as_(system.payers.principal(org), "disclosures") as disclosures:
        assert disclosures.get_disclosure_request(mine["id"])["status"] == mine["status"]

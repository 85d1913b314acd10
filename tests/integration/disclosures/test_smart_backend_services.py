"""SMART Backend Services over HTTP: a payer's key pair, registration, client assertion, /oauth/token,
then the API with the access token -- and the refusals a payer sees on the wire."""
import importlib.util
import json
import pathlib
import time

from confide.testing.polling import wait_for
from gateway import client
from gateway.payers import MAX_CACHE_TTL

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest", pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)


def token_post(system, form, content_type="application/x-www-form-urlencoded"):
    return system.http.post("/oauth/token", data=form, headers={"Content-Type": content_type})


def test_client_credentials_round_trip_then_a_cdex_task(system, org):
    key = client.new_key()
    system.people.payer(org, "insurer_health_plan", name=f"{org} Health Plan", jwks=client.public_jwks(key))
    system.people.patient("Member123")
    assertion = client.client_assertion(key, org, system.token_url)
    reply = token_post(system, client.token_form(assertion, "system/Task.write system/Task.read"))
    assert reply.status_code == 200, reply.text
    assert reply.headers["Cache-Control"] == "no-store"
    body = reply.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    assert body["scope"] == "system/Task.write system/Task.read"

    from confide import config

    task = json.loads((config.data_dir() / "payer-requests" / "davinci-cdex" / "cdex-task-example19.json").read_text())
    task["requester"] = {"identifier": {"system": "urn:confide:test-org", "value": org}}
    created = system.http.post("/fhir/Task", data=json.dumps(task),
                               headers={**cf.auth_header(body["access_token"]), "Content-Type": "application/fhir+json"})
    assert created.status_code == 201, created.text
    fetched = system.http.get(f"/fhir/Task/{created.json()['id']}", headers=cf.auth_header(body["access_token"]))
    assert fetched.status_code == 200 and fetched.json()["id"] == created.json()["id"]

    # the same assertion again: replay
    again = token_post(system, client.token_form(assertion, "system/Task.read"))
    assert again.status_code == 400 and again.json()["error"] == "invalid_client"
    assert "reused jti" in again.json()["error_description"]
    # the scope granted does not cover the plain JSON API
    denied = system.http.get(f"/disclosure-requests/{created.json()['id']}", headers=cf.auth_header(body["access_token"]))
    assert denied.status_code == 403 and "insufficient_scope" in denied.headers["WWW-Authenticate"]


def test_refusals_on_the_wire_name_what_failed(system, org):
    key = system.payers.register(org)
    wrong_aud = client.client_assertion(key, org, "https://elsewhere.example/oauth/token")
    reply = token_post(system, client.token_form(wrong_aud))
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_client"
    assert "wrong aud" in reply.json()["error_description"]

    unknown = client.client_assertion(client.new_key(), org + "-unknown", system.token_url)
    assert "unknown client" in token_post(system, client.token_form(unknown)).json()["error_description"]

    other_grant = {**client.token_form(client.client_assertion(key, org, system.token_url)), "grant_type": "password"}
    assert token_post(system, other_grant).json()["error"] == "unsupported_grant_type"
    bad_scope = client.token_form(client.client_assertion(key, org, system.token_url), "patient/*.read")
    assert token_post(system, bad_scope).json()["error"] == "invalid_scope"
    as_json = token_post(system, json.dumps(client.token_form(client.client_assertion(key, org, system.token_url))),
                         "application/json")
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"


def test_a_deactivated_payer_loses_its_tokens_within_the_gateways_cache_ttl(system, org, patient):
    """Deactivated in the directory (PayerDeactivated), the payer's tokens stop working and it gets
    no new one once the gateway's payer cache (PAYER_CACHE_TTL, default 2 s, at most 5) lets go."""
    token = system.token(org)
    assert system.http.get("/disclosure-requests/x", headers=cf.auth_header(token)).status_code == 404
    system.people.deactivate_payer(org)
    deactivated_at = time.monotonic()
    wait_for(lambda: system.http.get("/disclosure-requests/x", headers=cf.auth_header(token)).status_code == 401,
             timeout=MAX_CACHE_TTL + 2)
    assert time.monotonic() - deactivated_at <= MAX_CACHE_TTL + 2
    reply = token_post(system, client.token_form(client.client_assertion(system.payers.keys[org], org,
                                                                         system.token_url)))
    assert reply.status_code == 400 and "deactivated" in reply.json()["error_description"]


def test_health_and_the_document_stay_public(system):
    assert system.http.get("/health").status_code == 200
    document = system.http.get("/openapi.json").json()
    flow = document["components"]["securitySchemes"]["smartBackendServices"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == system.token_url

"""How the gateway calls the disclosures service: the payer's assertion (minted into the worker's
context by ``Smart.authenticate``) is who is asking, so no payload names a requester or an org."""
import dataclasses
import json
from datetime import datetime, timezone

from nameko.exceptions import RemoteError
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from confide.identity.errors import REQUESTER_KEYS
from gateway import cdex
from gateway.errors import RequestNotFound
from gateway.service import GatewayService
from gateway.tokens import AccessToken

NOW = datetime(2026, 5, 1, 15, 0, tzinfo=timezone.utc)
ACCESS = AccessToken(client_id="Acme", org="Acme", role="insurer_health_plan", scope="system/*.*", issued_at=NOW,
                     expires_at=NOW, token_id="tok-1")


def view(request_id="r-1", **kw):
    return {"request_id": request_id, "status": "refused", "requester": {"id": "Acme", "org": "Acme"},
            "patient_id": "P-1", "purpose": "payment", "note_kind": "progress", "action": "disclose",
            "date_from": None, "date_to": None, "received_at": "2026-05-01T15:00:00Z", "channel": {},
            "recorded_by": None, "hold": None, "verification": None, "decision": None, "release": None,
            "refusal": {"reason": "r", "rule": "x", "refused_at": "2026-05-01T15:00:00Z"}, **kw}


def gateway():
    service = worker_factory(GatewayService)
    service.smart.authenticate.return_value = ACCESS
    return service


def post(path, body):
    return Request(EnvironBuilder(method="POST", path=path, data=json.dumps(body),
                                  headers={"Authorization": "Bearer t", "Content-Type": "application/json"}).get_environ())


def get(path):
    return Request(EnvironBuilder(method="GET", path=path, headers={"Authorization": "Bearer t"}).get_environ())


def names_nobody(payload):
    return not any(k in REQUESTER_KEYS or k in ("org", "verified_by") for k in payload)


def test_a_disclosure_request_names_no_requester():
    service = gateway()
    service.disclosures.request_disclosure.return_value = view()
    reply = service.create_disclosure_request(post("/disclosure-requests", {"patient_id": "P-1"}))
    assert reply.status_code == 201, reply.get_data(as_text=True)
    [(payload,), kwargs] = service.disclosures.request_disclosure.call_args
    assert names_nobody(payload) and payload["patient_id"] == "P-1" and "reply_public_key" in kwargs


def test_a_task_names_no_requester_and_reads_name_no_org():
    from confide import config

    task = json.loads((config.data_dir() / "payer-requests" / "davinci-cdex" / "cdex-task-example19.json").read_text())
    task["requester"] = {"identifier": {"value": "Acme"}}
    service = gateway()
    service.disclosures.get_disclosure_request.side_effect = RequestNotFound("r")
    service.disclosures.request_disclosure.return_value = view(cdex.request_id_for("Acme", task))
    reply = service.create_task(post("/fhir/Task", task))
    assert reply.status_code == 201, reply.get_data(as_text=True)
    [(payload,), _] = service.disclosures.request_disclosure.call_args
    assert names_nobody(payload) and payload["request_id"] == cdex.request_id_for("Acme", task)
    [args, kwargs] = service.disclosures.get_disclosure_request.call_args
    assert args == (payload["request_id"],) and "org" not in kwargs and kwargs["include_content"] is True


def test_get_names_no_org_and_an_identity_refusal_is_403_not_500():
    service = gateway()
    service.disclosures.get_disclosure_request.return_value = view()
    assert service.get_disclosure_request(get("/disclosure-requests/r-1"), "r-1").status_code == 200
    [args, kwargs] = service.disclosures.get_disclosure_request.call_args
    assert args == ("r-1",) and "org" not in kwargs
    service.disclosures.get_disclosure_request.side_effect = RemoteError("NotAuthorizedError", "payer x is deactivated")
    refused = service.get_task(get("/fhir/Task/r-1"), "r-1")
    assert refused.status_code == 403 and "deactivated" not in refused.get_data(as_text=True)
    service.disclosures.get_disclosure_request.side_effect = RemoteError("NotAuthenticatedError", "expired")
    assert service.get_task(get("/fhir/Task/r-1"), "r-1").status_code == 401



def keyed(body, key):
    return Request(EnvironBuilder(method="POST", path="/disclosure-requests", data=json.dumps(body), headers={
        "Authorization": "Bearer t", "Content-Type": "application/json", "Idempotency-Key": key}).get_environ())


class Disclosures:
    """A disclosures service keeping requests by id, as the real one does (its view echoes the channel)."""

    def __init__(self):
        self.made: dict = {}

    def request_disclosure(self, payload, reply_public_key=None):
        if payload["request_id"] in self.made:
            raise RemoteError("DisclosureRequestExistsError", "exists")
        self.made[payload["request_id"]] = view(payload["request_id"], channel=payload["channel"])
        return self.made[payload["request_id"]]

    def get_disclosure_request(self, request_id, include_content=False, reply_public_key=None):
        if request_id not in self.made:
            raise RequestNotFound(request_id)
        return self.made[request_id]


def keyed_gateway(org="Acme"):
    service = gateway()
    service.smart.authenticate.return_value = dataclasses.replace(ACCESS, org=org, client_id=org)
    return service


def test_a_retry_with_the_same_idempotency_key_returns_the_same_request():
    disclosures = Disclosures()
    service = keyed_gateway()
    service.disclosures = disclosures
    first = service.create_disclosure_request(keyed({"patient_id": "P-1", "claim_id": "C-1"}, "k-1"))
    again = service.create_disclosure_request(keyed({"patient_id": "P-1", "claim_id": "C-1"}, "k-1"))
    assert (first.status_code, again.status_code) == (201, 200)
    one, two = json.loads(first.get_data()), json.loads(again.get_data())
    assert one["id"] == two["id"] and one["status"] == two["status"]
    assert len(disclosures.made) == 1


def test_the_same_key_with_another_body_is_refused_and_another_payers_key_is_its_own():
    disclosures = Disclosures()
    service = keyed_gateway()
    service.disclosures = disclosures
    assert service.create_disclosure_request(keyed({"patient_id": "P-1"}, "k-2")).status_code == 201
    other = service.create_disclosure_request(keyed({"patient_id": "P-2"}, "k-2"))
    assert other.status_code == 422 and json.loads(other.get_data())["field"] == "Idempotency-Key"
    beta = keyed_gateway("Beta")
    beta.disclosures = disclosures
    assert beta.create_disclosure_request(keyed({"patient_id": "P-2"}, "k-2")).status_code == 201
    assert len(disclosures.made) == 2


def test_an_idempotency_key_that_cannot_be_one_is_refused():
    service = keyed_gateway()
    reply = service.create_disclosure_request(keyed({"patient_id": "P-1"}, "x" * 300))
    assert reply.status_code == 422 and json.loads(reply.get_data())["field"] == "Idempotency-Key"
    service.disclosures.request_disclosure.assert_not_called()

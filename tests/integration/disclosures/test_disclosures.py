"""Disclosures, notes and gateway together: decisions, authorizations and the HTTP API end to end."""
import importlib.util
import json
import pathlib
import uuid
from datetime import datetime, timedelta, timezone

import requests

from confide import config
from confide.envelope import NewEvent
from confide.eventstore.store import PostgresEventStore
from confide.testing.identities import sealed_disclosures
from gateway import cdex, client, tokens

_spec = importlib.util.spec_from_file_location("disclosures_it_conftest", pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cf)

CDEX = config.data_dir() / "payer-requests" / "davinci-cdex"


def own_task(name, org):
    """A shipped CDex Task example sent on ``org``'s own behalf (Task.requester names the token's org)."""
    task = json.loads((CDEX / name).read_text())
    task["requester"] = {"identifier": {"system": "urn:confide:test-org", "value": org}}
    return task


def post(system, token, path, body):
    return system.http.post(path, data=json.dumps(body), headers={**cf.auth_header(token),
                                                                  "Content-Type": "application/json"})


class TestDecisions:
    def test_insurer_progress_request_for_payment_gets_minimum_necessary(self, system, org, patient):
        note_id = cf.write_note(system, cf.progress_note(patient))
        reply = post(system, system.token(org), "/disclosure-requests",
                     {"patient_id": patient, "date_from": "2026-01-01", "date_to": "2026-03-31"})
        assert reply.status_code == 201, reply.text
        body = reply.json()
        assert body["status"] == "released" and body["decision"]["decision"] == "permit_minimum_necessary"
        assert body["release"]["note_ids"] == [note_id]
        released = body["content"]["notes"][0]
        assert released["note_id"] == note_id
        assert set(released["fields"]) <= cf.PAYMENT_FIELDS
        assert "interventions" not in json.dumps(released)

    def test_insurer_psychotherapy_request_without_authorization_is_denied(self, system, org, patient):
        cf.write_note(system, cf.psychotherapy_note(patient), kind="psychotherapy")
        body = post(system, system.token(org), "/disclosure-requests",
                    {"patient_id": patient, "note_kind": "psychotherapy"}).json()
        assert body["status"] == "refused" and "164.508(a)(2)" in body["refusal"]["rule"]
        assert body["content"] is None


class TestExcludedContentInPsychotherapyNotes:
    def test_health_plan_gets_the_diagnosis_and_medication_excerpts_only(self, system, org, patient):
        """45 CFR 164.501 (EX-19): excluded items typed into a psychotherapy note leave; the rest stays."""
        marker = f"PSYMARKER-{uuid.uuid4().hex}"
        note = cf.psychotherapy_note(patient)
        note["text"] = (f"Dx F33.1; increased sertraline to 100 mg.\n"
                        f"Explored shame around {marker}; transference noted in the room.")
        note_id = cf.write_note(system, note, kind="psychotherapy")

        reply = post(system, system.token(org), "/disclosure-requests",
                     {"patient_id": patient, "note_kind": "psychotherapy", "purpose": "payment"})
        assert reply.status_code == 201, reply.text
        body = reply.json()
        assert body["decision"]["decision"] == "permit_minimum_necessary", body["decision"]
        assert "164.501" in body["decision"]["rule"]
        assert set(body["release"]["fields_released"]) == {"diagnosis_codes", "medication_prescription_and_monitoring"}
        released = body["content"]["notes"][0]
        assert released["note_id"] == note_id
        assert released["fields"] == {"diagnosis_codes": ["Dx F33.1"],
                                      "medication_prescription_and_monitoring": ["increased sertraline to 100 mg"]}
        assert marker not in json.dumps(body)
        again = system.http.get(f"/disclosure-requests/{body['id']}", headers=cf.auth_header(system.token(org)))
        assert marker not in again.text and "Dx F33.1" in json.dumps(again.json()["content"])


class TestAuthorizationLifecycle:
    def authorization(self, patient, org, **kw):
        form = {"patient": patient, "covers": ["psychotherapy_notes"],
                "description": "Psychotherapy notes of sessions 2026-01-05 to 2026-03-30 by Dr. A",
                "authorized_discloser": "Northside Counseling Group (Dr. A)", "recipients": [org],
                "purposes": ["at the request of the individual"], "signed_by": "patient",
                "signer_role": "individual", "signed_date": "2026-01-01", "expiration_date": "2099-12-31",
                "statements_present": {"right_to_revoke": True, "conditioning": True, "redisclosure": True},
                "plain_language": True}
        form.update(kw)
        return form

    def test_recorded_defective_and_revoked(self, system, org, patient):
        cf.write_note(system, cf.psychotherapy_note(patient), kind="psychotherapy")
        token = system.token(org)
        with system.as_(system.staff, "disclosures") as disclosures:
            bad = disclosures.record_authorization(self.authorization(
                patient, org, statements_present={"right_to_revoke": False, "conditioning": True,
                                                  "redisclosure": True}))
            assert bad["status"] == "defective" and bad["defects"]
            good = disclosures.record_authorization(self.authorization(patient, org))
            assert good["status"] == "active"

            before = post(system, token, "/disclosure-requests", {"patient_id": patient, "note_kind": "psychotherapy"}).json()
            assert before["status"] == "released", before

            revoked = disclosures.revoke_authorization(good["authorization_id"], True)
            assert revoked["status"] == "revoked" and revoked["revocation"]["revoked_by"] == system.staff.subject
            after = post(system, token, "/disclosure-requests", {"patient_id": patient, "note_kind": "psychotherapy"}).json()
            assert after["status"] == "refused" and "164.508" in after["refusal"]["rule"]

            earlier = disclosures.get_disclosure_request(before["id"])
            assert earlier["status"] == "released"
            as_then = disclosures.get_authorization(good["authorization_id"], as_of=before["decision"]["decided_at"])
            assert as_then["status"] == "active"


class TestHttpApi:
    def test_health(self, system):
        reply = system.http.get("/health")
        assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
        assert reply.json() == {"status": "ok", "instance": "gateway", "dependencies": {
            name: {"status": "ok", "required": True}
            for name in ("broker", "database", "disclosures", "directory", "audit")}}

    def test_401_without_with_expired_and_forged_tokens(self, system, org, tmp_path):
        assert system.http.get("/disclosure-requests/x").status_code == 401
        system.payers.register(org)
        expired = tokens.issue_access_token(tokens.signing_key(system.config["KEY_DIR"]), client_id=org, org=org,
                                            role="insurer_health_plan", scope=client.DEFAULT_SCOPE,
                                            now=datetime.now(timezone.utc) - timedelta(hours=1))
        forged = tokens.issue_access_token(tokens.signing_key(tmp_path / "elsewhere"), client_id=org, org=org,
                                           role="insurer_health_plan", scope=client.DEFAULT_SCOPE,
                                           now=datetime.now(timezone.utc))
        for bad in (expired, forged, "not-a-jwt"):
            reply = post(system, bad, "/disclosure-requests", {"patient_id": "P-x"})
            assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Bearer")

    def test_other_org_gets_404(self, system, org, patient):
        mine = post(system, system.token(org), "/disclosure-requests", {"patient_id": patient}).json()
        assert system.http.get(f"/disclosure-requests/{mine['id']}", headers=cf.auth_header(system.token(org))).status_code == 200
        other = cf.auth_header(system.token(org + "-other"))
        assert system.http.get(f"/disclosure-requests/{mine['id']}", headers=other).status_code == 404
        assert system.http.get(f"/fhir/Task/{mine['id']}", headers=other).status_code == 404

    def test_400_and_422_name_the_field_and_record_nothing(self, system, org, patient):
        headers = {**cf.auth_header(system.token(org)), "Content-Type": "application/json"}
        bad_json = system.http.post("/disclosure-requests", data="{not json", headers=headers)
        assert bad_json.status_code == 400 and "error" in bad_json.json()
        bad_kind = post(system, system.token(org), "/disclosure-requests", {"patient_id": patient, "note_kind": "x"})
        assert bad_kind.status_code == 422 and bad_kind.json()["field"] == "note_kind"
        bad_period = post(system, system.token(org), "/disclosure-requests",
                          {"patient_id": patient, "date_from": "2026-03-01", "date_to": "2026-01-01"})
        assert bad_period.status_code == 422 and bad_period.json()["field"] == "date_to"
        no_patient = post(system, system.token(org), "/fhir/Task", {"resourceType": "Task", "for": {}})
        assert no_patient.status_code == 422 and no_patient.json()["field"] == "for"
        not_task = post(system, system.token(org), "/fhir/Task", {"resourceType": "Patient", "for": {}})
        assert not_task.status_code == 422 and not_task.json()["field"] == "resourceType"

    def test_cdex_task_completed_with_output(self, system, org):
        task = own_task("cdex-task-example19.json", org)
        system.people.patient("Member123")
        note_id = cf.write_note(system, cf.progress_note("Member123", session_date="2022-06-13"))
        reply = post(system, system.token(org), "/fhir/Task", task)
        assert reply.status_code == 201, reply.text
        created = reply.json()
        assert created["status"] == "completed" and created["resourceType"] == "Task"
        assert {"system": "urn:confide:client-task-id", "value": "cdex-task-example19"} in created["identifier"]
        titles = [o["valueAttachment"]["title"] for o in created["output"]]
        assert titles and created["output"][0]["valueAttachment"]["contentType"] == "application/json"
        fetched = system.http.get(f"/fhir/Task/{created['id']}", headers=cf.auth_header(system.token(org))).json()
        assert fetched["status"] == "completed" and fetched["output"]
        plain = system.http.get(f"/disclosure-requests/{created['id']}", headers=cf.auth_header(system.token(org))).json()
        assert note_id in plain["release"]["note_ids"]

    def test_cdex_task_for_psychotherapy_notes_is_rejected_with_reason(self, system, org, patient):
        cf.write_note(system, cf.psychotherapy_note(patient), kind="psychotherapy")
        task = own_task("cdex-task-example6.json", org)
        task["for"] = {"identifier": {"value": patient}}
        task["input"][0]["valueCodeableConcept"] = {"coding": [{"code": "PSYTHPN"}], "text": "Psychotherapy notes"}
        created = post(system, system.token(org), "/fhir/Task", task).json()
        assert created["status"] == "rejected" and "164.508(a)(2)" in created["statusReason"]["coding"][0]["code"]
        fetched = system.http.get(f"/fhir/Task/{created['id']}", headers=cf.auth_header(system.token(org))).json()
        assert fetched["status"] == "rejected" and "output" not in fetched

    def test_every_shipped_task_example_is_accepted(self, system, org):
        examples = sorted(CDEX.glob("cdex-task-example*.json"))
        assert examples, f"no shipped CDex Task examples under {CDEX}"
        for path in examples:  # the patients they name are the practice's
            system.people.patient(cdex.map_task(own_task(path.name, org), "insurer_health_plan", org=org)["patient_id"])
        for path in examples:
            reply = post(system, system.token(org), "/fhir/Task", own_task(path.name, org))
            assert reply.status_code == 201, (path.name, reply.text)
            assert reply.json()["status"] in {"completed", "rejected"}

    def test_task_naming_another_requester_is_422_and_records_nothing(self, system, org):
        task = json.loads((CDEX / "cdex-task-example1.json").read_text())  # requester Payer123
        system.people.patient(cdex.map_task(task, "insurer_health_plan")["patient_id"])
        reply = post(system, system.token(org), "/fhir/Task", task)
        assert reply.status_code == 422 and reply.json()["field"] == "requester", reply.text
        request_id = cdex.request_id_for(org, task)
        missing = system.http.get(f"/fhir/Task/{request_id}", headers=cf.auth_header(system.token(org)))
        assert missing.status_code == 404
        as_payer = post(system, system.token("Payer123"), "/fhir/Task", {**task, "id": f"t-{org}"})
        assert as_payer.status_code in (200, 201), as_payer.text

    def test_the_same_task_sent_again_returns_the_request_already_made(self, system, org):
        task = own_task("cdex-task-example19.json", org)
        system.people.patient("Member123")
        cf.write_note(system, cf.progress_note("Member123", session_date="2022-06-13"))
        first = post(system, system.token(org), "/fhir/Task", task)
        assert first.status_code == 201, first.text
        again = post(system, system.token(org), "/fhir/Task", task)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"] == cdex.request_id_for(org, task)
        assert again.json()["status"] == first.json()["status"] == "completed"
        assert again.json()["output"] == first.json()["output"]
        other = post(system, system.token(org), "/fhir/Task", {**task, "for": {"identifier": {"value": "P-else"}}})
        assert other.status_code == 409 and other.json()["field"] == "id"
        stranger = own_task("cdex-task-example19.json", org + "-b")
        assert post(system, system.token(org + "-b"), "/fhir/Task", stranger).json()["id"] != first.json()["id"]

    def test_a_retry_finishes_a_request_a_crash_left_half_way(self, system, org, patient):
        task = own_task("cdex-task-example1.json", org)
        task["for"] = {"identifier": {"value": patient}}
        cf.write_note(system, cf.progress_note(patient))
        request_id = cdex.request_id_for(org, task)
        store = PostgresEventStore(system.config["DB_DSN"], schema="confide", pool_size=1)
        try:  # the crash: DisclosureRequested is on file (sealed, as the service records it), nothing after it
            sealed_disclosures(store, system.config["KEY_DIR"]).append(f"disclosureRequest-{request_id}", [NewEvent("DisclosureRequested", {
                "request_id": request_id, "requester": {"id": org, "role": "insurer_health_plan", "org": org,
                                                        "identity_verified": True},
                "patient_id": patient, "purpose": "payment", "action": "disclose", "note_kind": "progress",
                "received_at": "2026-05-01T15:00:00.000000Z", "date_from": None, "date_to": None,
                "note_ids": None, "authorization_id": None, "exception_claimed": None, "facts": {},
                "channel": {"standard": "HL7 Da Vinci CDex", "task_id": task["id"]}})], expected_version=-1)
        finally:
            store.close()
        reply = post(system, system.token(org), "/fhir/Task", task)
        assert reply.status_code == 200 and reply.json()["status"] == "completed", reply.text

    def test_openapi_document(self, system):
        doc = system.http.get("/openapi.json").json()
        assert doc["openapi"].startswith("3.") and "/fhir/Task/{request_id}" in doc["paths"]


def test_health_names_the_unreachable_database(container_factory, service_config):
    """No audit service answers for the database here (the gateway alone): it counts as unreachable."""
    from nameko.testing.utils import find_free_port

    from confide.keys import ensure_keys
    from gateway.service import GatewayService

    port = find_free_port()
    cfg = {**service_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
           "DB_DSN": "postgresql://confide_app:confide@127.0.0.1:1/confide"}
    ensure_keys(cfg["KEY_DIR"])  # the gateway's own service credential
    container_factory(GatewayService, cfg).start()
    reply = requests.get(f"http://127.0.0.1:{port}/health", timeout=30)
    assert reply.status_code == 503
    deps = reply.json()["dependencies"]
    assert reply.json()["status"] == "down" and deps["broker"]["status"] == "ok"
    assert deps["database"]["status"] == "down" and deps["audit"]["status"] == "down"
    assert deps["disclosures"]["status"] == "down"  # not running here either


class _CuttableLink:
    """A loopback TCP forwarder to PostgreSQL that can be cut (every connection through it dies)."""

    def __init__(self, target):
        import eventlet

        self.target = target
        self.server = eventlet.listen(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets = []
        self.acceptor = eventlet.spawn(self._accept)

    def _accept(self):
        import eventlet

        while True:
            try:
                client, _ = self.server.accept()
            except Exception:  # noqa: BLE001 - the listener was closed
                return
            upstream = eventlet.connect(self.target)
            self.sockets += [client, upstream]
            eventlet.spawn(self._pipe, client, upstream)
            eventlet.spawn(self._pipe, upstream, client)

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except Exception:  # noqa: BLE001 - cut: eventlet raises IOClosed/EOFError in the blocked reader
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except Exception:  # noqa: BLE001
                    pass

    def cut(self):
        import socket

        self.acceptor.kill()
        self.server.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


def test_health_names_a_database_the_audit_service_can_no_longer_reach(container_factory, service_config,
                                                                      scratch_schema):
    """The audit service reaches PostgreSQL through a link the test then cuts: /health turns 503."""
    from nameko.testing.utils import find_free_port
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from audit.service import AuditService
    from confide.testing.polling import wait_for
    from gateway.service import GatewayService

    params = conninfo_to_dict(service_config["DB_DSN"])
    link = _CuttableLink((params.get("host") or "127.0.0.1", int(params.get("port") or 5432)))
    try:
        dsn = make_conninfo(**{**params, "host": "127.0.0.1", "port": str(link.port)})
        container_factory(AuditService, {**service_config, "DB_DSN": dsn, "DB_SCHEMA": scratch_schema}).start()
        port = find_free_port()
        container_factory(GatewayService, {**service_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}).start()
        url = f"http://127.0.0.1:{port}/health"
        assert requests.get(url, timeout=30).json()["dependencies"]["database"] == {"status": "ok", "required": True}
    finally:
        link.cut()

    def unavailable():  # disclosures and directory are not running here: only the database changes
        reply = requests.get(url, timeout=30)
        return reply.json() if reply.json()["dependencies"]["database"]["status"] == "down" else None

    body = wait_for(unavailable, timeout=20)
    assert body["status"] == "down" and body["dependencies"]["broker"]["status"] == "ok"
    assert body["dependencies"]["database"] == {"status": "down", "required": True,
                                                "detail": "EventStoreUnavailableError"}

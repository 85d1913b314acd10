"""Integration tier of disclosures + notes + gateway + directory: real PostgreSQL, real RabbitMQ, one nameko runner.

Every test runs the four services in one ``runner_factory`` on nameko's
per-test vhost (``service_config``), with the gateway's web server on a free
port and a temporary key directory (so its access-token key and the notes keyring are the
test's own; the directory service, which the gateway reads payers from, seals with its key), plus
the audit service, which answers the gateway's
``GET /health`` for the database, on a throw-away schema of its own (its relay
seals and publishes whatever its schema holds). Ids are unique per test;
nothing is cleaned up.

Tokens are obtained the real way (``system.token(org)``): the first time an org is named,
the test makes it an ES384 key pair and registers it as a payer with that public JWKS in the
directory (``people.payer``: a sealed ``PayerRegistered``), the one payer registry: the gateway
reads it through the running directory service, the services' identity gate and the disclosures
service from the store; each call signs a fresh client assertion and POSTs it to ``/oauth/token``.

Who is asking: the disclosures service takes it from the verified identity alone, so RPC callers
open ``system.as_(person, "disclosures")`` with a principal of ``system.people``
(:class:`confide.testing.identities.Identities`: enrolled in the test database, assertions signed with
the key directory's front-door key, which the gateway uses too). Patients are registered there
(``patient`` fixture; ``system.people.patient(id)`` for fixed ids). The notes service takes who
is asking from the identity too: notes are written, signed and given addenda by the test's own
clinician (``system.clinician``, the author: ``system.notes()``), and a direct ``release_fields``
call goes as the disclosures service would make it, for the principal the decision was made for
(``system.via_disclosures(person)``).
"""
import uuid
from types import SimpleNamespace

import pytest
import requests
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.utils import find_free_port

from audit.service import AuditService
from confide.testing.identities import Identities
from directory.service import DirectoryService
from disclosures.service import DisclosuresService
from gateway import client
from gateway.service import GatewayService
from notes.service import NotesService

PAYMENT_FIELDS = {"patient_id", "date_of_service", "session_start", "session_stop", "cpt_code_or_modality",
                  "frequency", "diagnosis_codes", "symptoms_summary", "functional_status",
                  "treatment_plan_summary", "progress_to_date", "rendering_clinician_and_credentials", "signature"}


class Http:
    def __init__(self, base):
        self.base = base

    def __getattr__(self, method):
        return lambda path, **kw: requests.request(method.upper(), self.base + path, timeout=30, **kw)


class Payers:
    """Payers of one test: a key pair each, registered in the directory on first use; ``token(org)``
    via /oauth/token."""

    def __init__(self, token_url, people):
        self.token_url = token_url
        self.people = people
        self.keys = {}

    def register(self, org, role="insurer_health_plan"):
        if org not in self.keys:
            self.keys[org] = client.new_key()
            jwks = client.public_jwks(self.keys[org])
            self.people.payer(org, role, name=f"{org} (test payer)", jwks=jwks)
        return self.keys[org]

    def principal(self, org, role="insurer_health_plan"):
        """The payer as the gateway presents it to the services (registered first)."""
        self.register(org, role)
        return self.people.payer(org, role)

    def token(self, org, role="insurer_health_plan", scope=client.DEFAULT_SCOPE):
        key = self.register(org, role)
        status, body = client.request_token(self.token_url, org, key, scope)
        assert status == 200, body
        return body["access_token"]


@pytest.fixture
def people(pg_store, service_config):
    """Principals of this test, on file in the test database; keys made before any service starts."""
    return Identities(pg_store, service_config["KEY_DIR"])


@pytest.fixture
def system(runner_factory, container_factory, service_config, scratch_schema, people):
    """disclosures + notes + gateway + directory (+ audit for /health) running; ``rpc(name)`` opens a standalone
    proxy carrying no identity, ``as_(person, name)`` one carrying ``person``'s assertion."""
    port = find_free_port()
    cfg = {**service_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
    container_factory(AuditService, {**service_config, "DB_SCHEMA": scratch_schema}).start()
    runner = runner_factory(cfg, DisclosuresService, NotesService, GatewayService, DirectoryService)
    runner.start()
    payers = Payers(f"http://127.0.0.1:{port}/oauth/token", people)
    clinician = people.member(f"C-{uuid.uuid4().hex[:8]}", "clinician", credentials="PsyD")
    return SimpleNamespace(
        config=cfg, http=Http(f"http://127.0.0.1:{port}"), base=f"http://127.0.0.1:{port}",
        rpc=lambda name: ServiceRpcProxy(name, cfg),
        as_=lambda person, name: ServiceRpcProxy(name, cfg, context_data=person.context()),
        people=people, staff=people.member(f"ROI-{uuid.uuid4().hex[:8]}", "release_of_information"),
        clinician=clinician, notes=lambda: ServiceRpcProxy("notes", cfg, context_data=clinician.context()),
        via_disclosures=lambda person: ServiceRpcProxy("notes", cfg, context_data=person.context(service="disclosures")),
        payers=payers, token_url=payers.token_url, token=payers.token,
    )


@pytest.fixture
def org():
    return f"Plan-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def patient(people):
    """A patient registered in the directory (the disclosures service refuses any other)."""
    return people.patient(f"P-{uuid.uuid4().hex[:10]}").subject


def auth_header(token):
    return {"Authorization": f"Bearer {token}"}


def progress_note(patient_id, session_date="2026-02-10"):
    """A synthetic progress note (no real person); its author is whoever writes it."""
    return {"patient_id": patient_id,
            "content": {"session_date": session_date, "start_time": "10:00:00", "stop_time": "10:50:00",
                        "modality": "individual psychotherapy", "cpt_code": "90834", "frequency": "weekly",
                        "diagnosis_codes": ["F41.1"], "symptoms": "synthetic symptoms summary",
                        "functional_status": "synthetic functional status", "treatment_plan": "synthetic plan",
                        "progress_to_date": "synthetic progress", "risk_assessment": {"level": "low"},
                        "late_entry_reason": "synthetic late entry"}}


def psychotherapy_note(patient_id, session_date="2026-02-10"):
    return {"patient_id": patient_id,
            "session_date": session_date, "text": "Synthetic process impressions for a test session."}


def sealed_note(notes, payload):
    """A psychotherapy-note payload with its ``text`` sealed to the notes transport key (as a front door does)."""
    from confide import transport

    payload = dict(payload)
    payload["sealed_text"] = transport.seal_for(notes.transport_public_key(), payload.pop("text"))
    return payload


def write_note(system, payload, kind="progress"):
    """The note written by the test's clinician (its author) -> note id."""
    with system.notes() as notes:
        if kind == "progress":
            return notes.write_progress_note(payload)["note_id"]
        return notes.write_psychotherapy_note(sealed_note(notes, payload))["note_id"]


#: A law firm a patient authorizes (the front desk's tests).
FIRM = "Smith & Jones LLP"


def authorization_form(patient, **changes):
    """A complete 164.508(c) authorization by ``patient`` for progress notes to :data:`FIRM`; ``changes``
    replace elements (to make one missing or defective)."""
    import uuid

    form = {"id": f"AUTH-{uuid.uuid4().hex[:8]}", "patient": patient, "covers": ["progress_notes"],
            "description": "progress notes of 2026", "authorized_discloser": "the practice",
            "recipients": [FIRM], "purposes": ["at the request of the individual"],
            "signed_by": patient, "signed_date": "2026-01-05", "expiration_date": "2030-01-01",
            "statements_present": {"right_to_revoke": True, "conditioning": True, "redisclosure": True},
            "plain_language": True}  # 164.508(c)(3)(i): recorded, never assumed
    return {**form, **changes}

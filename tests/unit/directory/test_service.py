"""DirectoryService through worker_factory, with the real gate over tmp keys: who may call what."""
import uuid
from datetime import timedelta

import pytest
from nameko.testing.services import worker_factory

from confide.eventstore.memory import InMemoryEventStore  # noqa: F401
from confide.identity.assertions import mint
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError
from confide.identity.gate import AUDIENCE, IdentityVerifier
from confide.identity.keys import (
    ensure_assertion_keys,
    ensure_service_keys,
    load_assertion_signing_key,
    load_service_public_keys,
    load_trusted_assertion_keys,
)
from confide.identity.provider import mint_service_assertion
from confide.testing.identities import sealed_directory
from directory.domain import errors
from directory.service import DirectoryService

from .conftest import NOW


@pytest.fixture
def env(tmp_path, clock):
    ensure_assertion_keys(tmp_path)
    ensure_service_keys(tmp_path, ("web", "cli", "notes", "gateway"))
    store = sealed_directory()
    verifier = IdentityVerifier(service="directory", user_keys=load_trusted_assertion_keys(tmp_path),
                                service_keys=load_service_public_keys(tmp_path), store=store, clock=clock,
                                ttl_seconds=0)  # no caching: the deactivation test needs no wait

    def call(user=None, svc=None, method="m"):
        service = worker_factory(DirectoryService, raw_store=store, directory_keys=lambda s: s,
                                 identity=verifier.for_call(method, user, svc))
        service.clock = clock
        return service

    def as_member(subject, *roles):
        return mint(load_assertion_signing_key(tmp_path), subject=subject, roles=roles, org="practice",
                    session_id=str(uuid.uuid4()), auth_time=NOW - timedelta(minutes=1), amr=("pwd", "otp"),
                    audience=AUDIENCE, issuer="confide-web", now=NOW)

    def as_service(name):
        return mint_service_assertion(tmp_path, name, now=NOW)

    return call, as_member, as_service, store


def test_bootstrap_enrol_clinician_deactivate(env):
    call, as_member, as_service, store = env
    call(svc=as_service("cli")).enrol_first_admin({"member_id": "M-A", "name": "Ada", "credentials": "MBA"})
    admin = as_member("M-A", "practice_admin")
    call(admin).enrol_member({"member_id": "C-1", "name": "Bo", "credentials": "LCSW", "roles": ["clinician"]})
    clinician = as_member("C-1", "clinician")
    assert call(clinician).get_member("C-1")["roles"] == ["clinician"]
    with pytest.raises(NotAuthorizedError, match="needs one of practice_admin"):
        call(clinician).enrol_member({"member_id": "C-2", "name": "X", "credentials": "MD", "roles": ["clinician"]})
    call(admin).deactivate_member("C-1")
    with pytest.raises(NotAuthorizedError, match="C-1 is deactivated"):
        call(clinician).get_member("C-1")


def test_first_admin_needs_the_cli_identity(env):
    call, as_member, as_service, _ = env
    with pytest.raises(NotAuthenticatedError):
        call().enrol_first_admin({"member_id": "M-A", "name": "Ada", "credentials": "MBA"})
    with pytest.raises(NotAuthorizedError, match="only cli"):
        call(svc=as_service("web")).enrol_first_admin({"member_id": "M-A", "name": "Ada", "credentials": "MBA"})


def test_bad_input_names_the_field_and_writes_nothing(env):
    call, as_member, as_service, store = env
    call(svc=as_service("cli")).enrol_first_admin({"member_id": "M-A", "name": "Ada", "credentials": "MBA"})
    admin = as_member("M-A", "practice_admin")
    with pytest.raises(errors.ValidationError, match="roles"):
        call(admin).enrol_member({"member_id": "C-1", "name": "Bo", "credentials": "LCSW", "roles": ["wizard"]})
    with pytest.raises(errors.ValidationError, match="member_id"):
        call(admin).enrol_member({"member_id": "C-1\u202e", "name": "Bo", "credentials": "LCSW", "roles": ["clinician"]})
    with pytest.raises(errors.ValidationError, match="jwks"):
        call(admin).register_payer({"org": "O-1", "name": "Acme", "engine_role": "insurer_health_plan",
                                    "jwks": {"keys": [{"kty": "RSA", "kid": "k", "n": "x", "e": "AQAB", "d": "secret"}]}})
    assert store.read_stream("workforceMember-C-1") == [] and store.read_stream("payer-O-1") == []


def test_requester_in_payload_is_refused(env):
    call, as_member, as_service, store = env
    call(svc=as_service("cli")).enrol_first_admin({"member_id": "M-A", "name": "Ada", "credentials": "MBA"})
    with pytest.raises(NotAuthorizedError, match="requester"):
        call(as_member("M-A", "practice_admin")).register_patient(
            {"patient_id": "P-1", "name": "Cy", "date_of_birth": "1990-01-01", "requested_by": "M-Z"})
    assert store.read_stream("patient-P-1") == []


def test_unregistered_patient_refused_over_rpc(env):
    call, as_member, as_service, _ = env
    call(svc=as_service("cli")).enrol_first_admin({"member_id": "M-A", "name": "Ada", "credentials": "MBA"})
    with pytest.raises(errors.PatientNotRegisteredError):
        call(as_member("M-A", "practice_admin")).record_representative(
            {"patient_id": "P-404", "representative_id": "R-1", "name": "Mum", "authority": "parent"})


def test_sign_in_events_only_from_web(env):
    call, as_member, as_service, store = env
    event = {"type": "SignInFailed", "username": "sha256:" + "ab" * 32, "reason": "bad_password"}
    assert call(svc=as_service("web")).record_sign_in_event(event)["type"] == "SignInFailed"
    with pytest.raises(NotAuthorizedError):
        call(svc=as_service("notes")).record_sign_in_event(event)
    with pytest.raises(errors.ValidationError, match="username"):
        call(svc=as_service("web")).record_sign_in_event({**event, "username": "bad\u200bname"})


def test_any_service_records_a_refusal(env):
    call, as_member, as_service, store = env
    call(svc=as_service("notes")).record_access_attempt_refused({"method": "read_note", "reason": "no assertion"})
    assert [r.data["service"] for r in store.read_category("accessAttempt")] == ["notes"]


def test_every_entrypoint_lists_the_identity_errors():
    from nameko.rpc import Rpc

    for name in dir(DirectoryService):
        for ep in getattr(getattr(DirectoryService, name), "nameko_entrypoints", ()):
            if isinstance(ep, Rpc):
                assert NotAuthenticatedError in ep.expected_exceptions and NotAuthorizedError in ep.expected_exceptions


def test_session_revoked_by_its_member_or_an_admin(env):
    call, as_member, as_service, store = env
    call(svc=as_service("cli")).enrol_first_admin({"member_id": "M-A", "name": "Ada", "credentials": "MBA"})
    call(as_member("M-A", "practice_admin")).enrol_member(
        {"member_id": "C-1", "name": "Bo", "credentials": "LCSW", "roles": ["clinician"]})
    web = as_service("web")
    revoke = {"type": "SessionRevoked", "session_id": "S-9", "member_id": "M-A"}
    with pytest.raises(NotAuthorizedError, match="practice_admin"):
        call(as_member("C-1", "clinician"), web).record_sign_in_event(revoke)
    call(as_member("C-1", "clinician"), web).record_sign_in_event({**revoke, "member_id": "C-1"})
    call(as_member("M-A", "practice_admin"), web).record_sign_in_event(revoke)
    assert [r.data["by"] for r in store.read_category("signIn")] == ["C-1", "M-A"]


def test_get_payer_answers_the_gateway_asking_as_itself_and_nothing_else_does(env):
    """The gateway checks client assertions and access tokens against the payer record before any
    payer assertion exists: get_payer (and only it) answers the gateway's own credential."""
    from gateway.client import new_key, public_jwks

    call, as_member, as_service, _ = env
    call(svc=as_service("cli")).enrol_first_admin({"member_id": "M-A", "name": "Ada", "credentials": "MBA"})
    admin = as_member("M-A", "practice_admin")
    jwks = public_jwks(new_key())
    call(admin).register_payer({"org": "Payer123", "name": "Payer 123", "engine_role": "insurer_health_plan",
                                "jwks": jwks})
    payer = call(svc=as_service("gateway")).get_payer("Payer123")
    assert (payer["org"], payer["engine_role"], payer["jwks"], payer["active"]) == (
        "Payer123", "insurer_health_plan", jwks, True)
    call(admin).deactivate_payer("Payer123")
    assert call(svc=as_service("gateway")).get_payer("Payer123")["active"] is False
    with pytest.raises(NotAuthorizedError, match="only gateway"):
        call(svc=as_service("notes")).get_payer("Payer123")
    with pytest.raises(NotAuthenticatedError, match="no identity assertion"):
        call().get_payer("Payer123")
    for other in ("get_member", "get_patient"):
        with pytest.raises(NotAuthenticatedError, match="no identity assertion"):
            getattr(call(svc=as_service("gateway")), other)("M-A")
    with pytest.raises(NotAuthenticatedError, match="no identity assertion"):
        call(svc=as_service("gateway")).list_members()
    with pytest.raises(NotAuthenticatedError, match="no identity assertion"):
        call(svc=as_service("gateway")).register_payer({"org": "P2", "name": "n", "engine_role":
                                                        "insurer_health_plan", "jwks": jwks})
    # a person's assertion alongside the gateway's is judged as the person, as before
    assert call(admin, as_service("gateway")).get_payer("Payer123")["org"] == "Payer123"

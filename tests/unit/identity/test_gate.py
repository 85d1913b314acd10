"""The identity gate with fakes: every refusal path raises the right error and records
AccessAttemptRefused (no content) first; a deactivation bites within the cache TTL."""
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide.contracts import directory as d
from confide.envelope import NewEvent
from confide.eventstore.memory import InMemoryEventStore  # noqa: F401
from confide.identity.assertions import mint
from confide.identity.errors import NotAuthenticatedError, NotAuthorizedError, refuse_requester_in_payload, require
from confide.identity.gate import AUDIENCE, IdentityVerifier, TtlCache
from confide.identity.keys import key_id, key_set
from confide.testing.identities import sealed_directory

NOW = datetime(2026, 5, 1, 15, 0, 0, tzinfo=timezone.utc)
AT = "2026-05-01T14:00:00.000000Z"


class Ticker:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture(scope="module")
def front_door():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def web_key():
    return Ed25519PrivateKey.generate()


@pytest.fixture
def store():
    s = sealed_directory()  # the directory's own sealed record, as every service reads it
    s.append(d.member_stream("M-ADMIN"), [NewEvent("WorkforceMemberEnrolled", {
        "member_id": "M-ADMIN", "name": "Ada", "credentials": "MBA", "roles": ["practice_admin"], "by": "setup", "at": AT})])
    s.append(d.member_stream("M-GONE"), [
        NewEvent("WorkforceMemberEnrolled", {"member_id": "M-GONE", "name": "Bo", "credentials": "LCSW",
                                             "roles": ["clinician"], "by": "M-ADMIN", "at": AT}),
        NewEvent("WorkforceMemberDeactivated", {"member_id": "M-GONE", "by": "M-ADMIN", "at": AT})])
    s.append(d.patient_stream("P-1"), [NewEvent("PatientRegistered", {
        "patient_id": "P-1", "name": "Cy", "date_of_birth": "1990-01-01", "by": "M-ADMIN", "at": AT})])
    s.append(d.payer_stream("ORG-OFF"), [
        NewEvent("PayerRegistered", {"org": "ORG-OFF", "name": "Acme", "engine_role": "insurer_health_plan",
                                     "jwks": {"keys": []}, "by": "M-ADMIN", "at": AT}),
        NewEvent("PayerDeactivated", {"org": "ORG-OFF", "by": "M-ADMIN", "at": AT})])
    return s


@pytest.fixture
def ticker():
    return Ticker()


@pytest.fixture
def verifier(store, front_door, web_key, ticker):
    return IdentityVerifier(service="directory", user_keys=key_set([front_door.public_key()]),
                            service_keys={key_id(web_key): ("web", web_key.public_key())}, store=store,
                            clock=lambda: NOW, monotonic=ticker)


def user(key, subject="M-ADMIN", roles=("practice_admin",), org="practice", now=NOW, audience=AUDIENCE,
         issuer="confide-web", **kw):
    return mint(key, subject=subject, roles=roles, org=org, session_id="S-1", auth_time=now - timedelta(minutes=1),
                amr=("pwd", "otp"), audience=audience, issuer=issuer, now=now, **kw)


def service(key, name="web", now=NOW):
    return mint(key, subject=name, roles=("service",), org="confide", session_id="svc-1", auth_time=now,
                amr=("swk",), audience=AUDIENCE, issuer=name, now=now)


def refusals(store):
    return [r.data for r in store.read_category("accessAttempt")]


def test_a_valid_admin_assertion_gives_the_principal(verifier, front_door, store):
    p = verifier.for_call("enrol_member", user(front_door)).require("practice_admin")
    assert p.subject == "M-ADMIN" and p.roles == ("practice_admin",) and refusals(store) == []


def test_the_gateway_issuer_is_accepted_too(verifier, front_door):
    assert verifier.for_call("m", user(front_door, issuer="confide-gateway")).principal().subject == "M-ADMIN"


@pytest.mark.parametrize("make, error, reason", [
    (lambda fd, other: None, NotAuthenticatedError, "no identity assertion"),
    (lambda fd, other: user(other), NotAuthenticatedError, "names no trusted key"),
    (lambda fd, other: user(fd)[:-4] + ("AAAA" if not user(fd).endswith("AAAA") else "BBBB"),
     NotAuthenticatedError, "signature"),
    (lambda fd, other: user(fd, now=NOW - timedelta(minutes=10)), NotAuthenticatedError, "expired|exp"),
    (lambda fd, other: user(fd, audience="notes"), NotAuthenticatedError, "audience"),
    (lambda fd, other: user(fd, issuer="somewhere-else"), NotAuthenticatedError, "issuer"),
    (lambda fd, other: user(fd, subject="M-GONE", roles=("clinician",)), NotAuthorizedError, "M-GONE is deactivated"),
    (lambda fd, other: user(fd, subject="M-NOBODY", roles=("clinician",)), NotAuthorizedError, "not enrolled"),
    (lambda fd, other: user(fd, roles=("practice_admin", "clinician")), NotAuthorizedError, "role clinician not granted"),
    (lambda fd, other: user(fd, subject="P-404", roles=("patient",)), NotAuthorizedError, "patient P-404 is not registered"),
    (lambda fd, other: user(fd, subject="X-1", roles=("insurer",), org="ORG-OFF"), NotAuthorizedError, "payer ORG-OFF is deactivated"),
    (lambda fd, other: user(fd, subject="X-1", roles=("insurer",), org="ORG-NONE"), NotAuthorizedError, "not registered"),
    (lambda fd, other: user(fd, subject="M-ADMIN", roles=("service",)), NotAuthorizedError, "service role"),
    (lambda fd, other: user(fd, acting_service="notes"), NotAuthenticatedError, "acting service"),
])
def test_each_refusal_is_recorded_then_raised(verifier, front_door, store, make, error, reason):
    token = make(front_door, Ed25519PrivateKey.generate())
    with pytest.raises(error, match=reason) as caught:
        verifier.for_call("enrol_member", token).principal()
    [recorded] = refusals(store)
    assert recorded["service"] == "directory" and recorded["method"] == "enrol_member"
    assert recorded["reason"] == caught.value.reason
    assert set(recorded) == {"service", "method", "reason", "at", "subject", "session_id"}  # no content


def test_forged_records_no_subject(verifier, store):
    with pytest.raises(NotAuthenticatedError):
        verifier.for_call("m", user(Ed25519PrivateKey.generate())).principal()
    assert refusals(store)[0]["subject"] is None


def test_role_not_accepted_by_the_method_is_recorded(verifier, front_door, store):
    with pytest.raises(NotAuthorizedError, match="needs one of front_desk"):
        verifier.for_call("register_patient", user(front_door)).require("front_desk")
    assert refusals(store)[0]["subject"] == "M-ADMIN"


def test_payload_naming_a_requester_is_refused_and_recorded(verifier, front_door, store):
    call = verifier.for_call("enrol_member", user(front_door))
    call.principal()
    with pytest.raises(NotAuthorizedError, match="payload names a requester \\(meta.requested_by\\)"):
        call.refuse_requester_in_payload({"member_id": "M-2", "meta": {"requested_by": "M-ADMIN"}})
    assert refusals(store)[0]["reason"].startswith("payload names a requester")
    call.refuse_requester_in_payload({"member_id": "M-2", "roles": ["clinician"]})  # nothing to refuse


def test_pure_helpers():
    with pytest.raises(NotAuthorizedError):
        refuse_requester_in_payload([{"requester": {"id": "x"}}])
    with pytest.raises(ValueError):
        require(object(), )  # type: ignore[arg-type]


def test_deactivation_bites_once_the_cache_expires(verifier, front_door, store, ticker):
    token = user(front_door)
    verifier.for_call("m", token).principal()
    store.append(d.member_stream("M-ADMIN"), [NewEvent("WorkforceMemberDeactivated", {"member_id": "M-ADMIN", "by": "X", "at": AT})])
    ticker.t += 1.0
    verifier.for_call("m", token).principal()  # still cached (TTL 2 s)
    ticker.t += 1.5
    with pytest.raises(NotAuthorizedError, match="deactivated"):
        verifier.for_call("m", token).principal()


def test_the_cache_ttl_is_at_most_five_seconds():
    with pytest.raises(ValueError):
        TtlCache(6)


def test_calling_service_verified_and_restricted(verifier, web_key, store):
    assert verifier.for_call("record_sign_in_event", None, service(web_key)).calling_service("web").subject == "web"
    with pytest.raises(NotAuthorizedError, match="service web may not call this"):
        verifier.for_call("enrol_first_admin", None, service(web_key)).calling_service("cli")
    with pytest.raises(NotAuthenticatedError, match="no service assertion"):
        verifier.for_call("record_sign_in_event").calling_service("web")
    assert len(refusals(store)) == 2


def test_a_service_key_asserts_only_its_own_name(verifier, web_key):
    with pytest.raises(NotAuthenticatedError, match="issuer"):
        verifier.for_call("m", None, mint(web_key, subject="cli", roles=("service",), org="confide", session_id="s",
                                          auth_time=NOW, amr=("swk",), audience=AUDIENCE, issuer="cli",
                                          now=NOW)).calling_service()
    with pytest.raises(NotAuthenticatedError, match="no known service key"):
        verifier.for_call("m", None, service(Ed25519PrivateKey.generate())).calling_service()


def test_a_user_assertion_is_not_a_service_assertion(verifier, front_door):
    with pytest.raises(NotAuthenticatedError, match="no known service key"):
        verifier.for_call("m", None, user(front_door)).calling_service()


def test_an_invalid_service_assertion_refuses_the_user_call_too(verifier, front_door):
    with pytest.raises(NotAuthenticatedError, match="service assertion"):
        verifier.for_call("m", user(front_door), "garbage").principal()


def test_a_store_failure_while_recording_still_refuses(front_door, web_key):
    class Broken(InMemoryEventStore):
        def append(self, *a, **kw):
            raise RuntimeError("down")

    v = IdentityVerifier(service="directory", user_keys=key_set([front_door.public_key()]), service_keys={},
                         store=Broken(), clock=lambda: NOW)
    with pytest.raises(NotAuthenticatedError):
        v.for_call("m", None).principal()

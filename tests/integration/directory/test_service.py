"""The directory service end to end on RabbitMQ and PostgreSQL: bootstrap, enrol, deactivate, refuse."""
import eventlet
import pytest
from nameko.exceptions import RemoteError

from confide.eventstore.store import PostgresEventStore
from confide.testing.polling import wait_for


@pytest.fixture
def store(test_db_dsn, directory_config):
    s = PostgresEventStore(test_db_dsn, schema=directory_config["DB_SCHEMA"], pool_size=2)
    yield s
    s.close()


def bootstrap(caller, admin_id):
    with caller.proxy(service=caller.service("cli")) as directory:
        return directory.enrol_first_admin({"member_id": admin_id, "name": "Ada", "credentials": "MBA"})


def test_enrol_admin_then_clinician_then_deactivate_refuses(directory, caller, ids, store):
    admin_id, clinician_id = ids("M"), ids("C")
    assert bootstrap(caller, admin_id)["events"] == ["WorkforceMemberEnrolled"]
    with pytest.raises(RemoteError) as closed:
        bootstrap(caller, ids("M"))
    assert closed.value.exc_type == "FirstAdminExistsError"

    admin = caller.member(admin_id, "practice_admin")
    with caller.proxy(admin) as directory_rpc:
        directory_rpc.enrol_member({"member_id": clinician_id, "name": "Bo", "credentials": "LCSW",
                                    "roles": ["clinician"]})
    clinician = caller.member(clinician_id, "clinician")
    with caller.proxy(clinician) as directory_rpc:
        assert directory_rpc.get_member(clinician_id)["active"] is True
    with caller.proxy(admin) as directory_rpc:
        directory_rpc.deactivate_member(clinician_id)

    def refused():
        with caller.proxy(clinician) as directory_rpc:
            try:
                directory_rpc.get_member(clinician_id)
            except RemoteError as exc:
                return exc
        return None

    exc = wait_for(refused, timeout=10)  # within the directory cache TTL (0.5 s here, <= 5 s always)
    assert exc.exc_type == "NotAuthorizedError" and "deactivated" in exc.value
    reasons = [r.data for r in store.read_category("accessAttempt")]
    assert any(r["subject"] == clinician_id and "deactivated" in r["reason"] for r in reasons)


def test_no_assertion_and_forged_assertion_are_refused_and_recorded(directory, caller, ids, store):
    with caller.proxy() as directory_rpc:
        with pytest.raises(RemoteError) as none:
            directory_rpc.list_members()
    assert none.value.exc_type == "NotAuthenticatedError"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from confide.identity.assertions import mint
    from confide.identity.gate import AUDIENCE
    from confide.timestamps import now_utc

    now = now_utc()
    forged = mint(Ed25519PrivateKey.generate(), subject="M-X", roles=("practice_admin",), org="practice",
                  session_id="s-1", auth_time=now, amr=("pwd",), audience=AUDIENCE, issuer="confide-web", now=now)
    with caller.proxy(forged) as directory_rpc:
        with pytest.raises(RemoteError) as bad:
            directory_rpc.enrol_member({"member_id": ids("C"), "name": "X", "credentials": "MD", "roles": ["clinician"]})
    assert bad.value.exc_type == "NotAuthenticatedError"
    assert [r.data["method"] for r in store.read_category("accessAttempt")] == ["list_members", "enrol_member"]


def test_unregistered_patient_is_refused(directory, caller, ids, store):
    admin_id, patient_id = ids("M"), ids("P")
    bootstrap(caller, admin_id)
    with caller.proxy(caller.member(admin_id, "practice_admin")) as directory_rpc:
        with pytest.raises(RemoteError) as exc:
            directory_rpc.record_representative({"patient_id": patient_id, "representative_id": ids("R"),
                                                 "name": "Mum", "authority": "parent"})
        assert exc.value.exc_type == "PatientNotRegisteredError"
        directory_rpc.register_patient({"patient_id": patient_id, "name": "Cy", "date_of_birth": "2012-03-04"})
        directory_rpc.record_representative({"patient_id": patient_id, "representative_id": "R-1",
                                             "name": "Mum", "authority": "parent"})
        assert directory_rpc.get_patient(patient_id)["representatives"][0]["authority"] == "parent"


def test_two_racing_grants_of_one_role_record_one_event(directory, caller, ids, store):
    admin_id, member_id = ids("M"), ids("C")
    bootstrap(caller, admin_id)
    admin = caller.member(admin_id, "practice_admin")
    with caller.proxy(admin) as directory_rpc:
        directory_rpc.enrol_member({"member_id": member_id, "name": "Bo", "credentials": "LCSW", "roles": ["clinician"]})

    def grant():
        with caller.proxy(admin) as directory_rpc:  # one proxy per green thread
            return directory_rpc.grant_role(member_id, "supervisor")

    replies = [t.wait() for t in [eventlet.spawn(grant) for _ in range(2)]]
    assert sorted(len(r["events"]) for r in replies) == [0, 1]
    types = [r.type for r in store.read_stream(f"workforceMember-{member_id}")]
    assert types == ["WorkforceMemberEnrolled", "RoleGranted"]


def test_sign_in_events_only_from_the_web_identity(directory, caller, ids, store):
    event = {"type": "SignedIn", "member_id": ids("M"), "session_id": ids("S"), "amr": ["pwd", "otp"]}
    with caller.proxy(service=caller.service("web")) as directory_rpc:
        assert directory_rpc.record_sign_in_event(event)["type"] == "SignedIn"
    with caller.proxy(service=caller.service("notes")) as directory_rpc:
        with pytest.raises(RemoteError) as exc:
            directory_rpc.record_sign_in_event(event)
    assert exc.value.exc_type == "NotAuthorizedError"
    assert [r.type for r in store.read_category("signIn")] == ["SignedIn"]

"""The sign-in log for the privacy officer and the practice admin: directory.sign_in_events."""
import pytest
from nameko.exceptions import RemoteError

from confide.eventstore.store import PostgresEventStore
from confide.testing.identities import Identities
from confide.timestamps import now_utc


@pytest.fixture
def people(test_db_dsn, directory_config):
    store = PostgresEventStore(test_db_dsn, schema=directory_config["DB_SCHEMA"], pool_size=2)
    yield Identities(store, directory_config["KEY_DIR"])
    store.close()


def enrolled(caller, people, member_id, *roles):
    people.member(member_id, *roles)
    return caller.member(member_id, *roles)


def record(caller, *events):
    with caller.proxy(service=caller.service("web")) as directory_rpc:
        for event in events:
            directory_rpc.record_sign_in_event(event)


def test_sign_in_events_filtered_and_counted(directory, caller, ids, people):
    member, other = ids("M"), ids("M")
    digest = "sha256:" + "ab" * 32
    record(caller,
           {"type": "SignedIn", "member_id": member, "session_id": ids("S"), "amr": ["pwd", "otp"]},
           {"type": "SignInFailed", "username": member, "reason": "bad_credentials"},
           {"type": "SignInFailed", "username": member, "reason": "bad_credentials"},
           {"type": "SignInFailed", "username": digest, "reason": "bad_credentials"},
           {"type": "AccountLockedOut", "username": other})
    with caller.proxy(service=caller.service("notes")) as directory_rpc:
        directory_rpc.record_access_attempt_refused({"method": "read_note", "reason": "not the author",
                                                     "subject": member})
    officer = enrolled(caller, people, ids("PO"), "privacy_officer")
    with caller.proxy(officer) as directory_rpc:
        everything = directory_rpc.sign_in_events()
        failures = directory_rpc.sign_in_events(kind="failures")
        of_member = directory_rpc.sign_in_events(member_id=member)
        of_digest = directory_rpc.sign_in_events(member_id=digest)
        today = directory_rpc.sign_in_events(since=now_utc().date().isoformat(), kind="SignInFailed")
    assert everything["counts"] == {"SignedIn": 1, "SignInFailed": 3, "AccountLockedOut": 1,
                                    "AccessAttemptRefused": 1}
    assert everything["until"] == now_utc().date().isoformat()
    assert [e["at"] for e in everything["events"]] == sorted((e["at"] for e in everything["events"]), reverse=True)
    assert {e["type"] for e in failures["events"]} == {"SignInFailed", "AccountLockedOut", "AccessAttemptRefused"}
    assert {"who": member, "count": 3} in failures["failures_by_username"]
    assert {"who": digest, "count": 1} in failures["failures_by_username"]
    assert of_member["counts"] == {"SignedIn": 1, "SignInFailed": 2, "AccessAttemptRefused": 1}
    assert [e["username"] for e in of_digest["events"]] == [digest]
    assert today["total"] == 3


def test_only_privacy_officer_and_admin_read_the_sign_in_log(directory, caller, ids, people):
    admin = enrolled(caller, people, ids("A"), "practice_admin")
    with caller.proxy(admin) as directory_rpc:
        assert directory_rpc.sign_in_events()["total"] == 0
    for who in (enrolled(caller, people, ids("C"), "clinician"), enrolled(caller, people, ids("AU"), "auditor")):
        with caller.proxy(who) as directory_rpc, pytest.raises(RemoteError) as refused:
            directory_rpc.sign_in_events()
        assert refused.value.exc_type == "NotAuthorizedError"
    with caller.proxy(service=caller.service("web")) as directory_rpc, pytest.raises(RemoteError) as alone:
        directory_rpc.sign_in_events()
    assert alone.value.exc_type in ("NotAuthenticatedError", "NotAuthorizedError")


@pytest.mark.parametrize("kwargs, field", [
    ({"since": "2026-02-01", "until": "2026-01-01"}, "since"),
    ({"since": "2020-01-01", "until": "2026-01-01"}, "since"),
    ({"kind": "Whatever"}, "kind"),
    ({"since": "not a date"}, "since"),
])
def test_bad_periods_and_kinds_are_refused_naming_the_field(directory, caller, ids, people, kwargs, field):
    officer = enrolled(caller, people, ids("PO"), "privacy_officer")
    with caller.proxy(officer) as directory_rpc, pytest.raises(RemoteError) as bad:
        directory_rpc.sign_in_events(**kwargs)
    assert bad.value.exc_type == "ValidationError" and field in bad.value.value

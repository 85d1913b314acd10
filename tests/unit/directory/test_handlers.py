"""Handlers on InMemoryEventStore: load, decide, append at the expected version; races decided again."""
from datetime import date

import pytest

from confide.contracts import directory as d
from confide.eventstore.memory import InMemoryEventStore  # noqa: F401
from confide.testing.identities import sealed_directory
from directory import handlers as h
from directory.domain import errors


@pytest.fixture
def store():
    return sealed_directory()


def admin(store, clock, member_id="M-A"):
    return h.enrol_first_admin(store, clock, {"member_id": member_id, "name": "Ada", "credentials": "MBA", "npi": None})


def test_first_admin_by_setup_then_closed(store, clock):
    assert admin(store, clock) == {"member_id": "M-A", "events": ["WorkforceMemberEnrolled"]}
    assert store.read_stream("workforceMember-M-A")[0].data["by"] == "setup"
    with pytest.raises(errors.FirstAdminExistsError):
        admin(store, clock, "M-B")


def test_enrol_grant_list(store, clock):
    admin(store, clock)
    h.enrol_member(store, clock, {"member_id": "C-1", "name": "Bo", "credentials": "LCSW", "npi": "1234567890",
                                  "roles": ["clinician"]}, "M-A")
    assert h.grant_role(store, clock, {"member_id": "C-1", "role": "supervisor"}, "M-A")["events"] == ["RoleGranted"]
    assert h.grant_role(store, clock, {"member_id": "C-1", "role": "supervisor"}, "M-A")["events"] == []
    members = {m["member_id"]: m for m in h.list_members(store)["members"]}
    assert members["C-1"]["roles"] == ["clinician", "supervisor"] and members["M-A"]["roles"] == ["practice_admin"]


def test_racing_grant_is_decided_again_and_records_once(store, clock):
    admin(store, clock)
    h.enrol_member(store, clock, {"member_id": "C-1", "name": "Bo", "credentials": "LCSW", "npi": None,
                                  "roles": ["clinician"]}, "M-A")
    # Another grant of the same role lands between this request's read and its append, once.
    racer = store
    real_append, raced = racer.append, []

    def append(stream, events, expected_version=None):
        if not raced and stream == "workforceMember-C-1":
            raced.append(1)
            real_append(stream, [type(events[0])(events[0].type, dict(events[0].data))], expected_version)
        return real_append(stream, events, expected_version)

    racer.append = append
    assert h.grant_role(racer, clock, {"member_id": "C-1", "role": "billing"}, "M-A")["events"] == []
    assert [r.type for r in store.read_stream("workforceMember-C-1")] == ["WorkforceMemberEnrolled", "RoleGranted"]


def test_unregistered_patient_is_a_clear_error(store, clock):
    with pytest.raises(errors.PatientNotRegisteredError, match="P-404"):
        h.record_representative(store, clock, {"patient_id": "P-404", "representative_id": "R-1", "name": "Mum",
                                               "authority": "parent"}, "F-1")
    with pytest.raises(errors.PatientNotRegisteredError):
        h.get_patient(store, {"patient_id": "P-404"})
    assert store.read_stream("patient-P-404") == []


def test_register_patient_and_list(store, clock):
    h.register_patient(store, clock, {"patient_id": "P-1", "name": "Cy", "date_of_birth": date(1990, 1, 2)}, "F-1")
    assert h.get_patient(store, {"patient_id": "P-1"})["date_of_birth"] == "1990-01-02"
    assert [p["patient_id"] for p in h.list_patients(store)["patients"]] == ["P-1"]


def test_sign_in_events_go_to_the_days_stream(store, clock):
    h.record_sign_in_event(store, clock, {"type": "SignedIn", "member_id": "M-A", "session_id": "S-1",
                                          "amr": ["pwd", "otp"]})
    h.record_sign_in_event(store, clock, {"type": "SessionRevoked", "session_id": "S-1", "member_id": None}, by="M-A")
    [signed, revoked] = store.read_stream(d.sign_in_stream("2026-05-01T15:00:00Z"))
    assert signed.type == "SignedIn" and revoked.data["by"] == "M-A"


def test_access_attempt_names_the_verified_service(store, clock):
    h.record_access_attempt_refused(store, clock, {"method": "read_note", "reason": "role not granted",
                                                   "subject": "C-1", "session_id": None}, "notes")
    [r] = store.read_category("accessAttempt")
    assert r.data["service"] == "notes"

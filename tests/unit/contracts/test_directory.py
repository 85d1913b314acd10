"""The directory's published read models: pure folds over (type, data), readers as of an instant."""
from datetime import datetime, timedelta, timezone

import pytest

from confide.contracts import directory as d
from confide.envelope import NewEvent
from confide.eventstore.memory import InMemoryEventStore
from confide.identity.ids import InvalidIdentifierError
from confide.testing.identities import sealed_directory

AT = "2026-05-01T10:00:00.000000Z"


def enrolled(member_id="M-1", roles=("clinician",)):
    return ("WorkforceMemberEnrolled", {"member_id": member_id, "name": "Ada", "credentials": "PsyD",
                                        "roles": list(roles), "by": "setup", "at": AT})


def test_member_fold_tracks_roles_supervisees_and_deactivation():
    member = d.fold_member("S-1", [
        enrolled("S-1"),
        ("RoleGranted", {"member_id": "S-1", "role": "supervisor", "by": "A", "at": AT}),
        ("SupervisionLinked", {"supervisor_id": "S-1", "trainee_id": "T-1", "by": "A", "at": AT}),
        ("RoleRevoked", {"member_id": "S-1", "role": "clinician", "by": "A", "at": AT}),
        ("WorkforceMemberDeactivated", {"member_id": "S-1", "by": "A", "at": AT}),
    ])
    assert member.roles == {"supervisor"} and member.supervisees == {"T-1"}
    assert not member.active and member.version == 4 and member.deactivated_at == AT


def test_unknown_types_in_a_stream_are_ignored_but_counted():
    patient = d.fold_patient("P-1", [("SomethingElse", {}), ("PatientRegistered", {
        "patient_id": "P-1", "name": "B", "date_of_birth": "1990-01-01", "by": "F", "at": AT})])
    assert patient.registered and patient.version == 1


def test_representatives_recorded_and_revoked():
    base = {"patient_id": "P-1", "by": "F", "at": AT}
    patient = d.fold_patient("P-1", [
        ("PatientRegistered", {**base, "name": "B", "date_of_birth": "2012-01-01"}),
        ("PersonalRepresentativeRecorded", {**base, "representative_id": "R-1", "name": "Mum", "authority": "parent"}),
        ("PersonalRepresentativeRecorded", {**base, "representative_id": "R-2", "name": "Dad", "authority": "parent"}),
        ("PersonalRepresentativeRevoked", {**base, "representative_id": "R-1"}),
    ])
    assert list(patient.representatives) == ["R-2"]


def test_payer_fold():
    payer = d.fold_payer("ORG-1", [
        ("PayerRegistered", {"org": "ORG-1", "name": "Acme", "engine_role": "insurer_health_plan",
                             "jwks": {"keys": [{"kty": "EC", "kid": "a"}]}, "by": "A", "at": AT}),
        ("PayerKeysReplaced", {"org": "ORG-1", "jwks": {"keys": [{"kty": "EC", "kid": "b"}]}, "by": "A", "at": AT}),
        ("PayerDeactivated", {"org": "ORG-1", "by": "A", "at": AT}),
    ])
    assert payer.registered and not payer.active and payer.jwks["keys"][0]["kid"] == "b"


class Clock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


def test_readers_as_of_an_instant_and_none_when_absent():
    t0 = datetime(2026, 5, 1, 9, tzinfo=timezone.utc)
    clock = Clock(t0)
    store = sealed_directory(InMemoryEventStore(clock=clock))
    store.append(d.member_stream("M-1"), [NewEvent(*enrolled())])
    clock.now = t0 + timedelta(hours=1)
    store.append(d.member_stream("M-1"), [NewEvent("WorkforceMemberDeactivated", {"member_id": "M-1", "by": "A", "at": AT})])
    assert d.member_as_of(store, "M-1").active is False
    assert d.member_as_of(store, "M-1", at=t0 + timedelta(minutes=1)).active is True
    assert d.member_as_of(store, "M-1", at=t0 - timedelta(minutes=1)) is None
    assert d.patient_as_of(store, "P-none") is None and d.payer_as_of(store, "ORG-none") is None


def test_ids_are_normalised_at_every_entry():
    store = sealed_directory()
    store.append(d.member_stream("M-1"), [NewEvent(*enrolled())])
    assert d.member_as_of(store, "M-1").member_id == "M-1"
    with pytest.raises(InvalidIdentifierError):
        d.member_as_of(store, "M-1\u200b")
    with pytest.raises(InvalidIdentifierError):
        d.member_stream(" M-1")


def test_sign_in_and_refusal_streams_are_per_day():
    assert d.sign_in_stream(AT) == "signIn-2026-05-01"
    assert d.access_attempt_stream(AT) == "accessAttempt-2026-05-01"
    assert set(d.SIGN_IN_EVENTS) == set(d.SIGN_IN_EVENT_TYPES)


def test_directory_facts_count_only_as_the_directory_sealed_them():
    """The services' database login can append events; an unsealed enrolment or grant does not exist."""
    raw = InMemoryEventStore()
    directory = sealed_directory(raw)
    directory.append(d.member_stream("M-1"), [NewEvent(*enrolled())])
    raw.append(d.member_stream("M-1"), [NewEvent("RoleGranted", {"member_id": "M-1", "role": "practice_admin",
                                                                 "by": "M-1", "at": AT})])
    raw.append(d.member_stream("M-X"), [NewEvent(*enrolled("M-X"))])
    member = d.member_as_of(directory, "M-1")
    assert "practice_admin" not in member.roles and member.version == 1  # the forged grant still counts for the version
    assert d.member_as_of(directory, "M-X") is None
    with pytest.raises(TypeError, match="SealedDirectory"):
        d.member_as_of(raw, "M-1")  # an unchecked reader is refused, not trusted
    with pytest.raises(PermissionError):
        sealed_directory(raw).__class__(raw, directory._public).append(d.member_stream("M-2"), [NewEvent(*enrolled("M-2"))])


class CountingStore:
    """An event store that counts the calls that reach it (each one query on PostgreSQL)."""

    def __init__(self, store):
        self._store, self.calls = store, []

    def read_stream(self, stream_name, from_version=0):
        self.calls.append(("read_stream", stream_name))
        return self._store.read_stream(stream_name, from_version)

    def read_streams(self, stream_names):
        self.calls.append(("read_streams", tuple(stream_names)))
        return self._store.read_streams(stream_names)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_read_ahead_answers_the_payer_and_the_patient_from_one_read_with_the_seals_checked():
    raw = InMemoryEventStore()
    writer = sealed_directory(raw)
    registered = {"name": "B", "date_of_birth": "2012-01-01", "by": "A", "at": AT}
    writer.append(d.patient_stream("P-1"), [NewEvent("PatientRegistered", {"patient_id": "P-1", **registered})])
    writer.append(d.payer_stream("Acme"), [NewEvent("PayerRegistered", {
        "org": "Acme", "name": "Acme", "engine_role": "insurer_health_plan", "jwks": {"keys": []}, "by": "A",
        "at": AT})])
    raw.append(d.patient_stream("P-2"), [NewEvent("PatientRegistered", {"patient_id": "P-2", **registered})])
    counting = CountingStore(raw)
    ahead = d.ReadAhead(writer.with_store(counting), [d.patient_stream("P-1"), d.payer_stream("Acme"),
                                                      d.patient_stream("P-2")])
    assert d.patient_as_of(ahead, "P-1").registered
    assert d.payer_as_of(ahead, "Acme").engine_role == "insurer_health_plan"
    assert d.patient_as_of(ahead, "P-2") is None  # appended without the directory's seal: not believed
    assert counting.calls == [("read_streams", (d.patient_stream("P-1"), d.payer_stream("Acme"),
                                                d.patient_stream("P-2")))]
    assert d.patient_as_of(ahead, "P-3") is None and counting.calls[-1] == ("read_stream", d.patient_stream("P-3"))
    with pytest.raises(TypeError, match="SealedDirectory"):
        d.patient_as_of(d.ReadAhead(raw, [d.patient_stream("P-1")]), "P-1")  # an unchecked reader stays refused

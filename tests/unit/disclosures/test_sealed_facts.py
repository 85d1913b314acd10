"""Requests and authorizations count only when the disclosures service sealed them.

``raw_store`` is the store as whoever holds the services' database login sees it: what is appended
there carries no seal of ``service-keys/disclosures.key``. ``store`` is the service's view
(``sealed_disclosures``): it seals what the handlers append and ignores what it did not seal.
"""
import importlib.util
import pathlib
import uuid

import pytest

from confide.contracts import casefile as facts
from confide.contracts.directory import SEAL_METADATA_KEY, UNSEALED
from confide.envelope import NewEvent
from confide.testing.identities import sealed_directory, sealed_disclosures
from confide.timestamps import format_ts
from disclosures import handlers
from disclosures.domain import commands, errors

_conftest = importlib.util.spec_from_file_location("disclosures_unit_conftest_sealed",
                                                   pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_conftest)
_conftest.loader.exec_module(cf)


def forge_authorization(raw_store, clock, patient, form=None):
    form = form or cf.authorization(patient, recipients=["Acme Health Plan"])
    at = format_ts(clock())
    raw_store.append(f"authorization-{form['id']}", [NewEvent("AuthorizationRecorded", {
        "authorization_id": form["id"], "patient_id": patient, "authorization": form, "defective": False,
        "defects": [], "received_at": at, "recorded_at": at})], expected_version=None)
    return form["id"]


def ask(store, clock, notes, patient, **kw):
    return handlers.request_disclosure(commands.RequestDisclosure(
        requester=cf.insurer(), patient_id=patient, purpose="payment", **kw), store, clock, notes)


def test_a_forged_authorization_does_not_exist_and_psychotherapy_notes_stay_denied(
        store, raw_store, clock, notes, add_note, patient):
    add_note(patient, kind="psychotherapy")
    auth_id = forge_authorization(raw_store, clock, patient)
    assert facts.authorization_as_of(store, auth_id, None).exists is False
    assert facts.authorizations_for_patient(store, patient, None) == []
    with pytest.raises(errors.AuthorizationNotFoundError):
        handlers.get_authorization(auth_id, store)
    for named in (auth_id, None):
        view = ask(store, clock, notes, patient, note_kind="psychotherapy", authorization_id=named)
        assert view["status"] == "refused" and "164.508(a)(2)" in view["refusal"]["rule"], view
        assert view["decision"]["authorization_id"] is None
    assert notes.calls == []


def test_a_forged_revocation_or_expiry_does_not_end_an_authorization(store, raw_store, clock, patient):
    recorded = handlers.record_authorization(commands.RecordAuthorization(cf.authorization(patient)), store, clock)
    auth_id = recorded["authorization_id"]
    at = format_ts(clock())
    raw_store.append(f"authorization-{auth_id}", [
        NewEvent("AuthorizationRevoked", {"authorization_id": auth_id, "patient_id": patient, "in_writing": True,
                                          "received_at": at, "revoked_by": "patient", "recorded_at": at}),
        NewEvent("AuthorizationExpired", {"authorization_id": auth_id, "patient_id": patient, "reason": "date",
                                          "expired_at": at, "event_description": None, "recorded_at": at})],
        expected_version=None)
    assert handlers.get_authorization(auth_id, store)["status"] == "active"
    # the ignored events still count for the stream's version: the service's own revocation is recorded
    view = handlers.revoke_authorization(commands.RevokeAuthorization(
        authorization_id=auth_id, in_writing=True, revoked_by="ROI-1", received_at=None), store, clock)
    assert view["status"] == "revoked"


def test_a_sealed_event_replayed_with_other_data_is_not_believed(store, raw_store, clock, patient):
    recorded = handlers.record_authorization(commands.RecordAuthorization(cf.authorization(patient)), store, clock)
    [genuine] = raw_store.read_stream(f"authorization-{recorded['authorization_id']}")
    assert SEAL_METADATA_KEY in genuine.metadata
    other = cf.authorization(patient, covers=["psychotherapy_notes"], recipients=["Forger Plan"])
    raw_store.append(f"authorization-{other['id']}", [NewEvent(
        "AuthorizationRecorded", {**genuine.data, "authorization_id": other["id"], "authorization": other},
        metadata=dict(genuine.metadata))], expected_version=-1)
    assert facts.authorization_as_of(store, other["id"], None).exists is False
    assert [e.type for e in store.read_category("authorization")][-1] == UNSEALED


def test_a_forged_request_is_not_found_and_nothing_is_decided(store, raw_store, clock, notes, add_note, patient):
    add_note(patient, kind="psychotherapy", author_id="C-A")
    request_id = str(uuid.uuid4())
    raw_store.append(f"disclosureRequest-{request_id}", [NewEvent("DisclosureRequested", {
        "request_id": request_id, "patient_id": patient, "purpose": "health_oversight", "action": "disclose",
        "requester": {"id": "C-A", "role": "hhs_ocr", "org": "HHS", "identity_verified": True,
                      "authority_verified": True},
        "note_kind": "psychotherapy", "received_at": format_ts(clock()), "date_from": None, "date_to": None,
        "note_ids": None, "authorization_id": None, "exception_claimed": None, "facts": {}, "channel": {},
        "recorded_by": None})], expected_version=-1)
    with pytest.raises(errors.DisclosureRequestNotFoundError):
        handlers.load_request(store, request_id)
    with pytest.raises(errors.DisclosureRequestNotFoundError):
        handlers.resume_request(request_id, store, clock, notes)
    assert [e.type for e in raw_store.read_stream(f"disclosureRequest-{request_id}")] == ["DisclosureRequested"]
    assert notes.calls == []


@pytest.mark.parametrize("reader", ["raw", "directory only", "another key"])
def test_the_case_file_refuses_a_reader_that_does_not_check_the_disclosures_seals(raw_store, patient, reader):
    store = {"raw": raw_store, "directory only": sealed_directory(raw_store),
             "another key": sealed_disclosures(raw_store)}[reader]
    request = {"patient_id": patient, "note_kind": "psychotherapy", "authorization_id": None,
               "requester": cf.insurer(), "purpose": "payment", "action": "disclose"}
    if reader == "another key":  # checks seals, but with a key of its own: the service's events are not believed
        assert facts.authorizations_for_patient(store, patient, None) == []
        return
    with pytest.raises(TypeError):
        facts.authorization_as_of(store, "AUTH-1", None)
    with pytest.raises(TypeError):
        facts.authorizations_for_patient(store, patient, None)
    with pytest.raises(TypeError):
        facts.authorization_for(store, request, None)
    with pytest.raises(TypeError):
        facts.case_as_of(store, request, cf.insurer(), cf.FakeClock()())


def test_a_patients_authorizations_are_folded_from_the_one_read_of_their_streams(
        store, raw_store, clock, patient, monkeypatch):
    kept = handlers.record_authorization(commands.RecordAuthorization(cf.authorization(patient)), store, clock)
    revoked = handlers.record_authorization(commands.RecordAuthorization(cf.authorization(patient)), store, clock)
    handlers.revoke_authorization(commands.RevokeAuthorization(
        authorization_id=revoked["authorization_id"], in_writing=True, revoked_by="ROI-1", received_at=None),
        store, clock)
    forged = forge_authorization(raw_store, clock, patient)
    one_by_one = {i: facts.authorization_as_of(store, i, None)
                  for i in (kept["authorization_id"], revoked["authorization_id"], forged)}

    def no_second_read(*args, **kwargs):
        raise AssertionError("an authorization stream was read again")

    monkeypatch.setattr(raw_store, "read_stream", no_second_read)
    found = {a.authorization_id: a for a in facts.authorizations_for_patient(store, patient, None)}
    assert set(found) == {kept["authorization_id"], revoked["authorization_id"]}  # the forged one does not exist
    for i, state in found.items():
        assert state == one_by_one[i]


def test_a_request_indexes_only_the_notes_of_the_kind_it_asks_for(store, raw_store, clock, notes, add_note, patient,
                                                                  monkeypatch):
    progress = add_note(patient, kind="progress")
    add_note(patient, kind="psychotherapy")
    asked = []
    find = raw_store.find_streams_by_patient
    monkeypatch.setattr(raw_store, "find_streams_by_patient", lambda p, t: asked.append(t) or find(p, t))
    view = ask(store, clock, notes, patient, note_kind="progress")
    assert view["decision"]["note_ids"] == [progress]
    assert asked == ["ProgressNoteDrafted", "AuthorizationRecorded"]
    request = {"patient_id": patient, "note_kind": "progress", "authorization_id": None,
               "requester": cf.insurer(), "purpose": "payment", "action": "disclose"}
    every = facts.case_as_of(store, request, cf.insurer(), clock())
    only = facts.case_as_of(store, request, cf.insurer(), clock(), requested_kind_only=True)
    assert only.case == every.case and only.notes == every.notes  # the same decision either way
    assert {n["kind"] for n in every.known_notes} == {"progress", "psychotherapy"}  # re-judging still sees all
    assert {n["kind"] for n in only.known_notes} == {"progress"}


def test_a_multi_stream_append_seals_the_services_own_events_and_leaves_others_as_given(store, raw_store):
    """Through the sealed store a multi-stream append seals the events of the disclosures service's
    own streams (read back as believed) and passes every other stream's unchanged, in one append of
    the store beneath."""
    request, access = f"disclosureRequest-{uuid.uuid4()}", f"accessDecision-{uuid.uuid4()}"
    results = store.multi_stream_append([(request, [NewEvent("DisclosureFactsAmended", {"n": 1})], -1),
                                         (access, [NewEvent("AccessDecided", {"n": 2})], -1)])
    assert [r.stream_versions for r in results] == [(0,), (0,)]
    [own] = store.read_stream(request)
    assert own.type == "DisclosureFactsAmended" and SEAL_METADATA_KEY in own.metadata
    [other] = raw_store.read_stream(access)
    assert SEAL_METADATA_KEY not in other.metadata


def test_a_multi_stream_append_without_the_key_writes_nothing(raw_store, key_dir):
    """A reader of the disclosures service's streams without its signing key cannot record them: a
    multi-stream append naming one is refused whole, nothing written in any stream."""
    from confide.identity.directory_seal import SealedDisclosures

    sealed_disclosures(raw_store, key_dir)  # the service's keys, made
    reader = SealedDisclosures(raw_store, key_dir, sign=False)
    request, access = f"disclosureRequest-{uuid.uuid4()}", f"accessDecision-{uuid.uuid4()}"
    with pytest.raises(PermissionError):
        reader.multi_stream_append([(access, [NewEvent("AccessDecided", {})], -1),
                                    (request, [NewEvent("DisclosureRequested", {})], -1)])
    assert raw_store.read_stream(access) == [] and raw_store.read_stream(request) == []

"""The process manager's scan (``handlers.UnfinishedRequests``) on the in-memory store, as the disclosures
service sees it: it finds every request acknowledged but not concluded, however many concluded ones it
sits behind, believes a conclusion only when its seal verifies, and no longer reads concluded requests
(one seal check of their conclusion each, none of their other events read or checked)."""
import importlib.util
import pathlib

import pytest

from confide.contracts.directory import UNSEALED
from confide.contracts.disclosures import DisclosureRequestState, evolve
from confide.envelope import NewEvent
from confide.identity import directory_seal
from confide.testing.crash import DiesAtEvent
from disclosures import handlers
from disclosures.domain import commands

_conftest = importlib.util.spec_from_file_location("disclosures_unit_conftest_pm",
                                                   pathlib.Path(__file__).with_name("conftest.py"))
cf = importlib.util.module_from_spec(_conftest)
_conftest.loader.exec_module(cf)

CONCLUDED = 120  # requests released or refused, written between the unfinished ones


class Crash(Exception):
    """The service died here: nothing after it happens."""


def DiesAtAppend(store, nth):  # noqa: N802 - reads as the wrapper it returns
    """``store`` written one event per transaction, whose ``nth`` event (1-based) dies before it is
    written: the records a crash between appends left."""
    return DiesAtEvent(store, nth, Crash)


class CountingReads:
    """A reader counting which streams are read through it."""

    def __init__(self, store):
        self._store, self.read = store, []

    def read_stream(self, name, *args, **kwargs):
        self.read.append(name)
        return self._store.read_stream(name, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._store, name)


class Counting(CountingReads):
    """The service's sealed reader, counting which streams are read through it and which events it is
    asked to believe (``checked``)."""

    def __init__(self, store):
        super().__init__(store)
        self.checked_types = []

    def checked(self, recorded):
        self.checked_types.append(recorded.type)
        return self._store.checked(recorded)


def ask(store, clock, notes, patient, **kw):
    kw.setdefault("requester", cf.insurer())
    kw.setdefault("purpose", "payment")
    return handlers.request_disclosure(commands.RequestDisclosure(patient_id=patient, **kw), store, clock, notes)


def half_done(store, clock, notes, patient, dies_at, **kw):
    """A request the service died on at its ``dies_at``-th append → its id."""
    before = {e.stream_name for e in store.read_category("disclosureRequest")}
    with pytest.raises(Crash):
        ask(DiesAtAppend(store, dies_at), clock, notes, patient, **kw)
    [stream] = {e.stream_name for e in store.read_category("disclosureRequest")} - before
    return stream.split("-", 1)[1]


def conclude_many(store, clock, notes, patient, n=CONCLUDED):
    for i in range(n):  # released (progress notes to a payer) and refused (psychotherapy, no authorization)
        view = ask(store, clock, notes, patient, note_kind="psychotherapy" if i % 3 == 0 else "progress")
        assert view["status"] in ("released", "refused")


@pytest.fixture
def checked_seals(monkeypatch):
    """Every Ed25519 seal check made, as (type, stream): the memo of seals already found genuine is
    emptied so that none is skipped."""
    made = []
    genuine = directory_seal.SealedStreams.genuine

    def counted(self, stream, type_, data, metadata):
        made.append((type_, stream))
        return genuine(self, stream, type_, data, metadata)

    monkeypatch.setattr(directory_seal, "_GENUINE", {})
    monkeypatch.setattr(directory_seal.SealedStreams, "genuine", counted)
    return made


def test_the_scan_finds_unfinished_requests_behind_many_concluded_ones(store, raw_store, clock, notes, add_note,
                                                                        patient, key_dir):
    add_note(patient)
    only_requested = half_done(store, clock, notes, patient, dies_at=2)  # DisclosureRequested only
    conclude_many(store, clock, notes, patient)
    decided = half_done(store, clock, notes, patient, dies_at=3)  # decided, its AccessDecided lost
    conclude_many(store, clock, notes, patient, 30)

    scan = handlers.UnfinishedRequests()
    found = {state.request_id: state.status for state, _ in scan.scan(store, raw_store, page=7)}  # pages cut streams
    assert found == {only_requested: "requested", decided: "decided"}

    # The process manager carries them on; the next scan sees only what moved, and still both (decided, at rest).
    assert handlers.finish_request(only_requested, store, clock, key_dir=key_dir) == "awaiting_requester"
    assert handlers.finish_request(decided, store, clock, key_dir=key_dir) == "awaiting_requester"
    found = {state.request_id: state.status for state, _ in scan.scan(store, raw_store, page=7)}
    assert found == {only_requested: "decided", decided: "decided"}

    # Released in the requester's own call: concluded, no longer listed.
    for request_id in (only_requested, decided):
        assert handlers.resume_request(request_id, store, clock, notes)["status"] == "released"
    assert scan.scan(store, raw_store, page=7) == []


def test_a_scan_from_the_start_of_the_log_finds_what_an_incremental_one_found(store, raw_store, clock, notes,
                                                                              add_note, patient):
    add_note(patient)
    conclude_many(store, clock, notes, patient, 20)
    held = ask(store, clock, notes, patient, requester=cf.insurer(verified=False))["request_id"]  # on hold: open
    first = half_done(store, clock, notes, patient, dies_at=2)
    incremental = handlers.UnfinishedRequests()
    incremental.scan(store, raw_store)
    second = half_done(store, clock, notes, patient, dies_at=2)
    conclude_many(store, clock, notes, patient, 20)

    fresh = handlers.UnfinishedRequests()  # a restarted service reads the whole category once
    again = {(s.request_id, s.status, s.version, last) for s, last in incremental.scan(store, raw_store)}
    assert again == {(s.request_id, s.status, s.version, last) for s, last in fresh.scan(store, raw_store)}
    assert {request_id for request_id, *_ in again} == {held, first, second}


def test_a_forged_conclusion_hides_no_unfinished_request(store, raw_store, clock, notes, add_note, patient):
    add_note(patient)
    unfinished = half_done(store, clock, notes, patient, dies_at=2)
    conclude_many(store, clock, notes, patient, 10)
    # Whoever holds the database login appends a release the disclosures service never sealed.
    raw_store.append(f"disclosureRequest-{unfinished}", [NewEvent("DisclosureReleased", {
        "request_id": unfinished, "decision_id": "forged", "note_ids": [], "fields_released": [],
        "released_at": "2026-05-01T15:00:00.000000Z", "accounting_entry_id": None})], expected_version=0)

    scan = handlers.UnfinishedRequests()
    [(state, _)] = scan.scan(store, raw_store)
    assert (state.request_id, state.status, state.version) == (unfinished, "requested", 1)  # the forgery: UNSEALED


def test_the_scan_reads_no_concluded_request(store, raw_store, clock, notes, add_note, patient, checked_seals):
    add_note(patient)
    conclude_many(store, clock, notes, patient)
    unfinished = half_done(store, clock, notes, patient, dies_at=2)
    conclusions = [e.stream_name for e in raw_store.read_category("disclosureRequest")
                   if e.type in handlers.CONCLUDING_TYPES]
    assert len(conclusions) == CONCLUDED

    counting = Counting(store)
    checked_seals.clear()
    directory_seal._GENUINE.clear()  # nothing skipped as already checked (the test's own reads above)
    [(state, _)] = handlers.UnfinishedRequests().scan(counting, raw_store)

    assert state.request_id == unfinished
    # Only the unfinished request is read through the sealed reader; of each concluded one, only its
    # conclusion is believed, after exactly one seal check.
    assert counting.read == [f"disclosureRequest-{unfinished}"]
    assert set(counting.checked_types) <= handlers.CONCLUDING_TYPES and len(counting.checked_types) == CONCLUDED
    concluded_checks = [(t, s) for t, s in checked_seals if s != f"disclosureRequest-{unfinished}"]
    assert sorted(s for _, s in concluded_checks) == sorted(conclusions)
    assert {t for t, _ in concluded_checks} <= handlers.CONCLUDING_TYPES

    # What the scan before this change did, for comparison: every event of the category read and checked.
    checked_seals.clear()
    directory_seal._GENUINE.clear()
    every = store.read_category("disclosureRequest")
    assert len(checked_seals) == len(every) >= 3 * CONCLUDED


def test_without_a_seal_checking_reader_every_request_that_moved_is_read(raw_store, clock, notes, add_note, patient,
                                                                         store):
    add_note(patient)
    conclude_many(store, clock, notes, patient, 5)
    unfinished = half_done(store, clock, notes, patient, dies_at=2)
    counting = CountingReads(raw_store)  # checks no seal: nothing is let go on a conclusion alone
    [(state, _)] = handlers.UnfinishedRequests().scan(counting, raw_store)
    assert state.request_id == unfinished and len(counting.read) == 6


@pytest.mark.parametrize("event_type", sorted({UNSEALED, "AccessAttemptRefused", "AccountingEntryRecorded",
                                               "SomethingNew"}))
def test_a_type_outside_the_status_types_changes_no_request(event_type):
    """The scan lets a request go on its last status-setting event: sound only while every other type
    (and an event whose seal does not verify) leaves the status and the request as they were."""
    assert event_type not in handlers.STATUS_TYPES
    for status in ("requested", "on_hold", "decided", "released", "refused"):
        before = DisclosureRequestState("r-1", version=3, status=status, request={"request_id": "r-1"})
        after = evolve(before, event_type, {"request_id": "r-1", "status": "released"})
        assert (after.status, after.request, after.version) == (status, before.request, 4)


def test_the_status_types_are_the_ones_the_fold_knows_and_the_conclusions_end_it():
    start = DisclosureRequestState("r-1", version=0, status="requested", request={"request_id": "r-1"})
    for event_type in handlers.STATUS_TYPES - {"DisclosureFactsAmended"}:
        assert evolve(start, event_type, {"request_id": "r-1"}).status != "requested" or \
            event_type == "DisclosureRequested"
    for event_type in handlers.CONCLUDING_TYPES:
        assert evolve(start, event_type, {"request_id": "r-1"}).status in ("released", "refused")


def test_events_forged_after_a_conclusion_do_not_reopen_it(store, raw_store, clock, notes, add_note, patient):
    add_note(patient)
    incremental = handlers.UnfinishedRequests()
    concluded = ask(store, clock, notes, patient)["request_id"]
    assert incremental.scan(store, raw_store) == []
    stream = f"disclosureRequest-{concluded}"
    raw_store.append(stream, [NewEvent("DisclosureDecided", {"request_id": concluded, "decision": "permit"}),
                              NewEvent("SomethingNew", {"request_id": concluded})], expected_version=2)
    unfinished = half_done(store, clock, notes, patient, dies_at=2)
    for scan in (incremental, handlers.UnfinishedRequests()):  # seen move after it was let go, or all at once
        assert [state.request_id for state, _ in scan.scan(store, raw_store, page=2)] == [unfinished]
    assert handlers.load_request(store, concluded).status == "released"

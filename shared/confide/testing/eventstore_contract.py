"""One suite of event-store behaviours, run against every store implementation.

Subclass ``EventStoreContract`` and provide a ``store`` fixture; the tests use
unique stream names, so they run on a shared database without cleanup.
"""
from __future__ import annotations

import hashlib
import uuid

import pytest

from confide.envelope import NewEvent, StreamAppend
from confide.eventstore.errors import InvalidEventError, WrongExpectedVersionError


def new_stream(category: str = "contractTest") -> str:
    return f"{category}-{uuid.uuid4().hex}"


def events(n: int, **data) -> list[NewEvent]:
    return [NewEvent("SomethingHappened", {"n": i, **data}) for i in range(n)]


class EventStoreContract:
    store = None  # overridden by a fixture in subclasses

    def test_append_to_new_stream_numbers_versions_from_zero(self, store):
        stream = new_stream()
        result = store.append(stream, events(3), expected_version=-1)
        assert result.stream_versions == (0, 1, 2)
        assert list(result.global_positions) == sorted(result.global_positions)
        assert [e.stream_version for e in store.read_stream(stream)] == [0, 1, 2]

    def test_stale_expected_version_raises_and_writes_nothing(self, store):
        stream = new_stream()
        store.append(stream, events(2), expected_version=-1)
        with pytest.raises(WrongExpectedVersionError) as err:
            store.append(stream, events(2), expected_version=0)
        assert err.value.actual == 1 and err.value.expected == 0
        assert len(store.read_stream(stream)) == 2

    def test_expecting_no_stream_fails_when_it_exists(self, store):
        stream = new_stream()
        store.append(stream, events(1), expected_version=-1)
        with pytest.raises(WrongExpectedVersionError):
            store.append(stream, events(1), expected_version=-1)

    def test_any_version_appends_at_the_end(self, store):
        stream = new_stream()
        store.append(stream, events(2), expected_version=-1)
        result = store.append(stream, events(1), expected_version=None)
        assert result.stream_versions == (2,)

    def test_reappending_stored_event_ids_is_a_noop_reporting_stored_positions(self, store):
        stream = new_stream()
        batch = events(2)
        first = store.append(stream, batch, expected_version=-1)
        again = store.append(stream, batch, expected_version=-1)
        assert again.duplicate and not first.duplicate
        assert again.global_positions == first.global_positions
        assert len(store.read_stream(stream)) == 2

    def test_read_stream_from_version(self, store):
        stream = new_stream()
        store.append(stream, events(5), expected_version=-1)
        assert [e.data["n"] for e in store.read_stream(stream, from_version=3)] == [3, 4]

    def test_read_all_returns_events_in_global_order(self, store):
        stream_a, stream_b = new_stream(), new_stream()
        a = store.append(stream_a, events(2), expected_version=-1)
        b = store.append(stream_b, events(2), expected_version=-1)
        got = [e for e in store.read_all(a.global_positions[0], 100000)
               if e.stream_name in (stream_a, stream_b)]
        assert [e.global_position for e in got] == list(a.global_positions + b.global_positions)

    def test_read_category_filters_by_category(self, store):
        category = "contractCat" + uuid.uuid4().hex[:8]
        stream = new_stream(category)
        result = store.append(stream, events(2), expected_version=-1)
        store.append(new_stream(), events(1), expected_version=-1)
        got = store.read_category(category, result.global_positions[0])
        assert [e.stream_name for e in got] == [stream, stream]

    def test_data_round_trips_exactly_and_hash_covers_stored_bytes(self, store):
        stream = new_stream()
        data = {"z": 1, "a": [1.5, -0.0, 1e21], "text": "é ☃ \u2028 \"q\"", "nested": {"b": None, "a": True}}
        store.append(stream, [NewEvent("Typed", data)], expected_version=-1)
        (ev,) = store.read_stream(stream)
        assert ev.data == data
        assert list(ev.data) == ["a", "nested", "text", "z"]  # stored canonically (RFC 8785 order)
        assert ev.content_hash == hashlib.sha256(ev.canonical_bytes()).digest()

    def test_invalid_data_names_the_field_and_writes_nothing(self, store):
        stream = new_stream()
        with pytest.raises(InvalidEventError, match=r"events\[1\]\.data"):
            store.append(stream, [NewEvent("Ok", {"a": 1}), NewEvent("Bad", {"x": float("nan")})], -1)
        assert store.read_stream(stream) == []

    def test_stream_name_needs_a_category(self, store):
        with pytest.raises(InvalidEventError, match="stream_name"):
            store.append("nocategory", events(1), expected_version=-1)

    def test_stream_version_of_missing_stream_is_minus_one(self, store):
        assert store.stream_version(new_stream()) == -1

    def test_get_event_by_id(self, store):
        stream = new_stream()
        ev = NewEvent("Found", {"k": 1})
        store.append(stream, [ev], expected_version=-1)
        assert store.get_event(ev.event_id).stream_name == stream
        assert store.get_event(uuid.uuid4()) is None

    def test_find_streams_by_patient_and_read_them_together(self, store):
        patient = "P-" + uuid.uuid4().hex[:8]
        mine = [new_stream("progressNote"), new_stream("psychotherapyNote")]
        store.append(mine[0], [NewEvent("ProgressNoteDrafted", {"patient_id": patient}),
                               NewEvent("ProgressNoteSigned", {"signed_by": "C-A"})], -1)
        store.append(mine[1], [NewEvent("PsychotherapyNoteDrafted", {"patient_id": patient})], -1)
        store.append(new_stream("progressNote"), [NewEvent("ProgressNoteDrafted", {"patient_id": "other"})], -1)
        assert store.find_streams_by_patient(patient, "ProgressNoteDrafted") == [mine[0]]
        assert store.find_streams_by_patient(patient, "PsychotherapyNoteDrafted") == [mine[1]]
        got = store.read_streams(mine)
        assert [e.type for e in got] == ["ProgressNoteDrafted", "ProgressNoteSigned", "PsychotherapyNoteDrafted"]
        with pytest.raises(InvalidEventError):
            store.find_streams_by_patient(patient, "SomethingElse")

    def test_find_streams_by_patients_answers_as_one_call_per_patient(self, store):
        a, b, nobody = ("P-" + uuid.uuid4().hex[:8] for _ in range(3))
        a_notes = [new_stream("progressNote"), new_stream("progressNote")]
        b_note = new_stream("progressNote")
        store.append(a_notes[0], [NewEvent("ProgressNoteDrafted", {"patient_id": a})], -1)
        store.append(b_note, [NewEvent("ProgressNoteDrafted", {"patient_id": b})], -1)
        store.append(a_notes[1], [NewEvent("ProgressNoteDrafted", {"patient_id": a})], -1)
        found = store.find_streams_by_patients([a, b, nobody, "P\x00"], "ProgressNoteDrafted")
        assert found == {a: a_notes, b: [b_note], nobody: [], "P\x00": []}
        assert found[a] == store.find_streams_by_patient(a, "ProgressNoteDrafted")
        assert store.find_streams_by_patients([], "ProgressNoteDrafted") == {}
        with pytest.raises(InvalidEventError):
            store.find_streams_by_patients([a], "SomethingElse")

    def test_nul_characters_are_refused_but_a_literal_backslash_u0000_is_kept(self, store):
        stream = new_stream()
        with pytest.raises(InvalidEventError, match="NUL"):
            store.append(stream, [NewEvent("Bad", {"text": "a\x00b"})], -1)
        assert store.read_stream(stream) == []
        store.append(stream, [NewEvent("Fine", {"text": "a\\u0000b"})], -1)
        assert store.read_stream(stream)[0].data == {"text": "a\\u0000b"}
        assert store.find_streams_by_patient("P\x00", "ProgressNoteDrafted") == []

    def test_a_batch_mixing_stored_and_new_ids_is_refused_not_half_written(self, store):
        stream = new_stream()
        stored = NewEvent("First", {})
        store.append(stream, [stored], -1)
        with pytest.raises(InvalidEventError, match="already stored"):
            store.append(stream, [NewEvent("New", {}), stored], 0)
        assert [e.type for e in store.read_stream(stream)] == ["First"]

    def test_an_event_id_of_another_stream_is_refused(self, store):
        ev = NewEvent("Once", {})
        store.append(new_stream(), [ev], -1)
        with pytest.raises(InvalidEventError, match="another stream"):
            store.append(new_stream(), [ev], -1)

    # -- multi-stream appends ------------------------------------------------------------------

    def test_a_multi_stream_append_writes_every_stream_in_order(self, store):
        a, b, c = new_stream(), new_stream(), new_stream()
        store.append(b, events(2), -1)
        results = store.multi_stream_append([(a, events(2), -1), StreamAppend(b, events(1), 1), (c, events(1), None)])
        assert [r.stream_versions for r in results] == [(0, 1), (2,), (0,)]
        assert not any(r.duplicate for r in results)
        positions = [p for r in results for p in r.global_positions]
        assert positions == sorted(positions)  # the order given
        assert [e.stream_version for e in store.read_stream(b)] == [0, 1, 2]
        assert [e.global_position for e in store.read_streams([a, b, c]) if e.global_position >= positions[0]] \
            == positions

    def test_one_stale_stream_writes_nothing_in_any_stream(self, store):
        a, b, c = new_stream(), new_stream(), new_stream()
        store.append(b, events(1), -1)
        with pytest.raises(WrongExpectedVersionError) as err:
            store.multi_stream_append([(a, events(2), -1), (b, events(1), -1), (c, events(1), None)])
        assert (err.value.stream_name, err.value.expected, err.value.actual) == (b, -1, 0)
        assert store.read_stream(a) == [] and store.read_stream(c) == [] and len(store.read_stream(b)) == 1

    def test_an_invalid_event_in_one_stream_writes_nothing(self, store):
        a, b = new_stream(), new_stream()
        with pytest.raises(InvalidEventError):
            store.multi_stream_append([(a, events(1), -1), (b, [NewEvent("Bad", {"text": "a\x00b"})], -1)])
        assert store.read_stream(a) == [] and store.read_stream(b) == []

    def test_a_retried_multi_stream_append_returns_the_stored_positions(self, store):
        a, b = new_stream(), new_stream()
        batch = [(a, events(2), -1), (b, events(1), -1)]
        first = store.multi_stream_append(batch)
        again = store.multi_stream_append(batch)
        assert [r.global_positions for r in again] == [r.global_positions for r in first]
        assert all(r.duplicate for r in again) and not any(r.duplicate for r in first)
        assert len(store.read_stream(a)) == 2 and len(store.read_stream(b)) == 1

    def test_a_partly_stored_multi_stream_append_is_refused_and_writes_nothing(self, store):
        a, b = new_stream(), new_stream()
        stored = events(1)
        store.append(a, stored, -1)
        with pytest.raises(InvalidEventError, match="all new or a retry"):
            store.multi_stream_append([(a, stored, -1), (b, events(1), -1)])
        assert store.read_stream(b) == [] and len(store.read_stream(a)) == 1

    def test_a_multi_stream_append_names_each_stream_once(self, store):
        a = new_stream()
        for bad in ([], [(a, events(1), -1), (a, events(1), 0)], [(a, events(1), -2)], [(a, events(1))]):
            with pytest.raises(InvalidEventError):
                store.multi_stream_append(bad)
        assert store.read_stream(a) == []

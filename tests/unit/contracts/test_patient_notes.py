"""PatientNotes (a patient's notes folded once) answers exactly what note_index answers, at any moment."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from confide.contracts.casefile import KIND_CATEGORY, PatientNotes, note_index
from confide.contracts.notes import DRAFTED, PROGRESS, PSYCHOTHERAPY, SUD_COUNSELING

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
OTHER_TYPES = {PROGRESS: ["ProgressNoteRevised", "ProgressNoteSigned"],
               PSYCHOTHERAPY: ["PsychotherapyNoteRevised", "AddendumAdded", "PsychotherapyNoteSigned"],
               SUD_COUNSELING: ["SudCounselingNoteRevised", "AddendumAdded"]}
CATEGORIES = ["symptoms", "prognosis", "treatment_plan", "session_times"]


@dataclass
class Event:
    stream_name: str
    type: str
    data: dict
    recorded_at: datetime
    global_position: int


class Reader:
    """note_index's reads over a list of events (the patient index: a note's drafted event)."""

    def __init__(self, events):
        self.events = events

    def find_streams_by_patient(self, patient_id, event_type):
        return [e.stream_name for e in self.events if e.type == event_type and e.data.get("patient_id") == patient_id]

    def read_streams(self, names):
        names = set(names)
        return sorted((e for e in self.events if e.stream_name in names), key=lambda e: e.global_position)


@st.composite
def histories(draw):
    """One patient's notes (and another patient's), streams interleaved in the log, times mostly
    ascending within a stream but sometimes going back (clock skew)."""
    streams = []
    for i in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from([PROGRESS, PSYCHOTHERAPY, SUD_COUNSELING]))
        patient = draw(st.sampled_from(["P-1", "P-1", "P-2"]))
        name = f"{KIND_CATEGORY[kind]}-n{i}"
        start = draw(st.integers(0, 50))
        steps = draw(st.lists(st.integers(-3, 10), max_size=5))
        findings = lambda: [{"category": c} for c in draw(st.lists(st.sampled_from(CATEGORIES), max_size=2))]  # noqa: E731
        evs = [(DRAFTED[kind], {"note_id": f"n{i}", "patient_id": patient, "author_id": "C-1",
                                "session_date": f"2026-03-{1 + i:02d}", "content_in_psych_note": findings()}, start)]
        t = start
        for step in steps:
            t += step
            typ = draw(st.sampled_from(OTHER_TYPES[kind]))
            evs.append((typ, {"note_id": f"n{i}", "content_in_psych_note": findings()}, t))
        streams.append((name, evs))
    # interleave the streams' events in the log, each stream in its own order
    log, cursors = [], [0] * len(streams)
    while any(c < len(s[1]) for c, s in zip(cursors, streams)):
        j = draw(st.sampled_from([k for k, s in enumerate(streams) if cursors[k] < len(s[1])]))
        typ, data, minutes = streams[j][1][cursors[j]]
        cursors[j] += 1
        log.append(Event(streams[j][0], typ, data, T0 + timedelta(minutes=minutes), len(log) + 1))
    return log


@settings(max_examples=400, deadline=None)
@given(histories(), st.integers(-5, 90), st.sampled_from([None, (PROGRESS,), (PSYCHOTHERAPY, SUD_COUNSELING)]),
       st.booleans())
def test_patient_notes_answer_what_note_index_answers(log, minutes, kinds, ever):
    reader = Reader(log)
    as_of = None if ever else T0 + timedelta(minutes=minutes)
    by_kind = {kind: reader.read_streams(reader.find_streams_by_patient("P-1", DRAFTED[kind])) for kind in DRAFTED}
    held = PatientNotes(by_kind)
    assert held.as_of(as_of, kinds) == note_index(reader, as_of, patient_id="P-1", kinds=kinds)


def test_an_answer_is_a_copy_the_caller_may_change():
    log = [Event("psychotherapyNote-n1", DRAFTED[PSYCHOTHERAPY], {"note_id": "n1", "patient_id": "P-1",
                 "content_in_psych_note": [{"category": "symptoms"}]}, T0, 1)]
    held = PatientNotes({PSYCHOTHERAPY: log})
    first = held.as_of(T0)
    first[0]["content_in_psych_note"].append("changed")
    first[0]["note_id"] = "changed"
    assert held.as_of(T0) == [{"note_id": "n1", "patient_id": "P-1", "author_id": None, "session_date": None,
                               "kind": PSYCHOTHERAPY, "content_in_psych_note": ["symptoms"]}]

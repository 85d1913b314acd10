"""SUD counseling notes (42 CFR 2.11 as amended in 2024) through the running notes service: written
only in a Part 2 program (``CONFIDE_PRACTICE_PART2_PROGRAM``), sealed at rest in their own stream
``sudCounselingNote-<id>`` like psychotherapy notes, read only as the engine decides with
``note_kind: sud_counseling``; outside a Part 2 program refused naming ``note_kind``."""
import json
import logging
import uuid

import psycopg
import pytest

from confide import config
from notes.domain import errors

from .conftest import READER_PUB, call, opened, seal_to

TEST_DB = "confide_test"


@pytest.fixture
def part2(monkeypatch):
    monkeypatch.setenv("CONFIDE_PRACTICE_PART2_PROGRAM", "1")


def stored(stream: str) -> list[str]:
    """The stream's events as PostgreSQL holds them, ``"<type> <data as stored>"`` each (the services'
    own reader is not trusted here)."""
    admin = config.with_dbname(config.admin_dsn(), TEST_DB)
    with psycopg.connect(admin) as conn:
        rows = conn.execute("SELECT type, data FROM confide.events WHERE stream_name = %s "
                            "ORDER BY stream_version", (stream,)).fetchall()
    return [f"{t} {d}" for t, d in rows]


def write_sud(container, person, patient_id, text, note_id=None):
    return call(container, person, "write_sud_counseling_note", {
        "note_id": note_id or str(uuid.uuid4()), "patient_id": patient_id, "session_date": "2026-05-01",
        "sealed_text": seal_to(container, text)})


def test_written_signed_and_added_to_sealed_in_its_own_stream(notes_container, clinician, patient_id, marker,
                                                               part2, caplog):
    caplog.set_level(logging.DEBUG)
    text = f"We went over the night at the river. {marker}."
    reply = write_sud(notes_container, clinician, patient_id, text)
    note_id = reply["note_id"]
    assert reply["kind"] == "sud_counseling" and reply["events"][0] == "SudCounselingNoteDrafted"
    call(notes_container, clinician, "revise_note", note_id, sealed_text=seal_to(notes_container, f"{text} again"))
    call(notes_container, clinician, "sign_note", note_id)
    call(notes_container, clinician, "add_addendum", note_id, sealed_text=seal_to(notes_container, f"add {marker}"))
    with pytest.raises(errors.ValidationError, match="text"):  # plaintext refused for its addendum too
        call(notes_container, clinician, "add_addendum", note_id, text=f"plain {marker}")

    rows = stored(f"sudCounselingNote-{note_id}")
    assert [r.split(" ", 1)[0] for r in rows if not r.startswith("LateEntryFlagged")] == [
        "SudCounselingNoteDrafted", "SudCounselingNoteRevised", "SudCounselingNoteSigned", "AddendumAdded"]
    assert not any(marker in r or "river" in r for r in rows)
    assert stored(f"psychotherapyNote-{note_id}") == [] and stored(f"progressNote-{note_id}") == []
    assert marker not in caplog.text and f"sudCounselingNote-{note_id}" in caplog.text

    read = call(notes_container, clinician, "read_note", note_id, "treatment", reply_public_key=READER_PUB)
    assert marker not in json.dumps(read)
    note = opened(read)["note"]
    assert note["text"] == f"{text} again" and note["addenda"][0]["text"] == f"add {marker}"
    assert read["decision"]["decision"] == "permit"
    assert any("42 CFR 2.31(b)(1)(i)(A)" in c for c in read["decision"]["citations"])


def test_a_colleague_is_denied_and_the_decision_recorded_as_sud_counseling(notes_container, clinician,
                                                                           other_clinician, patient_id, marker, part2):
    note_id = write_sud(notes_container, clinician, patient_id, f"session {marker}")["note_id"]
    with pytest.raises(errors.AccessDeniedError) as info:
        call(notes_container, other_clinician, "read_note", note_id, "treatment", reply_public_key=READER_PUB)
    assert marker not in str(info.value)
    [decided] = [json.loads(r.split(" ", 1)[1]) for r in stored(f"accessDecision-{info.value.decision_id}")]
    assert decided["note_kind"] == "sud_counseling" and decided["decision"] == "deny"
    listed = call(notes_container, other_clinician, "list_notes", patient_id, "treatment")
    assert listed["notes"] == []
    mine = call(notes_container, clinician, "list_notes", patient_id, "treatment", kinds=["sud_counseling"])
    assert [n["note_id"] for n in mine["notes"]] == [note_id]


def test_outside_a_part2_program_writing_one_is_refused_naming_the_field(notes_container, clinician, patient_id,
                                                                        marker, monkeypatch):
    monkeypatch.delenv("CONFIDE_PRACTICE_PART2_PROGRAM", raising=False)
    note_id = str(uuid.uuid4())
    with pytest.raises(errors.NotAPart2ProgramError) as info:
        write_sud(notes_container, clinician, patient_id, f"session {marker}", note_id=note_id)
    assert str(info.value).startswith("note_kind:") and "CONFIDE_PRACTICE_PART2_PROGRAM" in str(info.value)
    assert stored(f"sudCounselingNote-{note_id}") == []
    monkeypatch.setenv("CONFIDE_PRACTICE_PART2_PROGRAM", "0")
    with pytest.raises(errors.NotAPart2ProgramError):
        write_sud(notes_container, clinician, patient_id, f"session {marker}", note_id=note_id)
    assert stored(f"sudCounselingNote-{note_id}") == []

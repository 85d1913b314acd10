"""notes.my_notes: an author's worklist (drafts to sign, signed, awaiting co-sign) over nameko,
PostgreSQL and RabbitMQ. Metadata only, the author's own notes only, who asks from the assertion."""
import json

import pytest

from confide.identity.errors import NotAuthorizedError
from confide.testing.polling import wait_for

from .conftest import call, progress_content, seal_to, unique


def _mine(container, person, expected: set[str]) -> list[dict]:
    """The caller's worklist once every note in ``expected`` is past the commit frontier (bounded wait)."""
    return wait_for(lambda: (lambda rows: rows if {r["note_id"] for r in rows} >= expected else None)(
        call(container, person, "my_notes")["notes"]), timeout=15, interval=0.1)


def test_the_worklist_lists_my_notes_with_their_state_and_no_content(notes_container, people, patient_id, marker,
                                                                     clinician, other_clinician, pg_store):
    supervisor = people.member(unique("S"), "supervisor")
    trainee = people.member(unique("T"), "trainee")
    people.supervise(supervisor.subject, trainee.subject)
    draft = call(notes_container, clinician, "write_progress_note",
                 {"patient_id": patient_id, "content": progress_content(symptoms=marker)})["note_id"]
    signed = call(notes_container, clinician, "write_progress_note",
                  {"patient_id": patient_id, "content": progress_content(session_date="2026-05-02")})["note_id"]
    call(notes_container, clinician, "sign_note", signed)
    psych = call(notes_container, clinician, "write_psychotherapy_note", {
        "patient_id": patient_id, "session_date": "2026-05-01",
        "sealed_text": seal_to(notes_container, f"process notes {marker}")})["note_id"]
    theirs = call(notes_container, other_clinician, "write_progress_note",
                  {"patient_id": patient_id, "content": progress_content()})["note_id"]
    by_trainee = call(notes_container, trainee, "write_progress_note",
                      {"patient_id": patient_id, "supervisor_id": supervisor.subject,
                       "content": progress_content()})["note_id"]
    call(notes_container, trainee, "sign_note", by_trainee)

    rows = _mine(notes_container, clinician, {draft, signed, psych})
    assert marker not in json.dumps(rows)
    by_id = {r["note_id"]: r for r in rows}
    assert set(by_id) == {draft, signed, psych}  # not the other clinician's note, not the trainee's
    assert by_id[draft]["status"] == "draft" and by_id[draft]["kind"] == "progress"
    assert by_id[signed]["status"] == "signed" and by_id[signed]["signed_at"]
    assert by_id[psych]["kind"] == "psychotherapy"
    assert by_id[draft]["late_entry"] is True and by_id[draft]["patient_id"] == patient_id
    assert rows[0]["session_date"] >= rows[-1]["session_date"]  # newest session first
    for row in rows:
        assert "content" not in row and "text" not in row
    assert theirs in {r["note_id"] for r in _mine(notes_container, other_clinician, {theirs})}

    [trainee_row] = _mine(notes_container, trainee, {by_trainee})
    assert trainee_row["status"] == "awaiting_cosign" and trainee_row["awaiting_cosign"] is True
    assert trainee_row["supervisor_id"] == supervisor.subject


def test_a_caller_who_writes_no_notes_is_refused(notes_container, people):
    billing = people.member(unique("B"), "billing")
    with pytest.raises(NotAuthorizedError, match="clinician, trainee, supervisor"):
        call(notes_container, billing, "my_notes")


def test_naming_an_author_is_refused(notes_container, clinician, other_clinician):
    with pytest.raises(NotAuthorizedError, match=r"names a requester \(author\)"):
        call(notes_container, clinician, "my_notes", author=other_clinician.subject)

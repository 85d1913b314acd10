"""notes.review_queue and the supervisor's read: a supervisor sees (metadata only) the signed notes of
the trainees the directory links to them, reads them under 164.508(a)(2)(i)(B) and co-signs; once the
supervision ends the queue is empty, the read is denied and the co-signature refused."""
import pytest

from confide.identity.errors import NotAuthorizedError
from notes.domain import errors

from .conftest import READER_PUB, call, opened, progress_content, seal_to, unique

QUEUE_FIELDS = {"note_id", "patient_id", "kind", "author", "session_date", "signed_at"}


@pytest.fixture
def supervision(people):
    trainee = people.member(unique("T-Q"), "trainee")
    supervisor = people.member(unique("S-Q"), "supervisor")
    people.supervise(supervisor.subject, trainee.subject)
    return trainee, supervisor


def signed_psych_note(container, trainee, supervisor, patient_id, text):
    note_id = call(container, trainee, "write_psychotherapy_note", {
        "patient_id": patient_id, "supervisor_id": supervisor.subject, "session_date": "2026-05-01",
        "sealed_text": seal_to(container, text)})["note_id"]
    call(container, trainee, "sign_note", note_id)
    return note_id


def test_a_supervisor_sees_reads_and_cosigns_a_trainees_signed_note(notes_container, patient_id, marker,
                                                                      supervision, people, pg_store):
    trainee, supervisor = supervision
    note_id = signed_psych_note(notes_container, trainee, supervisor, patient_id, f"session {marker}")
    draft = call(notes_container, trainee, "write_progress_note", {
        "patient_id": patient_id, "supervisor_id": supervisor.subject, "content": progress_content()})["note_id"]

    queue = call(notes_container, supervisor, "review_queue")
    mine = [row for row in queue if row["note_id"] == note_id]
    assert len(mine) == 1 and set(mine[0]) == QUEUE_FIELDS
    assert mine[0]["kind"] == "psychotherapy" and mine[0]["author"] == trainee.subject
    assert mine[0]["patient_id"] == patient_id and mine[0]["signed_at"]
    assert draft not in {row["note_id"] for row in queue}  # a draft awaits no co-signature
    assert marker not in str(queue)

    read = call(notes_container, supervisor, "read_note", note_id, "training", reply_public_key=READER_PUB)
    assert read["decision"]["rule"] == "45 CFR 164.508(a)(2)(i)(B)"
    assert opened(read)["note"]["text"] == f"session {marker}"
    # The supervision fact is recorded with the decision, so the auditor's re-judging reproduces it.
    [decided] = pg_store.read_stream(f"accessDecision-{read['decision']['decision_id']}")
    assert decided.data["requester"] == {"id": supervisor.subject, "role": "supervisor", "org": decided.data[
        "requester"]["org"], "supervises_author": True}
    from audit.rejudge import _default_engine, _judge_read

    # (people.store reads directory facts only as the directory sealed them: the re-judging checks the fact)
    assert _judge_read(people.store, _default_engine, decided.data) is None

    call(notes_container, supervisor, "cosign_note", note_id)
    assert note_id not in {row["note_id"] for row in call(notes_container, supervisor, "review_queue")}


def test_after_the_supervision_ends_the_queue_is_empty_and_nothing_is_read_or_cosigned(
        notes_container, patient_id, marker, supervision, people):
    trainee, supervisor = supervision
    note_id = signed_psych_note(notes_container, trainee, supervisor, patient_id, f"session {marker}")
    assert note_id in {row["note_id"] for row in call(notes_container, supervisor, "review_queue")}
    people.end_supervision(supervisor.subject, trainee.subject)

    assert call(notes_container, supervisor, "review_queue") == []
    with pytest.raises(errors.AccessDeniedError, match=r"164\.508\(a\)\(2\)"):
        call(notes_container, supervisor, "read_note", note_id, "training", reply_public_key=READER_PUB)
    with pytest.raises(NotAuthorizedError, match="no longer supervises"):
        call(notes_container, supervisor, "cosign_note", note_id)


def test_another_supervisor_does_not_see_the_note_and_a_clinician_may_not_ask(
        notes_container, patient_id, marker, supervision, people, clinician):
    trainee, supervisor = supervision
    note_id = signed_psych_note(notes_container, trainee, supervisor, patient_id, f"session {marker}")
    other = people.member(unique("S-O"), "supervisor")
    people.supervise(other.subject, trainee.subject)  # supervises the trainee, but is not on the note
    assert note_id not in {row["note_id"] for row in call(notes_container, other, "review_queue")}
    with pytest.raises(errors.AccessDeniedError):
        call(notes_container, other, "read_note", note_id, "training", reply_public_key=READER_PUB)
    with pytest.raises(NotAuthorizedError):
        call(notes_container, clinician, "review_queue")


def test_a_trainees_signed_progress_note_is_queued_and_read_for_training(notes_container, patient_id, supervision):
    trainee, supervisor = supervision
    note_id = call(notes_container, trainee, "write_progress_note", {
        "patient_id": patient_id, "supervisor_id": supervisor.subject, "content": progress_content()})["note_id"]
    call(notes_container, trainee, "sign_note", note_id)
    [row] = [r for r in call(notes_container, supervisor, "review_queue") if r["note_id"] == note_id]
    assert row["kind"] == "progress"
    read = call(notes_container, supervisor, "read_note", note_id, "training")
    # Supervised training (164.506(c)(1)): the minimum necessary fields of a progress note.
    assert "164.506(c)(1)" in read["decision"]["rule"]
    assert read["note"]["fields"]["cpt_code_or_modality"]["cpt_code"] == "90837"
    call(notes_container, supervisor, "cosign_note", note_id)
    assert note_id not in {r["note_id"] for r in call(notes_container, supervisor, "review_queue")}


def test_a_recorded_supervision_fact_the_directory_did_not_support_is_an_unsupported_rejudge_finding(
        notes_container, patient_id, marker, supervision, people, pg_store):
    """An AccessDecided claiming supervises_author for someone the directory did not link to the
    note's author as its named supervisor (a wrong or forged record: the services' database login can
    append) is not believed by the re-judging: it is reported unsupported, and re-judged without it."""
    from audit.rejudge import _default_engine, _judge_read

    trainee, supervisor = supervision
    note_id = signed_psych_note(notes_container, trainee, supervisor, patient_id, f"session {marker}")
    read = call(notes_container, supervisor, "read_note", note_id, "training", reply_public_key=READER_PUB)
    [decided] = pg_store.read_stream(f"accessDecision-{read['decision']['decision_id']}")
    other = people.member(unique("S-F"), "supervisor")
    people.supervise(other.subject, trainee.subject)  # supervises the trainee, but is not named on the note
    stranger = people.member(unique("S-N"), "supervisor")  # supervises nobody
    for who in (other, stranger):
        forged = {**decided.data, "requester": {**decided.data["requester"], "id": who.subject}}
        mismatch = _judge_read(people.store, _default_engine, forged)
        assert mismatch is not None and mismatch.unsupported, who.subject
        assert any("supervises_author" in f for f in mismatch.findings)
        assert mismatch.current["decision"] == "deny"
    # Without a reader that checks the directory's seals the fact cannot be checked: not believed either.
    assert _judge_read(pg_store, _default_engine, decided.data).unsupported
    # The supervision ending later does not undo a read made while it held (the facts then known).
    people.end_supervision(supervisor.subject, trainee.subject)
    assert _judge_read(people.store, _default_engine, decided.data) is None

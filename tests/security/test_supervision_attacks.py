"""Attacks on the supervision fact and the review queue (issue 11): a supervisor's right to read a
trainee's psychotherapy note (45 CFR 164.508(a)(2)(i)(B)) comes only from the note (the supervisor
named on it) and the directory (linked to its author now), never from anything the caller sends.

Each attack goes over RabbitMQ against the running services (the ``system`` fixture of
test_identity_attacks: a scratch schema and vhost), with assertions minted as the front doors do.
"""
import pytest
from nameko.exceptions import RemoteError

from confide.identity.provider import identity_context

from .test_identity_attacks import (  # noqa: F401 - system is a fixture
    MARKER,
    READER_PUB,
    attack,
    call,
    ids,
    sealed,
    system,
    written,
)

FACTS = ("supervises_author", "in_ce_training_program", "supervised", "is_workforce", "identity_verified",
         "is_originator")


def a_trainees_signed_note(system):  # noqa: F811 - the imported fixture
    """A trainee's signed psychotherapy note naming supervisor S; O supervises the trainee too but is
    not named on the note; N supervises nobody."""
    patient = system.people.patient(ids("P"))
    trainee = system.people.member(ids("T"), "trainee")
    named = system.people.member(ids("S"), "supervisor")
    other = system.people.member(ids("O"), "supervisor")
    nobody = system.people.member(ids("N"), "supervisor")
    system.people.supervise(named.subject, trainee.subject)
    system.people.supervise(other.subject, trainee.subject)
    note_id = call(system, "notes", "write_psychotherapy_note", trainee.context(), {
        "patient_id": patient.subject, "supervisor_id": named.subject, "session_date": "2026-05-01",
        "sealed_text": sealed(system, f"process notes {MARKER}")})["note_id"]
    call(system, "notes", "sign_note", trainee.context(), note_id)
    return trainee, named, other, nobody, note_id


@pytest.mark.parametrize("fact", FACTS)
def test_a_requester_fact_named_in_read_note_is_a_recorded_refusal(system, fact):  # noqa: F811 - the imported fixture
    _, _, other, _, note_id = a_trainees_signed_note(system)
    exc, refusal = attack(system, "notes", "read_note", other.context(), note_id, "training",
                          reply_public_key=READER_PUB, expect=("NotAuthorizedError",), **{fact: True})
    assert fact in exc.value and refusal["subject"] == other.subject
    exc, _ = attack(system, "notes", "list_notes", other.context(), "P-unused", "training",
                    expect=("NotAuthorizedError",), **{fact: True})
    assert fact in exc.value


def test_the_supervision_fact_cannot_be_claimed_in_a_requester_either(system):  # noqa: F811 - the imported fixture
    _, _, other, nobody, note_id = a_trainees_signed_note(system)
    for who in (other, nobody):
        attack(system, "notes", "read_note", who.context(), note_id, "training", reply_public_key=READER_PUB,
               requester={"id": who.subject, "role": "supervisor", "supervises_author": True},
               expect=("NotAuthorizedError",))


def test_only_the_named_and_linked_supervisor_reads_queues_and_cosigns(system):  # noqa: F811 - the imported fixture
    trainee, named, other, nobody, note_id = a_trainees_signed_note(system)
    for who in (other, nobody):
        assert note_id not in {r["note_id"] for r in call(system, "notes", "review_queue", who.context())}
        for purpose in ("training", "treatment"):
            with pytest.raises(RemoteError) as exc:
                call(system, "notes", "read_note", who.context(), note_id, purpose, reply_public_key=READER_PUB)
            assert exc.value.exc_type == "AccessDeniedError"
        before = written(system)
        with pytest.raises(RemoteError) as exc:
            call(system, "notes", "cosign_note", who.context(), note_id)
        assert exc.value.exc_type == "CosignNotApplicableError" and written(system) == before
    # The trainee holds no supervisor role: no queue, however the assertion is made.
    attack(system, "notes", "review_queue", trainee.context(), expect=("NotAuthorizedError",))
    # A service credential alone (the web's, the cli's) is nobody.
    for service in ("web", "cli"):
        context = identity_context(None, system.people.service_assertion(service))
        attack(system, "notes", "review_queue", context, expect=("NotAuthenticatedError",))
    # The named supervisor, while linked: queued, read under (a)(2)(i)(B).
    assert note_id in {r["note_id"] for r in call(system, "notes", "review_queue", named.context())}
    read = call(system, "notes", "read_note", named.context(), note_id, "training", reply_public_key=READER_PUB)
    assert read["decision"]["rule"] == "45 CFR 164.508(a)(2)(i)(B)"

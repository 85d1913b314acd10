"""Service wiring through nameko's worker_factory: entrypoints only translate."""
import json

import pytest
from nameko.testing.services import worker_factory

from confide import transport
from confide.eventstore.memory import InMemoryEventStore
from confide.keys import ensure_decision_key
from notes.crypto import Keyring
from notes.domain import errors
from notes.service import NotesService

from .conftest import author, progress_content

NOTES_KEY, NOTES_PUB = transport.ephemeral()
AUTHOR = {"id": "C-A", "role": "originator_clinician"}
TEXT = "She spoke about the lake house. Dx F32.1; sertraline 50 mg daily."


@pytest.fixture
def service(tmp_path):
    ensure_decision_key(tmp_path / "keys")
    return worker_factory(NotesService, store=InMemoryEventStore(), keyring=Keyring(tmp_path / "keys"),
                          decision_key_dir=tmp_path / "keys", transport_key=NOTES_KEY)


def decisions(service):
    return [e for e in service.store.read_all() if e.type == "AccessDecided"]


def write_psych(service, text=TEXT):
    return service.write_psychotherapy_note({"patient_id": "P-1", "author": author(), "session_date": "2026-05-01",
                                             "sealed_text": transport.seal_for(NOTES_PUB, text)})["note_id"]


def test_transport_public_key_is_the_key_to_seal_to(service):
    assert service.transport_public_key() == NOTES_PUB


def test_sealed_write_read_round_trip(service):
    note_id = write_psych(service)
    service.revise_note(note_id, "C-A", sealed_text=transport.seal_for(NOTES_PUB, TEXT + " Revised."))
    service.sign_note(note_id, "C-A")
    service.add_addendum(note_id, "C-A", sealed_text=transport.seal_for(NOTES_PUB, "Addendum."))
    key, pub = transport.ephemeral()
    reply = service.read_note(note_id, AUTHOR, "treatment", reply_public_key=pub)
    raw = json.dumps(reply)
    assert "lake house" not in raw and "Addendum." not in raw  # only sealed on the way out
    note = transport.open_tree(key, reply)["note"]
    assert note["text"] == TEXT + " Revised." and note["addenda"][0]["text"] == "Addendum."
    other, _ = transport.ephemeral()
    with pytest.raises(transport.TransportError):  # a box to another key does not open
        transport.open_tree(other, reply)


@pytest.mark.parametrize("call", [
    lambda sv, nid: sv.write_psychotherapy_note({"patient_id": "P-1", "author": author(),
                                                 "session_date": "2026-05-01", "text": TEXT}),
    lambda sv, nid: sv.revise_note(nid, "C-A", text=TEXT),
    lambda sv, nid: sv.lint_text(text=TEXT),
    lambda sv, nid: (sv.sign_note(nid, "C-A"), sv.add_addendum(nid, "C-A", TEXT)),
], ids=["write", "revise", "lint", "addendum"])
def test_plaintext_psychotherapy_text_is_refused_naming_the_field(service, call):
    note_id = write_psych(service)
    before = len(service.store.read_all())
    with pytest.raises(errors.ValidationError, match="^text: psychotherapy text is not accepted in the clear"):
        call(service, note_id)
    assert len([e for e in service.store.read_all() if e.type != "PsychotherapyNoteSigned"]) == before


def test_a_box_sealed_to_another_key_is_refused(service):
    _, stranger = transport.ephemeral()
    with pytest.raises(errors.ValidationError, match="^sealed_text: not a sealed box to this notes service"):
        service.write_psychotherapy_note({"patient_id": "P-1", "author": author(), "session_date": "2026-05-01",
                                          "sealed_text": transport.seal_for(stranger, TEXT)})
    with pytest.raises(errors.ValidationError, match="^sealed_text:"):
        service.lint_text("not-a-box")


def test_sealed_lint(service):
    findings = service.lint_text(transport.seal_for(NOTES_PUB, "PHQ-9 score 14 today."))["findings"]
    assert [f["category"] for f in findings] == ["clinical_test_results"]


def test_progress_note_addenda_may_stay_plain(service):
    note_id = service.write_progress_note({"patient_id": "P-1", "author": author(),
                                           "content": progress_content()})["note_id"]
    service.sign_note(note_id, "C-A")
    service.add_addendum(note_id, "C-A", "called PCP")
    note = service.read_note(note_id, AUTHOR, "treatment")["note"]  # progress content: no reply key needed
    assert note["addenda"][0]["text"] == "called PCP"


def test_read_without_a_reply_key_is_refused_after_the_decision_is_recorded(service):
    note_id = write_psych(service)
    with pytest.raises(errors.ValidationError, match="^reply_public_key: required") as info:
        service.read_note(note_id, AUTHOR, "treatment")
    [decided] = decisions(service)
    assert decided.data["decision"] == "permit" and decided.data["decision_id"] in str(info.value)
    assert "lake house" not in str(info.value)


def test_release_without_a_reply_key_is_refused_before_content_released(service):
    from confide.envelope import NewEvent
    from confide.keys import seal_decision

    note_id = write_psych(service)
    decision_id = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
    data = {"decision_id": decision_id, "decided_at": "2999-01-01T00:00:00Z", "decision": "permit_minimum_necessary",
            "patient_id": "P-1", "note_kind": "psychotherapy", "note_ids": [note_id], "request_id": None,
            "fields_released": ["date_of_service", "diagnosis_codes", "medication_prescription_and_monitoring"]}
    data["seal"] = seal_decision(service.decision_key_dir, data)
    service.store.append(f"accessDecision-{decision_id}", [NewEvent("AccessDecided", data)], -1)
    with pytest.raises(errors.ValidationError, match="^reply_public_key: required"):
        service.release_fields(decision_id, [note_id])
    assert [e.type for e in service.store.read_stream(f"accessDecision-{decision_id}")] == ["AccessDecided"]
    key, pub = transport.ephemeral()
    reply = service.release_fields(decision_id, [note_id], reply_public_key=pub)
    assert "F32.1" not in json.dumps(reply) and "sertraline" not in json.dumps(reply)
    fields = transport.open_tree(key, reply)["notes"][0]["fields"]
    assert fields["diagnosis_codes"] == ["Dx F32.1"] and fields["date_of_service"] == "2026-05-01"
    assert any("sertraline 50 mg" in e for e in fields["medication_prescription_and_monitoring"])


def test_write_sign_read_round_trip_is_json_safe(service):
    note_id = service.write_progress_note({"patient_id": "P-1", "author": author(),
                                           "content": progress_content()})["note_id"]
    service.sign_note(note_id, "C-A")
    reply = service.read_note(note_id, {"id": "C-A", "role": "originator_clinician"}, "treatment", "birp")
    json.dumps(reply)
    assert reply["note"]["content"]["intervention"]["cpt_code"] == "90837"


def test_bad_payload_names_the_field(service):
    with pytest.raises(errors.ValidationError, match="author.role"):
        service.write_psychotherapy_note({"patient_id": "P-1", "author": author(role="wizard"),
                                          "session_date": "2026-05-01",
                                          "sealed_text": transport.seal_for(NOTES_PUB, "x")})


def test_every_entrypoint_lists_user_errors():
    from nameko.rpc import Rpc

    entrypoints = list(NotesService.write_progress_note.nameko_entrypoints)
    assert isinstance(next(iter(entrypoints)), Rpc)
    names = [n for n, f in vars(NotesService).items() if getattr(f, "nameko_entrypoints", None)]
    assert len(names) == 18
    for name in names:
        [entrypoint] = getattr(NotesService, name).nameko_entrypoints
        assert entrypoint.expected_exceptions == (errors.NotesError,)

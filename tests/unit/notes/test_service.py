"""Service wiring through nameko's worker_factory: entrypoints only translate."""
import json

import pytest
from nameko.testing.services import worker_factory

from confide.eventstore.memory import InMemoryEventStore
from confide.keys import ensure_decision_key
from notes.crypto import Keyring
from notes.domain import errors
from notes.service import NotesService

from .conftest import author, progress_content


@pytest.fixture
def service(tmp_path):
    ensure_decision_key(tmp_path / "keys")
    return worker_factory(NotesService, store=InMemoryEventStore(), keyring=Keyring(tmp_path / "keys"),
                          decision_key_dir=tmp_path / "keys")


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
                                          "session_date": "2026-05-01", "text": "x"})


def test_every_entrypoint_lists_user_errors():
    from nameko.rpc import Rpc

    entrypoints = list(NotesService.write_progress_note.nameko_entrypoints)
    assert isinstance(next(iter(entrypoints)), Rpc)
    names = [n for n, f in vars(NotesService).items() if getattr(f, "nameko_entrypoints", None)]
    assert len(names) == 17
    for name in names:
        [entrypoint] = getattr(NotesService, name).nameko_entrypoints
        assert entrypoint.expected_exceptions == (errors.NotesError,)

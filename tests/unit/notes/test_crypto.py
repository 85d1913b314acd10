"""Envelope encryption: AAD binding, file modes, rotation without rewriting events."""
import json
import os
import stat
import uuid

import pytest
from click.testing import CliRunner

from notes.commands import rotate_keys
from notes.crypto import DecryptionError, Keyring, KeyringError, aad_for, rotate_kek


def test_seal_and_open_round_trip(keyring):
    aad = aad_for("psychotherapyNote-n1", 0, uuid.uuid4())
    sealed = keyring.seal("n1", "She spoke about her father.", aad)
    assert set(sealed) == {"alg", "data_key_id", "nonce", "ciphertext"}
    assert "father" not in json.dumps(sealed)
    assert keyring.open(sealed, aad) == "She spoke about her father."


@pytest.mark.parametrize("moved_to", [
    ("psychotherapyNote-n2", 0, None),  # another stream
    ("psychotherapyNote-n1", 1, None),  # another version
    ("psychotherapyNote-n1", 0, uuid.uuid4()),  # another event
])
def test_ciphertext_moved_to_another_event_does_not_open(keyring, moved_to):
    event_id = uuid.uuid4()
    sealed = keyring.seal("n1", "text", aad_for("psychotherapyNote-n1", 0, event_id))
    stream, version, other_id = moved_to
    with pytest.raises(DecryptionError):
        keyring.open(sealed, aad_for(stream, version, other_id or event_id))


def test_keyring_files_are_private(keyring):
    keyring.seal("n1", "text", b"aad")
    for path in (keyring.key_dir / "keyring.json", keyring.key_dir / "wrapped-keys" / "n1.json"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(keyring.key_dir).st_mode) == 0o700


def test_one_data_key_per_note(keyring):
    keyring.seal("n1", "a", b"x")
    keyring.seal("n2", "b", b"x")
    assert keyring.data_key("n1") != keyring.data_key("n2")


def test_key_ids_cannot_escape_the_key_dir(keyring):
    with pytest.raises(KeyringError, match="not allowed"):
        keyring.seal("../evil", "a", b"x")


def test_rotation_rewraps_every_key_and_keeps_every_note_readable(keyring):
    sealed = {f"n{i}": keyring.seal(f"n{i}", f"text {i}", f"aad{i}".encode()) for i in range(5)}
    before_kek = keyring.active_kek_id()
    before = {p.name: p.read_text() for p in (keyring.key_dir / "wrapped-keys").glob("*.json")}
    assert len(before) == len(sealed), f"expected one wrapped key per sealed note, found {sorted(before)}"
    assert rotate_kek(keyring.key_dir) == 5
    after_kek = keyring.active_kek_id()
    assert after_kek != before_kek
    after = sorted((keyring.key_dir / "wrapped-keys").glob("*.json"))
    assert len(after) == len(sealed), f"expected one wrapped key per sealed note, found {after}"
    for path in after:
        record = json.loads(path.read_text())
        assert record["kek_id"] == after_kek and path.read_text() != before[path.name]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for i in range(5):  # the sealed payloads (what events hold) are untouched and still open
        assert Keyring(keyring.key_dir).open(sealed[f"n{i}"], f"aad{i}".encode()) == f"text {i}"


def test_rotate_keys_command(keyring):
    keyring.seal("n1", "a", b"x")
    result = CliRunner().invoke(rotate_keys, ["--key-dir", str(keyring.key_dir)])
    assert result.exit_code == 0, result.output
    assert "re-wrapped 1 data key" in result.output

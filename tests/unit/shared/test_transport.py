"""confide.transport: sealed boxes for psychotherapy text on the wire, and the notes transport key."""
import base64
import stat

import pytest

from confide import keys, transport


def test_sealed_round_trip_and_reply_tree():
    key, pub = transport.ephemeral()
    box = transport.seal_for(pub, "Pt spoke of the lake house. é✓")
    assert "lake" not in box and transport.open_sealed(key, box) == "Pt spoke of the lake house. é✓"
    reply = {"note": {"text": transport.sealed(pub, "one"), "addenda": [{"text": transport.sealed(pub, "two")}],
                      "kind": "psychotherapy"}, "n": 1}
    assert transport.open_tree(key, reply) == {"note": {"text": "one", "addenda": [{"text": "two"}],
                                                        "kind": "psychotherapy"}, "n": 1}


def test_a_box_to_another_key_does_not_open():
    _, pub = transport.ephemeral()
    other, _ = transport.ephemeral()
    with pytest.raises(transport.TransportError, match="does not open"):
        transport.open_sealed(other, transport.seal_for(pub, "secret"))


def test_an_altered_box_does_not_open():
    key, pub = transport.ephemeral()
    raw = bytearray(base64.b64decode(transport.seal_for(pub, "secret")))
    raw[-1] ^= 1
    with pytest.raises(transport.TransportError, match="does not open"):
        transport.open_sealed(key, base64.b64encode(bytes(raw)).decode())


@pytest.mark.parametrize("bad", ["", "not base64!", base64.b64encode(b"short").decode(), None, 5])
def test_malformed_keys_and_boxes_are_refused(bad):
    key, _ = transport.ephemeral()
    with pytest.raises(transport.TransportError):
        transport.public_key(bad)
    with pytest.raises(transport.TransportError):
        transport.open_sealed(key, bad)


def test_keys_init_makes_the_notes_transport_pair(tmp_path):
    made = keys.ensure_keys(tmp_path)
    assert transport.PRIVATE_KEY_FILE in made and transport.PUBLIC_KEY_FILE in made
    mode = stat.S_IMODE((tmp_path / transport.PRIVATE_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    pub = transport.load_public_key(tmp_path)
    assert pub == transport.public_key_b64(transport.load_private_key(tmp_path))
    assert transport.open_sealed(transport.load_private_key(tmp_path), transport.seal_for(pub, "x")) == "x"
    assert transport.PRIVATE_KEY_FILE not in keys.ensure_keys(tmp_path)  # kept, not replaced
    assert transport.load_public_key(tmp_path) == pub


def test_a_lost_public_file_is_rewritten_from_the_private_key(tmp_path):
    transport.ensure_transport_key(tmp_path)
    pub = transport.load_public_key(tmp_path)
    (tmp_path / transport.PUBLIC_KEY_FILE).unlink()
    assert transport.ensure_transport_key(tmp_path) is False
    assert transport.load_public_key(tmp_path) == pub

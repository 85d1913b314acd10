"""The assertion key pair on disk (0600 private, 0644 public) and RFC 7638 key ids."""
import base64
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from confide.identity import keys


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_key_id_is_the_rfc_7638_thumbprint():
    # RFC 8037 appendix A.3: the JWK thumbprint of the appendix A.2 Ed25519 public key.
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "="))
    assert keys.key_id(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_key_id_of_a_private_key_is_that_of_its_public_half():
    key = Ed25519PrivateKey.generate()
    assert keys.key_id(key) == keys.key_id(key.public_key())
    with pytest.raises(TypeError):
        keys.key_id(X25519PrivateKey.generate().public_key())


def test_ensure_creates_the_pair_once_with_modes(tmp_path):
    key_dir = tmp_path / "keys"
    assert keys.ensure_assertion_keys(key_dir) == [keys.ASSERTION_PRIVATE_KEY_FILE, keys.ASSERTION_PUBLIC_KEY_FILE]
    assert _mode(key_dir) == 0o700
    assert _mode(key_dir / keys.ASSERTION_PRIVATE_KEY_FILE) == 0o600
    assert _mode(key_dir / keys.ASSERTION_PUBLIC_KEY_FILE) == 0o644
    private = keys.load_assertion_signing_key(key_dir)
    assert keys.key_id(keys.load_assertion_public_key(key_dir)) == keys.key_id(private)
    assert keys.ensure_assertion_keys(key_dir) == []
    assert keys.key_id(keys.load_assertion_signing_key(key_dir)) == keys.key_id(private)


def test_a_missing_public_key_is_derived_not_a_new_pair(tmp_path):
    keys.ensure_assertion_keys(tmp_path)
    kid = keys.key_id(keys.load_assertion_signing_key(tmp_path))
    (tmp_path / keys.ASSERTION_PUBLIC_KEY_FILE).unlink()
    assert keys.ensure_assertion_keys(tmp_path) == [keys.ASSERTION_PUBLIC_KEY_FILE]
    assert keys.key_id(keys.load_assertion_public_key(tmp_path)) == kid


def test_a_public_key_of_another_pair_is_refused(tmp_path):
    keys.ensure_assertion_keys(tmp_path)
    other = Ed25519PrivateKey.generate().public_key()
    (tmp_path / keys.ASSERTION_PUBLIC_KEY_FILE).write_bytes(
        other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(ValueError, match="not the public half"):
        keys.ensure_assertion_keys(tmp_path)


def test_loading_missing_or_wrong_keys(tmp_path):
    with pytest.raises(FileNotFoundError):
        keys.load_assertion_signing_key(tmp_path)
    with pytest.raises(FileNotFoundError):
        keys.load_assertion_public_key(tmp_path)
    x = X25519PrivateKey.generate()
    (tmp_path / keys.ASSERTION_PRIVATE_KEY_FILE).write_bytes(x.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / keys.ASSERTION_PUBLIC_KEY_FILE).write_bytes(b"-----BEGIN PUBLIC KEY-----\ngarbage\n")
    with pytest.raises(ValueError, match="not an Ed25519 private key"):
        keys.load_assertion_signing_key(tmp_path)
    with pytest.raises(ValueError, match="not a PEM public key"):
        keys.load_assertion_public_key(tmp_path)


def test_key_set_maps_key_ids():
    a, b = Ed25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate().public_key()
    assert keys.key_set([a, b]) == {keys.key_id(a): a, keys.key_id(b): b}


# -- services' own keys and the trusted front-door keys ----------------------------------------

def test_service_keys_are_made_once_and_vouch_for_their_own_name(tmp_path):
    import stat

    from confide.identity.keys import (
        ensure_service_keys,
        key_id,
        load_service_public_keys,
        load_service_signing_key,
    )

    made = ensure_service_keys(tmp_path, ("web", "cli"))
    assert made == ["service-keys/web.key", "service-keys/web.pub", "service-keys/cli.key", "service-keys/cli.pub"]
    assert ensure_service_keys(tmp_path, ("web", "cli")) == []
    assert stat.S_IMODE((tmp_path / "service-keys" / "web.key").stat().st_mode) == 0o600
    keys = load_service_public_keys(tmp_path)
    assert keys[key_id(load_service_signing_key(tmp_path, "web"))][0] == "web"


def test_trusted_assertion_keys_include_other_front_doors(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from confide.identity.keys import ensure_assertion_keys, load_trusted_assertion_keys

    assert load_trusted_assertion_keys(tmp_path) == {}
    ensure_assertion_keys(tmp_path)
    (tmp_path / "trusted-assertion-keys").mkdir()
    other = Ed25519PrivateKey.generate().public_key()
    (tmp_path / "trusted-assertion-keys" / "gateway.pub").write_bytes(
        other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert len(load_trusted_assertion_keys(tmp_path)) == 2


def test_keys_init_makes_the_assertion_and_service_keys(tmp_path):
    from confide.keys import ensure_keys

    made = ensure_keys(tmp_path / "k")
    assert "identity-assertion.key" in made and "service-keys/cli.key" in made and "service-keys/web.key" in made

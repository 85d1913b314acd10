from __future__ import annotations

import base64
import hashlib
import json
import stat
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide import signing
from confide.signing import SignedTreeHead

ROOT = hashlib.sha256(b"root").digest()
TS = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_generate_keypair_files_and_modes(tmp_path):
    priv_path, pub_path = signing.generate_keypair(tmp_path / "keys")
    assert priv_path.name == "audit-signing.key" and pub_path.name == "audit-signing.pub"
    assert stat.S_IMODE(priv_path.stat().st_mode) == 0o600
    assert priv_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    priv = signing.load_private(priv_path)
    pub = signing.load_public(pub_path)
    assert priv.public_key().public_bytes_raw() == pub.public_bytes_raw()
    with pytest.raises(FileExistsError):
        signing.generate_keypair(tmp_path / "keys")
    signing.generate_keypair(tmp_path / "keys", overwrite=True)
    assert stat.S_IMODE(priv_path.stat().st_mode) == 0o600
    assert signing.load_public(pub_path).public_bytes_raw() != pub.public_bytes_raw()


def test_load_rejects_wrong_key_material(tmp_path):
    p = tmp_path / "x.pem"
    p.write_bytes(b"not a key")
    with pytest.raises(ValueError):
        signing.load_public(p)
    with pytest.raises(ValueError):
        signing.load_private(p)
    with pytest.raises(OSError):
        signing.load_public(tmp_path / "missing.pub")


def test_key_id_is_prefix_of_sha256_of_raw_public_key():
    k = Ed25519PrivateKey.generate()
    raw = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert signing.key_id(k) == signing.key_id(k.public_key()) == hashlib.sha256(raw).hexdigest()[:16]


def test_sign_and_verify_round_trip():
    k = Ed25519PrivateKey.generate()
    sth = signing.sign_tree_head(k, 42, ROOT, TS)
    assert sth.tree_size == 42 and sth.root_hash == ROOT.hex() and sth.root == ROOT
    assert sth.timestamp == "2024-05-01T12:00:00Z"
    assert sth.key_id == signing.key_id(k)
    assert len(base64.b64decode(sth.signature)) == 64
    assert signing.verify_tree_head(k.public_key(), sth)
    d = sth.to_dict()
    assert set(d) == {"tree_size", "root_hash", "timestamp", "key_id", "signature"}
    assert SignedTreeHead.from_dict(json.loads(json.dumps(d))) == sth
    assert signing.verify_tree_head(k.public_key(), d)


def test_signature_is_over_rfc8785_payload():
    k = Ed25519PrivateKey.generate()
    sth = signing.sign_tree_head(k, 7, ROOT, TS)
    payload = rfc8785.dumps(
        {"tree_size": 7, "root_hash": ROOT.hex(), "timestamp": sth.timestamp, "key_id": sth.key_id}
    )
    assert payload.startswith(b'{"key_id":')  # keys sorted per RFC 8785
    assert sth.signed_payload() == payload
    k.public_key().verify(base64.b64decode(sth.signature), payload)  # raises if wrong


def test_timestamps():
    k = Ed25519PrivateKey.generate()
    est = timezone(timedelta(hours=-5))
    sth = signing.sign_tree_head(k, 1, ROOT, datetime(2024, 1, 1, 7, 0, 0, 250, tzinfo=est))
    assert sth.timestamp == "2024-01-01T12:00:00.000250Z"
    assert signing.sign_tree_head(k, 1, ROOT, "2024-01-01T12:00:00Z").timestamp == "2024-01-01T12:00:00Z"
    now = signing.parse_timestamp(signing.sign_tree_head(k, 1, ROOT).timestamp)
    assert abs((datetime.now(timezone.utc) - now).total_seconds()) < 60
    with pytest.raises(ValueError, match="timezone-aware"):
        signing.sign_tree_head(k, 1, ROOT, datetime(2024, 1, 1))
    for bad in ("2024-01-01 12:00:00Z", "2024-01-01T12:00:00+01:00", "2024-13-01T00:00:00Z", "yesterday"):
        with pytest.raises(ValueError):
            signing.parse_timestamp(bad)


def test_sign_argument_errors():
    k = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError):
        signing.sign_tree_head(k, -1, ROOT, TS)
    with pytest.raises(ValueError):
        signing.sign_tree_head(k, True, ROOT, TS)
    with pytest.raises(ValueError):
        signing.sign_tree_head(k, 1, ROOT[:31], TS)
    with pytest.raises(ValueError):
        signing.sign_tree_head(k, 2**53, ROOT, TS)


def test_forged_and_tampered_heads_fail():
    k = Ed25519PrivateKey.generate()
    pub = k.public_key()
    sth = signing.sign_tree_head(k, 10, ROOT, TS)
    other_root = hashlib.sha256(b"other").digest().hex()
    assert not signing.verify_tree_head(pub, replace(sth, tree_size=11))
    assert not signing.verify_tree_head(pub, replace(sth, root_hash=other_root))
    assert not signing.verify_tree_head(pub, replace(sth, timestamp="2024-05-01T12:00:01Z"))
    sig = bytearray(base64.b64decode(sth.signature))
    sig[0] ^= 1
    assert not signing.verify_tree_head(pub, replace(sth, signature=base64.b64encode(bytes(sig)).decode()))
    assert not signing.verify_tree_head(pub, replace(sth, signature="AAAA"))
    assert not signing.verify_tree_head(pub, replace(sth, signature="not base64!"))
    # signed by another key (with its own key id, or lying about the key id)
    mallory = Ed25519PrivateKey.generate()
    forged = signing.sign_tree_head(mallory, 10, ROOT, TS)
    assert not signing.verify_tree_head(pub, forged)
    assert not signing.verify_tree_head(pub, replace(forged, key_id=sth.key_id))
    assert signing.verify_tree_head(mallory.public_key(), forged)
    # malformed dicts never raise
    assert not signing.verify_tree_head(pub, {"tree_size": 10})
    assert not signing.verify_tree_head(pub, "nope")  # type: ignore[arg-type]


def test_from_dict_is_strict():
    k = Ed25519PrivateKey.generate()
    good = signing.sign_tree_head(k, 3, ROOT, TS).to_dict()
    SignedTreeHead.from_dict(good)
    cases = [
        {k2: v for k2, v in good.items() if k2 != "signature"},
        {**good, "extra": 1},
        {**good, "tree_size": -1},
        {**good, "tree_size": "3"},
        {**good, "tree_size": 3.0},
        {**good, "tree_size": True},
        {**good, "root_hash": good["root_hash"].upper()},
        {**good, "root_hash": good["root_hash"][:-2]},
        {**good, "key_id": "xyz"},
        {**good, "timestamp": "2024-05-01"},
        {**good, "signature": good["signature"].rstrip("=")},
    ]
    for c in cases:
        with pytest.raises(ValueError):
            SignedTreeHead.from_dict(c)
        assert not signing.verify_tree_head(k.public_key(), c)
    with pytest.raises(ValueError):
        SignedTreeHead.from_dict([good])

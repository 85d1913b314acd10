from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from confide import merkle, proofs, signing
from confide.proofs import CONSISTENCY_FORMAT, INCLUSION_FORMAT, check_bundle

T1 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
T2 = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def hashes(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [hashlib.sha256(rng.randbytes(16)).digest() for _ in range(n)]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def log() -> list[bytes]:
    return hashes(37, seed=1)


def incl(log, i, key, **kw):
    return proofs.make_inclusion_bundle(
        log, i, event_id=f"evt-{i}", global_position=i + 1, private_key=key, timestamp=T1, **kw
    )


# ---------------------------------------------------------------- inclusion bundles


def test_inclusion_bundle_shape_and_validity(log, key):
    b = incl(log, 5, key)
    assert b["format"] == INCLUSION_FORMAT
    assert set(b) == {"format", "event", "leaf_index", "tree_head", "audit_path"}
    assert b["event"] == {"global_position": 6, "event_id": "evt-5", "content_hash": log[5].hex()}
    assert b["leaf_index"] == 5
    assert b["tree_head"]["tree_size"] == 37
    assert b["tree_head"]["root_hash"] == merkle.root(log).hex()
    assert b["audit_path"] == [p.hex() for p in merkle.inclusion_proof(log, 5)]
    b = json.loads(json.dumps(b))  # survives a JSON round trip
    res = check_bundle(b, key.public_key())
    assert res.ok and res and res.reasons == [] and res.kind == "inclusion"
    assert res.details["leaf_index"] == 5 and res.details["tree_head"]["tree_size"] == 37


def test_every_leaf_in_every_source_form(log, key):
    tree = merkle.MerkleTree(log)
    sth = signing.sign_tree_head(key, len(log), merkle.root(log), T1)
    for i in range(len(log)):
        from_list = incl(log, i, key)
        from_iter = proofs.make_inclusion_bundle(
            (h.hex() for h in log), i, event_id=f"evt-{i}", global_position=i + 1,
            tree_head=sth.to_dict(),
        )
        from_tree = proofs.make_inclusion_bundle(
            tree, i, event_id=f"evt-{i}", global_position=i + 1, tree_head=sth, content_hash=log[i]
        )
        assert from_list == from_iter == from_tree
        assert check_bundle(from_list, key.public_key()).ok


def test_inclusion_against_older_tree_size(log, key):
    b = incl(log, 3, key, tree_size=10)
    assert b["tree_head"]["tree_size"] == 10
    assert check_bundle(b, key.public_key()).ok


def test_make_inclusion_errors(log, key):
    with pytest.raises(ValueError, match="out of range"):
        incl(log, 37, key)
    with pytest.raises(ValueError, match="out of range"):
        incl(log, 5, key, tree_size=5)
    with pytest.raises(ValueError, match="tree_head or private_key"):
        proofs.make_inclusion_bundle(log, 1, event_id="e", global_position=1)
    with pytest.raises(ValueError, match="does not match"):
        incl(log, 1, key, content_hash=log[2])
    other = signing.sign_tree_head(key, 37, merkle.root(hashes(37, seed=99)), T1)
    with pytest.raises(ValueError, match="does not match the log"):
        proofs.make_inclusion_bundle(log, 1, event_id="e", global_position=1, tree_head=other)
    with pytest.raises(ValueError, match="32 bytes"):
        incl(log[:3] + [b"short"], 0, key)
    with pytest.raises(ValueError, match="content_hash is required"):
        proofs.make_inclusion_bundle(merkle.MerkleTree(log), 1, event_id="e", global_position=1, private_key=key)
    with pytest.raises(ValueError, match="tree_size is required"):
        proofs.make_inclusion_bundle(iter(log), 1, event_id="e", global_position=1, private_key=key)


def _reasons(b, key):
    res = check_bundle(b, key.public_key())
    assert not res.ok and not res
    assert res.reasons
    return " | ".join(res.reasons)


def test_inclusion_negative(log, key):
    good = incl(log, 9, key)

    b = copy.deepcopy(good)  # altered leaf
    b["event"]["content_hash"] = hashlib.sha256(b"other event").hexdigest()
    assert "audit path does not lead" in _reasons(b, key)

    b = copy.deepcopy(good)  # wrong index
    b["leaf_index"] = 10
    assert "audit path does not lead" in _reasons(b, key)
    b["leaf_index"] = 37
    assert "outside the signed tree" in _reasons(b, key)

    b = copy.deepcopy(good)  # wrong tree size: breaks the STH signature
    b["tree_head"]["tree_size"] = 38
    assert "tree_head signature does not verify" in _reasons(b, key)

    b = copy.deepcopy(good)  # tampered proof element
    b["audit_path"][2] = hashlib.sha256(b"x").hexdigest()
    assert "audit path does not lead" in _reasons(b, key)

    b = copy.deepcopy(good)  # truncated proof
    b["audit_path"] = b["audit_path"][:-1]
    assert "audit path does not lead" in _reasons(b, key)

    b = copy.deepcopy(good)  # root swapped for another log's root, signature kept
    b["tree_head"]["root_hash"] = merkle.root(hashes(37, seed=5)).hex()
    assert "signature does not verify" in _reasons(b, key)

    b = copy.deepcopy(good)  # forged signature bytes
    sig = bytearray(base64.b64decode(b["tree_head"]["signature"]))
    sig[10] ^= 0xFF
    b["tree_head"]["signature"] = base64.b64encode(bytes(sig)).decode()
    assert "signature does not verify" in _reasons(b, key)

    mallory = Ed25519PrivateKey.generate()  # tree head signed by another key
    forged = incl(log, 9, mallory)
    assert "signed by key" in _reasons(forged, key)
    forged["tree_head"]["key_id"] = good["tree_head"]["key_id"]  # ...even if it claims ours
    assert "signature does not verify" in _reasons(forged, key)
    assert check_bundle(incl(log, 9, mallory), mallory.public_key()).ok


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.pop("audit_path"),
        lambda b: b.update(extra=1),
        lambda b: b.update(leaf_index="9"),
        lambda b: b.update(leaf_index=-1),
        lambda b: b.update(leaf_index=True),
        lambda b: b.update(event=None),
        lambda b: b["event"].pop("event_id"),
        lambda b: b["event"].update(global_position=-3),
        lambda b: b["event"].update(content_hash="zz"),
        lambda b: b.update(audit_path="abc"),
        lambda b: b.update(audit_path=[1, 2]),
        lambda b: b["audit_path"].__setitem__(0, b["audit_path"][0].upper()),
        lambda b: b.update(tree_head={"tree_size": 1}),
        lambda b: b.update(tree_head=[]),
        lambda b: b.update(format="confide-inclusion-proof/2"),
    ],
)
def test_malformed_inclusion_bundles_are_invalid_not_crashes(log, key, mutate):
    b = incl(log, 9, key)
    mutate(b)
    assert not check_bundle(b, key.public_key()).ok


def test_non_dict_bundle(key):
    for b in (None, [], "x", 3):
        res = check_bundle(b, key.public_key())  # type: ignore[arg-type]
        assert not res.ok and res.reasons


# ---------------------------------------------------------------- consistency bundles


def test_consistency_bundle_shape_and_all_sizes(key):
    log = hashes(20, seed=2)
    tree = merkle.MerkleTree(log)
    for n in range(0, 21):
        for m in range(0, n + 1):
            b = proofs.make_consistency_bundle(log, m, new_size=n, private_key=key, timestamp=T1)
            assert b["format"] == CONSISTENCY_FORMAT
            assert set(b) == {"format", "old_tree_head", "new_tree_head", "proof"}
            assert b["old_tree_head"]["tree_size"] == m and b["new_tree_head"]["tree_size"] == n
            assert b["proof"] == [p.hex() for p in tree.consistency_proof(m, n)]
            res = check_bundle(json.loads(json.dumps(b)), key.public_key())
            assert res.ok, (m, n, res.reasons)
            assert res.kind == "consistency"


def test_consistency_with_published_old_head(key):
    log = hashes(30, seed=3)
    old = signing.sign_tree_head(key, 12, merkle.root(log[:12]), T1)
    b = proofs.make_consistency_bundle(iter(log), old_tree_head=old.to_dict(), new_size=30,
                                       private_key=key, timestamp=T2)
    assert b["old_tree_head"] == old.to_dict()
    assert b["new_tree_head"]["timestamp"] == "2024-06-01T12:00:00Z"
    assert check_bundle(b, key.public_key()).ok
    b2 = proofs.make_consistency_bundle(merkle.MerkleTree(log), old_tree_head=old, private_key=key,
                                        timestamp=T2)
    assert b2 == b


def test_make_consistency_errors(key):
    log = hashes(10)
    with pytest.raises(ValueError, match="exceeds"):
        proofs.make_consistency_bundle(log, 11, private_key=key)
    with pytest.raises(ValueError, match="old_size or old_tree_head"):
        proofs.make_consistency_bundle(log, private_key=key)
    with pytest.raises(ValueError, match="private_key is required"):
        proofs.make_consistency_bundle(log, 3)
    old = signing.sign_tree_head(key, 4, merkle.root(log[:4]), T1)
    with pytest.raises(ValueError, match="disagrees"):
        proofs.make_consistency_bundle(log, 5, old_tree_head=old, private_key=key)


def _rewritten_history(key):
    shared = hashes(5, seed=10)
    original = shared + hashes(3, seed=11)  # 8 events, head published at size 8
    rewritten = shared + hashes(6, seed=12)  # 11 events, history after event 5 replaced
    old = signing.sign_tree_head(key, 8, merkle.root(original), T1)
    return original, rewritten, old


def test_rewritten_history_fails_consistency_check(key):
    original, rewritten, old = _rewritten_history(key)
    # The honest producer refuses outright to prove against a head the log no longer matches.
    with pytest.raises(ValueError, match="does not match the log"):
        proofs.make_consistency_bundle(rewritten, old_tree_head=old, private_key=key, timestamp=T2)
    # A dishonest producer assembles the bundle by hand; the auditor's check must fail.
    new = signing.sign_tree_head(key, 11, merkle.root(rewritten), T2)
    forged = {
        "format": CONSISTENCY_FORMAT,
        "old_tree_head": old.to_dict(),
        "new_tree_head": new.to_dict(),
        "proof": [p.hex() for p in merkle.consistency_proof(rewritten, 8)],
    }
    res = check_bundle(forged, key.public_key())
    assert not res.ok
    assert "history was rewritten" in " ".join(res.reasons)
    # ...also with the honest log's proof material
    forged["proof"] = [p.hex() for p in merkle.consistency_proof(original + hashes(3, seed=13), 8)]
    assert not check_bundle(forged, key.public_key()).ok
    # The genuine extension of the original log does pass.
    extended = original + hashes(3, seed=13)
    ok = proofs.make_consistency_bundle(extended, old_tree_head=old, private_key=key, timestamp=T2)
    assert check_bundle(ok, key.public_key()).ok


def test_consistency_negative(key):
    log = hashes(25, seed=4)
    good = proofs.make_consistency_bundle(log, 11, private_key=key, timestamp=T1)

    b = copy.deepcopy(good)  # tampered element
    b["proof"][1] = hashlib.sha256(b"x").hexdigest()
    assert "consistency proof does not show" in _reasons(b, key)

    b = copy.deepcopy(good)  # truncated
    b["proof"].pop()
    assert "consistency proof does not show" in _reasons(b, key)

    b = copy.deepcopy(good)  # empty proof for a real extension
    b["proof"] = []
    assert "consistency proof does not show" in _reasons(b, key)

    b = copy.deepcopy(good)  # swapped heads
    b["old_tree_head"], b["new_tree_head"] = b["new_tree_head"], b["old_tree_head"]
    assert "larger than new" in _reasons(b, key)

    b = copy.deepcopy(good)  # resized head
    b["new_tree_head"]["tree_size"] = 24
    assert "new_tree_head signature does not verify" in _reasons(b, key)

    mallory = Ed25519PrivateKey.generate()  # new head from another key
    b = copy.deepcopy(good)
    b["new_tree_head"] = signing.sign_tree_head(mallory, 25, merkle.root(log), T1).to_dict()
    assert "new_tree_head was signed by key" in _reasons(b, key)

    # equivocation: two signed heads of the same size with different roots
    other = hashes(11, seed=44)
    b = {
        "format": CONSISTENCY_FORMAT,
        "old_tree_head": signing.sign_tree_head(key, 11, merkle.root(log[:11]), T1).to_dict(),
        "new_tree_head": signing.sign_tree_head(key, 11, merkle.root(other), T2).to_dict(),
        "proof": [],
    }
    assert "equivocation" in _reasons(b, key)

    b = copy.deepcopy(good)
    b["unexpected"] = True
    assert "unexpected field" in _reasons(b, key)


# ---------------------------------------------------------------- click command


@pytest.fixture()
def files(tmp_path, log):
    priv_path, pub_path = signing.generate_keypair(tmp_path / "keys")
    k = signing.load_private(priv_path)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(incl(log, 4, k)))
    cons = tmp_path / "cons.json"
    cons.write_text(json.dumps(proofs.make_consistency_bundle(log, 20, private_key=k, timestamp=T2)))
    bad = tmp_path / "bad.json"
    b = incl(log, 4, k)
    b["audit_path"][0] = "00" * 32
    bad.write_text(json.dumps(b))
    return tmp_path, pub_path, good, cons, bad


def test_cli_valid_inclusion(files):
    _, pub, good, _, _ = files
    r = CliRunner().invoke(proofs.check_command, [str(good), "--public-key", str(pub)])
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[0]
    assert first.startswith("VALID: event evt-4 (leaf 4) is included in the 37-event log")
    assert "tree_head.root_hash:" in r.output


def test_cli_valid_consistency_and_json(files):
    _, pub, _, cons, _ = files
    r = CliRunner().invoke(proofs.check_command, [str(cons), "--public-key", str(pub)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("VALID: the 37-event log")
    r = CliRunner().invoke(proofs.check_command, [str(cons), "--public-key", str(pub), "--json"])
    assert r.exit_code == 0
    assert json.loads(r.output)["ok"] is True


def test_cli_stdin(files):
    _, pub, good, _, _ = files
    r = CliRunner().invoke(proofs.check_command, ["-", "--public-key", str(pub)], input=good.read_text())
    assert r.exit_code == 0, r.output


def test_cli_invalid(files, tmp_path):
    tmp, pub, good, _, bad = files
    r = CliRunner().invoke(proofs.check_command, [str(bad), "--public-key", str(pub)])
    assert r.exit_code == 1
    assert r.output.startswith("INVALID: inclusion proof: audit path does not lead")
    assert "  reason:" in r.output
    # valid bundle, wrong public key
    _, other_pub = signing.generate_keypair(tmp / "other")
    r = CliRunner().invoke(proofs.check_command, [str(good), "--public-key", str(other_pub)])
    assert r.exit_code == 1
    assert "signed by key" in r.output
    # well-formed JSON that is not a bundle
    nb = tmp / "notbundle.json"
    nb.write_text('{"format": "something-else"}')
    r = CliRunner().invoke(proofs.check_command, [str(nb), "--public-key", str(pub)])
    assert r.exit_code == 1 and "unknown bundle format" in r.output


def test_cli_unreadable(files):
    tmp, pub, good, _, _ = files
    runner = CliRunner()
    r = runner.invoke(proofs.check_command, [str(tmp / "missing.json"), "--public-key", str(pub)])
    assert r.exit_code == 2 and "UNREADABLE" in r.output
    garbage = tmp / "garbage.json"
    garbage.write_text("{not json")
    r = runner.invoke(proofs.check_command, [str(garbage), "--public-key", str(pub)])
    assert r.exit_code == 2
    binary = tmp / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    r = runner.invoke(proofs.check_command, [str(binary), "--public-key", str(pub)])
    assert r.exit_code == 2
    dup = tmp / "dup.json"
    dup.write_text('{"format": "a", "format": "b"}')
    r = runner.invoke(proofs.check_command, [str(dup), "--public-key", str(pub)])
    assert r.exit_code == 2 and "duplicate" in r.output
    r = runner.invoke(proofs.check_command, [str(good), "--public-key", str(tmp / "nokey.pub")])
    assert r.exit_code == 2
    r = runner.invoke(proofs.check_command, [str(good), "--public-key", str(garbage)])
    assert r.exit_code == 2
    r = runner.invoke(proofs.check_command, [str(good)])  # --public-key is required
    assert r.exit_code == 2

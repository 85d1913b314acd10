"""Signed heads outside the database (confide.treeheads): reading them from checkpoint files and
proof bundles, finding two of one size that disagree, and publishing an append-only copy."""
import json

import pytest

from confide import treeheads
from confide.eventstore.chain import CHECKPOINT_FILE, write_checkpoint
from confide.keys import ensure_keys, load_public_key, load_signing_key
from confide.signing import sign_tree_head

ROOT_A, ROOT_B = b"\xaa" * 32, b"\xbb" * 32


@pytest.fixture
def keys(tmp_path):
    directory = tmp_path / "keys"
    ensure_keys(directory)
    return directory


def checkpoint(keys, directory, size, root=ROOT_A, mac=b"\x01" * 32):
    return write_checkpoint(directory, load_signing_key(keys), size - 1, size + 10, mac, size, root, [])


def test_heads_of_a_checkpoint_file_verify_and_a_bad_line_is_named(keys, tmp_path):
    primary = tmp_path / "cp"
    checkpoint(keys, primary, 3)
    checkpoint(keys, primary, 5)
    path = primary / CHECKPOINT_FILE
    edited = json.loads(path.read_text().splitlines()[1])
    edited["root_hash"] = ROOT_B.hex()  # changed without the key
    path.write_text(path.read_text() + json.dumps(edited) + "\n" + "not json\n")
    heads, problems = treeheads.read_heads(primary, load_public_key(keys))
    assert [h.tree_size for h in heads] == [3, 5] and heads[0].where == f"{path} line 1"
    assert problems == [f"{path} line 3: checkpoint signature does not verify",
                        problems[1]] and problems[1].startswith(f"{path} line 4: not JSON")
    other = tmp_path / "other-keys"
    ensure_keys(other)
    assert treeheads.read_heads(primary, load_public_key(other))[0] == []  # another practice's key


def test_signed_tree_heads_are_read_from_a_bundle_and_an_empty_file_is_a_problem(keys, tmp_path):
    sth = sign_tree_head(load_signing_key(keys), 4, ROOT_A).to_dict()
    bundle = tmp_path / "grew.json"
    bundle.write_text(json.dumps({"format": "confide-consistency-proof/1", "old_tree_head": sth,
                                  "new_tree_head": {**sth, "tree_size": 5}, "proof": []}))
    heads, problems = treeheads.read_heads(bundle, load_public_key(keys))
    assert [(h.tree_size, h.where.endswith("(old_tree_head)")) for h in heads] == [(4, True)]
    assert problems == [f"{bundle} (new_tree_head): signed tree head does not verify under this public key"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert treeheads.read_heads(empty, load_public_key(keys)) == ([], [f"{empty}: no signed head in it"])
    with pytest.raises(FileNotFoundError):
        treeheads.read_heads(tmp_path / "missing.json", load_public_key(keys))


def _head(size, root, where, chain_index=None, mac=None):
    return treeheads.Head(size, root.hex(), "2026-01-01T00:00:00Z", where, chain_index,
                          None if chain_index is None else size + 10, mac)


def test_forks_are_two_heads_of_one_size_that_disagree():
    a = _head(4, ROOT_A, "primary line 1", 3, "01" * 32)
    same = _head(4, ROOT_A, "copy line 1", 3, "01" * 32)
    sth_same = _head(4, ROOT_A, "bundle (tree_head)")
    other_root = _head(4, ROOT_B, "split line 1", 3, "01" * 32)
    other_chain = _head(4, ROOT_A, "split line 2", 3, "02" * 32)
    bigger = _head(5, ROOT_B, "primary line 2", 4, "03" * 32)
    assert treeheads.find_forks([a, same, sth_same, bigger]) == []
    forks = treeheads.find_forks([a, same, other_root, other_root, other_chain, bigger])
    assert [(f.first.where, f.second.where) for f in forks] == [("primary line 1", "split line 1"),
                                                               ("primary line 1", "split line 2")]
    assert "two different roots" in forks[0].reason and "different chain heads" in forks[1].reason
    assert ROOT_A.hex() in forks[0].describe() and ROOT_B.hex() in forks[0].describe()


def test_publish_appends_only_what_is_new_and_refuses_what_disagrees(keys, tmp_path):
    primary, dest = tmp_path / "cp", tmp_path / "share" / "heads"
    pub = load_public_key(keys)
    checkpoint(keys, primary, 2)
    first = treeheads.publish(primary, dest, pub)
    assert first.published == 1 and first.newest.tree_size == 2 and first.path == dest / CHECKPOINT_FILE
    written = first.path.read_text()
    assert set(json.loads(written)) == set(treeheads.PUBLISHED_FIELDS)  # no sealer resume state
    assert treeheads.publish(primary, dest, pub).published == 0
    checkpoint(keys, primary, 6)
    assert treeheads.publish(primary, dest, pub).published == 1
    assert first.path.read_text().startswith(written)
    assert [h.tree_size for h in treeheads.read_heads(dest, pub)[0]] == [2, 6]

    with pytest.raises(ValueError, match="checkpoint directory itself"):
        treeheads.publish(primary, primary, pub)
    with pytest.raises(FileNotFoundError):
        treeheads.publish(tmp_path / "no-checkpoints", dest, pub)
    checkpoint(keys, dest, 6, root=ROOT_B)  # a head of size 6 over another root, in the copy
    before = first.path.read_text()
    checkpoint(keys, primary, 9)
    with pytest.raises(treeheads.PublishRefusedError, match="FORK at tree size 6"):
        treeheads.publish(primary, dest, pub)
    assert first.path.read_text() == before  # the head of size 9 was not published
    honest = tmp_path / "honest-copy"
    assert treeheads.publish(primary, honest, pub).published == 3
    lost = tmp_path / "lost"
    checkpoint(keys, lost, 2)  # a primary that lost its newer heads, publishing to the copy that has them
    with pytest.raises(treeheads.PublishRefusedError, match="lost signed heads") as refused:
        treeheads.publish(lost, honest, pub)
    assert refused.value.problems == [refused.value.problems[0]] and "tree size 6" in refused.value.problems[0]

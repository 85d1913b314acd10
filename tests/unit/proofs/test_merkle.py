"""Known-answer and property tests for confide.merkle against an independent reference.

The reference functions below are a direct, deliberately naive transcription of the
recursive definitions in RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF).
"""

from __future__ import annotations

import hashlib
import random

import pytest

from confide import merkle

# ---------------------------------------------------------------- reference (RFC 9162 text)


def ref_hash(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def ref_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return ref_hash(b"")
    if n == 1:
        return ref_hash(b"\x00" + d[0])
    k = ref_k(n)
    return ref_hash(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def path_shape(m: int, n: int) -> list[bool]:
    """For each audit-path step, whether the sibling is on the left (RFC 9162 §2.1.3.1)."""
    shape = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = ref_k(hi - lo)
        if m - lo < k:
            shape.append(False)
            hi = lo + k
        else:
            shape.append(True)
            lo += k
    return shape[::-1]


def random_leaves(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(32) for _ in range(n)]


# ---------------------------------------------------------------- hashing primitives


def test_empty_tree_root_is_sha256_of_empty_string():
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    assert merkle.root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.MerkleAccumulator().root() == merkle.EMPTY_ROOT
    assert merkle.MerkleTree().root() == merkle.EMPTY_ROOT


def test_leaf_and_node_hash_domain_separation():
    d = b"\x11" * 32
    assert merkle.leaf_hash(d) == hashlib.sha256(b"\x00" + d).digest()
    a, b = b"\x01" * 32, b"\x02" * 32
    assert merkle.node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle.root([d]) == merkle.leaf_hash(d)


def test_hand_built_three_leaf_tree():
    d0, d1, d2 = b"a", b"b", b"c"
    h = lambda x: hashlib.sha256(x).digest()  # noqa: E731
    l0, l1, l2 = h(b"\x00a"), h(b"\x00b"), h(b"\x00c")
    expected = h(b"\x01" + h(b"\x01" + l0 + l1) + l2)
    assert merkle.root([d0, d1, d2]) == expected
    assert merkle.inclusion_proof([d0, d1, d2], 2) == [h(b"\x01" + l0 + l1)]
    assert merkle.inclusion_proof([d0, d1, d2], 0) == [l1, l2]


def test_rfc6962_style_reference_vectors():
    # The 8 leaf inputs used by the RFC 6962 reference implementations' test suites, with the
    # well-known roots for each prefix size.
    leaves = [bytes.fromhex(x) for x in (
        "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
    )]
    roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    for n in range(1, 9):
        assert merkle.root(leaves[:n]).hex() == roots[n - 1], n
        assert merkle.root(leaves[:n]) == ref_mth(leaves[:n])


# ---------------------------------------------------------------- roots vs reference


@pytest.mark.parametrize("n", list(range(0, 10)) + [31, 32, 33, 64, 100, 1000])
def test_root_matches_reference(n):
    d = random_leaves(n, seed=n)
    expected = ref_mth(d)
    assert merkle.root(d) == expected
    assert merkle.MerkleAccumulator(d).root() == expected
    assert merkle.MerkleTree(d).root() == expected


def test_accumulator_tracks_every_prefix_and_memory_is_logarithmic():
    d = random_leaves(300, seed=7)
    acc = merkle.MerkleAccumulator()
    tree = merkle.MerkleTree()
    for i, x in enumerate(d):
        acc.append(x)
        tree.append(x)
        assert acc.size == i + 1
        assert len(acc._stack) == bin(i + 1).count("1")  # frontier = one subtree per set bit
        assert acc.root() == ref_mth(d[: i + 1]), i
        assert tree.root() == acc.root()
    for n in range(0, 301):
        assert tree.root(n) == ref_mth(d[:n])


def test_accumulator_copy_is_independent():
    acc = merkle.MerkleAccumulator(random_leaves(5))
    snap = acc.copy()
    acc.append(b"x" * 32)
    assert snap.size == 5 and acc.size == 6
    assert snap.root() == merkle.root(random_leaves(5))


def test_root_of_large_streamed_log():
    # A generator: nothing is materialised. (1M-leaf runs are the same code path; kept small
    # here for test speed.)
    n = 50_000
    gen = (i.to_bytes(32, "big") for i in range(n))
    acc = merkle.MerkleAccumulator(gen)
    assert acc.size == n
    assert len(acc._stack) <= n.bit_length()
    assert acc.root() == merkle.MerkleTree(i.to_bytes(32, "big") for i in range(n)).root()


# ---------------------------------------------------------------- inclusion proofs


@pytest.mark.parametrize("n", list(range(1, 10)) + [17, 33])
def test_every_inclusion_proof_matches_reference_and_verifies(n):
    d = random_leaves(n, seed=100 + n)
    r = ref_mth(d)
    tree = merkle.MerkleTree(d)
    for m in range(n):
        expected = ref_path(m, d)
        proof = merkle.inclusion_proof(d, m)
        assert proof == expected, (n, m)
        assert tree.inclusion_proof(m) == expected
        assert merkle.inclusion_proof_with_root(iter(d), m, n) == (expected, r)
        assert merkle.verify_inclusion(d[m], m, n, proof, r)
        assert merkle.root_from_inclusion_proof(d[m], m, n, proof) == r


def test_every_inclusion_proof_for_1000_leaves():
    n = 1000
    d = random_leaves(n, seed=1000)
    tree = merkle.MerkleTree(d)
    r = merkle.root(d)
    assert r == ref_mth(d)
    for m in range(n):
        proof = tree.inclusion_proof(m)
        assert merkle.verify_inclusion(d[m], m, n, proof, r), m
    # the streaming generator agrees with the in-memory tree (sampled: O(n) each)
    for m in (0, 1, 499, 511, 512, 998, 999):
        assert merkle.inclusion_proof(iter(d), m, n) == tree.inclusion_proof(m) == ref_path(m, d)


def test_inclusion_proofs_against_historical_sizes():
    d = random_leaves(40, seed=3)
    tree = merkle.MerkleTree(d)
    for size in range(1, 41):
        r = ref_mth(d[:size])
        for m in range(size):
            p = tree.inclusion_proof(m, size)
            assert p == ref_path(m, d[:size])
            assert merkle.inclusion_proof(d, m, tree_size=size) == p
            assert merkle.verify_inclusion(d[m], m, size, p, r)


def test_inclusion_negative_cases():
    n = 13
    d = random_leaves(n, seed=5)
    r = merkle.root(d)
    for m in range(n):
        p = merkle.inclusion_proof(d, m)
        # altered leaf
        assert not merkle.verify_inclusion(b"\xff" * 32, m, n, p, r)
        # wrong index
        for other in range(n):
            if other != m:
                assert not merkle.verify_inclusion(d[m], other, n, p, r)
        # wrong tree size. The RFC 9162 hashes do not commit to the size (the signed tree
        # head does), so a wrong size is only detectable when it changes the path's shape
        # (number of steps and left/right order); it must fail in exactly those cases.
        rejected = 0
        for size in range(0, 2 * n + 3):
            if size == n:
                continue
            same_shape = size > m and path_shape(m, size) == path_shape(m, n)
            assert merkle.verify_inclusion(d[m], m, size, p, r) == same_shape, (m, size)
            rejected += not same_shape
        assert rejected >= n
        # tampered proof element
        for j in range(len(p)):
            bad = list(p)
            bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
            assert not merkle.verify_inclusion(d[m], m, n, bad, r)
        # truncated / extended proof
        if p:
            assert not merkle.verify_inclusion(d[m], m, n, p[:-1], r)
        assert not merkle.verify_inclusion(d[m], m, n, p + [r], r)
        # wrong root
        assert not merkle.verify_inclusion(d[m], m, n, p, merkle.root(d[:-1]))
        # malformed inputs never raise
        assert not merkle.verify_inclusion(d[m], -1, n, p, r)
        assert not merkle.verify_inclusion(d[m], m, n, p + [b"short"], r)
        assert not merkle.verify_inclusion(d[m], m, n, p, r[:31])


def test_single_leaf_tree_inclusion():
    d = [b"\x42" * 32]
    assert merkle.inclusion_proof(d, 0) == []
    assert merkle.verify_inclusion(d[0], 0, 1, [], merkle.leaf_hash(d[0]))
    assert not merkle.verify_inclusion(d[0], 0, 0, [], merkle.leaf_hash(d[0]))


def test_inclusion_generation_errors():
    d = random_leaves(4)
    with pytest.raises(ValueError, match="out of range"):
        merkle.inclusion_proof(d, 4)
    with pytest.raises(ValueError, match="out of range"):
        merkle.inclusion_proof([], 0)
    with pytest.raises(ValueError, match=">= 0"):
        merkle.inclusion_proof(d, -1)
    with pytest.raises(ValueError, match="exceeds"):
        merkle.inclusion_proof(d, 0, tree_size=5)
    with pytest.raises(ValueError, match="tree_size is required"):
        merkle.inclusion_proof(iter(d), 0)
    with pytest.raises(ValueError, match="ended after 4"):
        merkle.inclusion_proof(iter(d), 0, tree_size=6)
    with pytest.raises(ValueError, match="out of range"):
        merkle.MerkleTree(d).inclusion_proof(4)
    with pytest.raises(ValueError, match="exceeds"):
        merkle.MerkleTree(d).inclusion_proof(0, 9)
    with pytest.raises(ValueError, match="out of range"):
        merkle.root_from_inclusion_proof(d[0], 4, 4, [])


# ---------------------------------------------------------------- consistency proofs


def test_every_consistency_proof_up_to_20_matches_reference_and_verifies():
    d = random_leaves(20, seed=20)
    tree = merkle.MerkleTree(d)
    for n in range(0, 21):
        new_root = ref_mth(d[:n])
        for m in range(0, n + 1):
            old_root = ref_mth(d[:m])
            expected = ref_proof(m, d[:n]) if 0 < m < n else []
            p = merkle.consistency_proof(d[:n], m)
            assert p == expected, (m, n)
            assert tree.consistency_proof(m, n) == expected
            assert merkle.consistency_proof_with_roots(iter(d), m, n) == (expected, old_root, new_root)
            assert merkle.verify_consistency(m, n, old_root, new_root, p), (m, n)


def test_consistency_proofs_1000_sampled():
    d = random_leaves(1000, seed=11)
    tree = merkle.MerkleTree(d)
    n = 1000
    nr = tree.root()
    for m in list(range(1, 70)) + [127, 128, 129, 500, 511, 512, 513, 998, 999, 1000]:
        p = tree.consistency_proof(m)
        assert merkle.verify_consistency(m, n, tree.root(m), nr, p), m
    for m in (1, 7, 512, 777):
        assert merkle.consistency_proof(d, m) == tree.consistency_proof(m) == ref_proof(m, d)


def test_consistency_negative_cases():
    d = random_leaves(20, seed=21)
    for n in range(2, 21):
        nr = merkle.root(d[:n])
        for m in range(1, n):
            orr = merkle.root(d[:m])
            p = merkle.consistency_proof(d[:n], m)
            assert p
            # tampered element
            for j in range(len(p)):
                bad = list(p)
                bad[j] = bytes([bad[j][0] ^ 0x80]) + bad[j][1:]
                assert not merkle.verify_consistency(m, n, orr, nr, bad), (m, n, j)
            # truncated / extended
            assert not merkle.verify_consistency(m, n, orr, nr, p[:-1])
            assert not merkle.verify_consistency(m, n, orr, nr, p + [nr])
            # wrong sizes: as for inclusion, only sizes that change the proof's shape are
            # detectable from hashes alone; the STH signature binds size to root.
            for m2 in range(1, n + 3):
                for n2 in range(m2, n + 3):
                    if (m2, n2) != (m, n) and len(ref_proof(m2, [b""] * n2) if m2 < n2 else []) != len(p):
                        assert not merkle.verify_consistency(m2, n2, orr, nr, p), (m, n, m2, n2)
            assert not merkle.verify_consistency(m, n, orr, nr, [])
            # swapped roots, wrong roots
            assert not merkle.verify_consistency(m, n, nr, orr, p)
            assert not merkle.verify_consistency(m, n, orr, merkle.root(d[: n - 1] + [b"z" * 32]), p)
            # reversed direction
            assert not merkle.verify_consistency(n, m, nr, orr, p)


def test_consistency_special_sizes():
    d = random_leaves(6)
    r = merkle.root(d)
    assert merkle.consistency_proof(d, 6) == []
    assert merkle.consistency_proof(d, 0) == []
    assert merkle.verify_consistency(6, 6, r, r, [])
    assert not merkle.verify_consistency(6, 6, r, merkle.root(d[:5]), [])
    assert not merkle.verify_consistency(6, 6, r, r, [r])
    assert merkle.verify_consistency(0, 6, merkle.EMPTY_ROOT, r, [])
    assert not merkle.verify_consistency(0, 6, r, r, [])
    assert not merkle.verify_consistency(-1, 6, r, r, [])
    with pytest.raises(ValueError, match="exceeds"):
        merkle.consistency_proof(d, 7)
    with pytest.raises(ValueError, match=">= 0"):
        merkle.consistency_proof(d, -1)
    with pytest.raises(ValueError, match="exceeds"):
        merkle.MerkleTree(d).consistency_proof(3, 7)


def test_rewritten_history_fails_consistency():
    """Two logs share a 5-event prefix, then diverge: neither extends the other's 7-head."""
    shared = random_leaves(5, seed=50)
    original = shared + random_leaves(3, seed=51)  # 8 events
    rewritten = shared + random_leaves(6, seed=52)  # 11 events, events 5.. differ
    old_size, old_root = 7, merkle.root(original[:7])
    new_root = merkle.root(rewritten)
    forged = merkle.consistency_proof(rewritten, old_size)
    assert not merkle.verify_consistency(old_size, len(rewritten), old_root, new_root, forged)
    honest = merkle.consistency_proof(original, old_size)
    assert not merkle.verify_consistency(old_size, len(rewritten), old_root, new_root, honest)
    # whereas the shared prefix itself is consistent with both
    for log in (original, rewritten):
        p = merkle.consistency_proof(log, 5)
        assert merkle.verify_consistency(5, len(log), merkle.root(shared), merkle.root(log), p)
    # and an old head of every size beyond the shared prefix fails against the rewritten log
    for m in range(6, 9):
        p = merkle.consistency_proof(rewritten, m)
        assert not merkle.verify_consistency(m, 11, merkle.root(original[:m]), new_root, p), m


def test_accumulator_frontier_round_trip():
    d = random_leaves(100, seed=8)
    for cut in (0, 1, 2, 3, 37, 64, 99):
        acc = merkle.MerkleAccumulator(d[:cut])
        fr = acc.frontier()
        assert [s for s, _ in fr] == [1 << b for b in range(cut.bit_length() - 1, -1, -1) if cut >> b & 1]
        resumed = merkle.MerkleAccumulator.from_frontier(fr)
        assert resumed.size == cut
        resumed.extend(d[cut:])
        assert resumed.root() == ref_mth(d)
    h = b"\x00" * 32
    for bad in ([(3, h)], [(2, h), (4, h)], [(2, h), (2, h)], [(4, b"short")], [(True, h)]):
        with pytest.raises(ValueError):
            merkle.MerkleAccumulator.from_frontier(bad)

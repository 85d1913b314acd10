"""RFC 9162 (Certificate Transparency v2, obsoleting RFC 6962) Merkle tree over the event log.

Pure module: standard library only (``hashlib``, ``itertools``). No I/O.

Tree shape and hashing (RFC 9162 §2.1.1)
-----------------------------------------
* The input is an ordered list of *leaf data* byte strings ``D[0:n]``. In Confide the leaf
  data for leaf ``i`` is the 32-byte SHA-256 content hash of event ``i`` in global chain order.
* ``MTH({}) = SHA-256("")`` (the empty tree).
* ``MTH({d0}) = SHA-256(0x00 || d0)`` -- the *leaf hash* (:func:`leaf_hash`).
* For ``n > 1``, let ``k`` be the largest power of two strictly less than ``n``;
  ``MTH(D[0:n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` (:func:`node_hash`).

All hashes are 32-byte ``bytes``. Sizes and indices are non-negative ``int`` counts of leaves;
indices are 0-based.

Proof generation comes in three flavours, all producing identical output:

* module functions :func:`inclusion_proof` / :func:`consistency_proof` (and the
  ``*_with_root(s)`` variants) take any iterable of leaf data and make **one streaming pass**
  over the first ``tree_size`` leaves: O(n) hash operations, O(log n) memory. This is what to
  use against a store cursor of a 1M-event log (about a second or two of CPU per proof).
* :class:`MerkleTree` keeps every perfect subtree hash in memory (about ``2n`` hashes, i.e.
  ~64 MiB for 1M leaves) and then answers any proof for any historical tree size in
  O(log^2 n) time -- use it when producing many proofs at once.
* :class:`MerkleAccumulator` keeps only the O(log n) "frontier" and gives the root of
  everything appended so far; it produces no proofs.

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) follows the RFC 9162
§2.1.3.2 and §2.1.4.2 algorithms literally and **never raises** on bad input: any malformed,
out-of-range or non-matching input simply yields ``False``. Generation functions raise
``ValueError`` for out-of-range indices and sizes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from itertools import islice

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "root",
    "inclusion_proof",
    "inclusion_proof_with_root",
    "consistency_proof",
    "consistency_proof_with_roots",
    "root_from_inclusion_proof",
    "verify_inclusion",
    "verify_consistency",
    "MerkleAccumulator",
    "MerkleTree",
]

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""``MTH({})``: root of the empty tree, SHA-256 of the empty string (RFC 9162 §2.1.1)."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return the 32-byte RFC 9162 §2.1.1 leaf hash ``SHA-256(0x00 || data)``.

    ``data`` is the leaf data (any bytes-like object; in Confide a 32-byte content hash).
    """
    return hashlib.sha256(_LEAF_PREFIX + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the 32-byte RFC 9162 §2.1.1 interior hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split_point(n: int) -> int:
    """Largest power of two strictly less than ``n`` (``n >= 2``); the ``k`` of RFC 9162 §2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _resolve_size(leaves: Iterable[bytes], tree_size: int | None) -> int:
    """Tree size to use: explicit ``tree_size`` or ``len(leaves)`` for sized inputs."""
    if tree_size is None:
        if not hasattr(leaves, "__len__"):
            raise ValueError("tree_size is required when leaves is not a sized sequence")
        return len(leaves)  # type: ignore[arg-type]
    _check_int("tree_size", tree_size)
    if hasattr(leaves, "__len__") and tree_size > len(leaves):  # type: ignore[arg-type]
        raise ValueError(
            f"tree_size {tree_size} exceeds the number of leaves supplied ({len(leaves)})"  # type: ignore[arg-type]
        )
    return tree_size


# --------------------------------------------------------------------------------------------
# Incremental root
# --------------------------------------------------------------------------------------------


class MerkleAccumulator:
    """Incremental RFC 9162 Merkle tree hasher with O(log n) memory.

    Keeps the "frontier": one ``(size, hash)`` entry per perfect subtree in the binary
    decomposition of the current size (at most ``bit_length(n)`` entries, i.e. <= 64).
    :meth:`append` is amortised O(1) hash operations (worst case O(log n)); :meth:`root` is
    O(log n). Because ``MTH`` splits at the largest power of two, the root of ``n`` leaves is
    ``node(s1, node(s2, ... node(s_{j-1}, s_j)))`` over the frontier subtrees, largest first.
    """

    __slots__ = ("_stack", "_size")

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (subtree size, subtree hash), sizes decreasing
        self._size = 0
        self.extend(leaves)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def append(self, leaf_data: bytes) -> None:
        """Append one leaf (its *data*; it is leaf-hashed here)."""
        # leaf_hash and node_hash inlined: verify and the sealer call this once per event.
        h = _sha256(_LEAF_PREFIX + leaf_data).digest()
        size, stack = 1, self._stack
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            h = _sha256(_NODE_PREFIX + left + h).digest()
            size += left_size
        stack.append((size, h))
        self._size += 1

    def append_leaf_hash(self, leaf_hash_value: bytes) -> None:
        """Append one leaf given its already-computed 32-byte leaf hash."""
        size, h = 1, leaf_hash_value
        stack = self._stack
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            h = node_hash(left, h)
            size += left_size
        stack.append((size, h))
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append every leaf data item of ``leaves`` in order."""
        for d in leaves:
            self.append(d)

    def root(self) -> bytes:
        """Return ``MTH`` of all leaves appended so far (``EMPTY_ROOT`` if none), 32 bytes."""
        if not self._stack:
            return EMPTY_ROOT
        it = reversed(self._stack)
        _, h = next(it)
        for _, left in it:
            h = node_hash(left, h)
        return h

    def frontier(self) -> list[tuple[int, bytes]]:
        """Return the resumable state: ``[(subtree_size, 32-byte subtree hash), ...]``,
        largest subtree first; sizes are the powers of two of the binary form of :attr:`size`.
        Persist it (e.g. hex-encoded in a checkpoint) and resume with :meth:`from_frontier`.
        """
        return list(self._stack)

    @classmethod
    def from_frontier(cls, frontier: Iterable[tuple[int, bytes]]) -> MerkleAccumulator:
        """Rebuild an accumulator from :meth:`frontier` output in O(log n).

        :raises ValueError: sizes not strictly decreasing powers of two, or a hash that is
            not 32 bytes. (The hashes themselves cannot be checked without the leaves.)
        """
        stack: list[tuple[int, bytes]] = []
        for size, h in frontier:
            if isinstance(size, bool) or not isinstance(size, int) or not _is_pow2(size):
                raise ValueError(f"frontier subtree size {size!r} is not a power of two")
            if stack and size >= stack[-1][0]:
                raise ValueError("frontier subtree sizes must be strictly decreasing")
            if not _is_hash(h):
                raise ValueError("frontier hashes must be 32 bytes")
            stack.append((size, bytes(h)))
        acc = cls()
        acc._stack = stack
        acc._size = sum(s for s, _ in stack)
        return acc

    def copy(self) -> MerkleAccumulator:
        """Return an independent copy (O(log n))."""
        other = MerkleAccumulator()
        other._stack = list(self._stack)
        other._size = self._size
        return other


def root(leaves: Sequence[bytes] | Iterable[bytes]) -> bytes:
    """Return ``MTH(D[0:n])`` (RFC 9162 §2.1.1) over all of ``leaves`` as 32 bytes.

    One pass, O(n) hashes, O(log n) memory. The empty tree's root is ``SHA-256("")``.
    """
    return MerkleAccumulator(leaves).root()


# --------------------------------------------------------------------------------------------
# Proof shapes: which subtree ranges [a, b) a proof consists of, in proof order
# --------------------------------------------------------------------------------------------


def _inclusion_ranges(index: int, n: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form ``PATH(index, D[0:n])`` (RFC 9162 §2.1.3.1), leaf-most first."""
    out: list[tuple[int, int]] = []
    lo, hi, m = 0, n, index
    # Descend from the root, recording the sibling of the branch containing ``m``.
    while hi - lo > 1:
        k = _split_point(hi - lo)
        if m < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            m -= k
            lo += k
    out.reverse()  # PATH lists the deepest sibling first
    return out


def _consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form ``PROOF(m, D[0:n])`` (RFC 9162 §2.1.4.1), for 0 < m <= n."""
    out: list[tuple[int, int]] = []
    lo, hi, b = 0, n, True
    # SUBPROOF(m, D[lo:hi], b), unrolled; every recursive call appends *after* its child's output.
    while True:
        size = hi - lo
        if m == size:
            if not b:
                out.append((lo, hi))
            break
        k = _split_point(size)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            m -= k
            lo += k
            b = False
    out.reverse()
    return out


def _scan(
    leaves: Iterable[bytes],
    n: int,
    ranges: list[tuple[int, int]],
    checkpoints: Sequence[int] = (),
) -> tuple[dict[tuple[int, int], bytes], dict[int, bytes]]:
    """One pass over ``leaves[0:n]`` hashing each disjoint range and recording prefix roots.

    Returns ``({range: MTH(range)}, {size: MTH(D[0:size])})``. O(n) hashes, O(log n) memory
    (plus the outputs). Raises ``ValueError`` if ``leaves`` yields fewer than ``n`` items.
    """
    pending = sorted(ranges)
    range_hashes: dict[tuple[int, int], bytes] = {}
    want = set(checkpoints)
    prefix_roots: dict[int, bytes] = {}
    if 0 in want:
        prefix_roots[0] = EMPTY_ROOT
    total = MerkleAccumulator()
    current: MerkleAccumulator | None = None
    ri = 0
    count = 0
    for i, d in enumerate(islice(leaves, n)):
        lh = leaf_hash(d)
        total.append_leaf_hash(lh)
        if ri < len(pending) and pending[ri][0] <= i:
            if current is None:
                current = MerkleAccumulator()
            current.append_leaf_hash(lh)
            if i == pending[ri][1] - 1:
                range_hashes[pending[ri]] = current.root()
                current = None
                ri += 1
        count = i + 1
        if count in want:
            prefix_roots[count] = total.root()
    if count < n:
        raise ValueError(f"leaves ended after {count} items but tree_size is {n}")
    return range_hashes, prefix_roots


# --------------------------------------------------------------------------------------------
# Streaming proof generation
# --------------------------------------------------------------------------------------------


def inclusion_proof_with_root(
    leaves: Iterable[bytes], index: int, tree_size: int | None = None
) -> tuple[list[bytes], bytes]:
    """Return ``(PATH(index, D[0:tree_size]), MTH(D[0:tree_size]))`` in one streaming pass.

    See :func:`inclusion_proof` for arguments, complexity and errors.
    """
    n = _resolve_size(leaves, tree_size)
    _check_int("index", index)
    if index >= n:
        raise ValueError(f"leaf index {index} out of range for tree size {n}")
    ranges = _inclusion_ranges(index, n)
    hashes, roots = _scan(leaves, n, ranges, (n,))
    return [hashes[r] for r in ranges], roots[n]


def inclusion_proof(
    leaves: Iterable[bytes], index: int, tree_size: int | None = None
) -> list[bytes]:
    """Return the RFC 9162 §2.1.3.1 audit path ``PATH(index, D[0:tree_size])``.

    :param leaves: leaf data in order (e.g. 32-byte event content hashes in chain order).
        Any iterable; only the first ``tree_size`` items are consumed, in a single pass.
    :param index: 0-based leaf index, ``0 <= index < tree_size``.
    :param tree_size: size of the tree to prove against; defaults to ``len(leaves)``
        (required when ``leaves`` has no ``len``). May be smaller than ``len(leaves)`` to
        prove against an older tree head.
    :returns: list of 32-byte hashes, deepest sibling first (``[]`` for a 1-leaf tree).
    :raises ValueError: index or size out of range, or ``leaves`` too short.

    Complexity: O(tree_size) hash operations, O(log tree_size) memory.
    """
    return inclusion_proof_with_root(leaves, index, tree_size)[0]


def consistency_proof_with_roots(
    leaves: Iterable[bytes], old_size: int, new_size: int | None = None
) -> tuple[list[bytes], bytes, bytes]:
    """Return ``(PROOF(old_size, D[0:new_size]), MTH(D[0:old_size]), MTH(D[0:new_size]))``.

    One streaming pass. See :func:`consistency_proof` for arguments, complexity and errors.
    """
    n = _resolve_size(leaves, new_size)
    _check_int("old_size", old_size)
    if old_size > n:
        raise ValueError(f"old_size {old_size} exceeds new tree size {n}")
    ranges = _consistency_ranges(old_size, n) if 0 < old_size < n else []
    hashes, roots = _scan(leaves, n, ranges, (old_size, n))
    return [hashes[r] for r in ranges], roots[old_size], roots[n]


def consistency_proof(
    leaves: Iterable[bytes], old_size: int, new_size: int | None = None
) -> list[bytes]:
    """Return the RFC 9162 §2.1.4.1 consistency proof ``PROOF(old_size, D[0:new_size])``.

    :param leaves: leaf data in order; any iterable, first ``new_size`` items consumed once.
    :param old_size: size of the earlier tree, ``0 <= old_size <= new_size``.
    :param new_size: size of the later tree; defaults to ``len(leaves)``.
    :returns: list of 32-byte hashes; ``[]`` when ``old_size`` is 0 or equals ``new_size``
        (the empty tree is consistent with every tree, and a tree with itself).
    :raises ValueError: sizes out of range, or ``leaves`` too short.

    Complexity: O(new_size) hash operations, O(log new_size) memory.
    """
    return consistency_proof_with_roots(leaves, old_size, new_size)[0]


# --------------------------------------------------------------------------------------------
# In-memory tree for many proofs
# --------------------------------------------------------------------------------------------


class MerkleTree:
    """Append-only in-memory RFC 9162 tree holding every perfect subtree hash.

    ``levels[h][j]`` is the MTH of the perfect subtree of ``2**h`` leaves starting at leaf
    ``j * 2**h``. Memory: < 2n hashes of 32 bytes. :meth:`append` is amortised O(1);
    :meth:`root`, :meth:`inclusion_proof`, :meth:`consistency_proof` are O(log^2 n) and
    work for any historical ``tree_size <= size`` (later leaves never change earlier perfect
    subtrees).
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for d in leaves:
            self.append(d)

    @property
    def size(self) -> int:
        """Number of leaves in the tree."""
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    def append(self, leaf_data: bytes) -> None:
        """Append one leaf's data."""
        levels = self._levels
        levels[0].append(leaf_hash(leaf_data))
        h = 0
        while len(levels[h]) % 2 == 0:
            pair = levels[h][-2:]
            if h + 1 == len(levels):
                levels.append([])
            levels[h + 1].append(node_hash(pair[0], pair[1]))
            h += 1

    def leaf_hash_at(self, index: int) -> bytes:
        """Return the stored leaf hash of leaf ``index``; ``ValueError`` if out of range."""
        _check_int("index", index)
        if index >= self.size:
            raise ValueError(f"leaf index {index} out of range for tree size {self.size}")
        return self._levels[0][index]

    def _range_hash(self, a: int, b: int) -> bytes:
        """MTH(D[a:b]) for a range that is a node of the RFC 9162 tree of some size >= b."""
        size = b - a
        if _is_pow2(size):
            h = size.bit_length() - 1
            if a % size == 0:
                return self._levels[h][a >> h]
        k = _split_point(size)
        return node_hash(self._range_hash(a, a + k), self._range_hash(a + k, b))

    def _size(self, tree_size: int | None) -> int:
        if tree_size is None:
            return self.size
        _check_int("tree_size", tree_size)
        if tree_size > self.size:
            raise ValueError(f"tree_size {tree_size} exceeds the tree's size {self.size}")
        return tree_size

    def root(self, tree_size: int | None = None) -> bytes:
        """Return ``MTH(D[0:tree_size])`` (default: whole tree), 32 bytes."""
        n = self._size(tree_size)
        return EMPTY_ROOT if n == 0 else self._range_hash(0, n)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """Return ``PATH(index, D[0:tree_size])`` (RFC 9162 §2.1.3.1); see :func:`inclusion_proof`."""
        n = self._size(tree_size)
        _check_int("index", index)
        if index >= n:
            raise ValueError(f"leaf index {index} out of range for tree size {n}")
        return [self._range_hash(a, b) for a, b in _inclusion_ranges(index, n)]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return ``PROOF(old_size, D[0:new_size])`` (RFC 9162 §2.1.4.1); see :func:`consistency_proof`."""
        n = self._size(new_size)
        _check_int("old_size", old_size)
        if old_size > n:
            raise ValueError(f"old_size {old_size} exceeds new tree size {n}")
        if old_size == 0 or old_size == n:
            return []
        return [self._range_hash(a, b) for a, b in _consistency_ranges(old_size, n)]


# --------------------------------------------------------------------------------------------
# Verification (never raises)
# --------------------------------------------------------------------------------------------


def _is_hash(x: object) -> bool:
    return isinstance(x, (bytes, bytearray)) and len(x) == HASH_SIZE


def _is_size(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def root_from_inclusion_proof(
    leaf_data: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Recompute the root implied by an audit path (RFC 9162 §2.1.3.2 steps 1-5).

    :returns: the 32-byte root the proof leads to.
    :raises ValueError: index out of range, malformed proof element, or a proof of the wrong
        length for ``(index, tree_size)``.
    """
    _check_int("index", index)
    _check_int("tree_size", tree_size)
    if index >= tree_size:
        raise ValueError(f"leaf index {index} out of range for tree size {tree_size}")
    fn, sn = index, tree_size - 1
    r = leaf_hash(leaf_data)
    for p in proof:
        if not _is_hash(p):
            raise ValueError("proof elements must be 32-byte hashes")
        if sn == 0:
            raise ValueError("inclusion proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(bytes(p), r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, bytes(p))
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("inclusion proof is shorter than the tree requires")
    return r


def verify_inclusion(
    leaf_data: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Verify an RFC 9162 §2.1.3.2 inclusion proof.

    :param leaf_data: the leaf's data (not its leaf hash), e.g. a 32-byte content hash.
    :param index: 0-based leaf index claimed.
    :param tree_size: number of leaves of the tree whose root is ``root``.
    :param proof: audit path, list of 32-byte hashes as produced by :func:`inclusion_proof`.
    :param root: expected 32-byte tree root.
    :returns: ``True`` iff the proof shows ``leaf_data`` at ``index`` in that tree. Never
        raises: out-of-range indices, wrong-length proofs and malformed values give ``False``.
    """
    try:
        if not _is_size(index) or not _is_size(tree_size) or not _is_hash(root):
            return False
        if not isinstance(leaf_data, (bytes, bytearray, memoryview)):
            return False
        return root_from_inclusion_proof(leaf_data, index, tree_size, list(proof)) == bytes(root)
    except (ValueError, TypeError):
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Verify an RFC 9162 §2.1.4.2 consistency proof that the tree of ``new_size`` leaves
    with root ``new_root`` is an append-only extension of the tree of ``old_size`` leaves
    with root ``old_root``.

    Special cases (not covered by the §2.1.4.2 algorithm, which assumes
    ``0 < old_size < new_size``): ``old_size == new_size`` requires an empty proof and equal
    roots; ``old_size == 0`` requires an empty proof and ``old_root == SHA-256("")``.

    :returns: ``True`` iff consistent. Never raises; malformed input gives ``False``.
    """
    try:
        if not (_is_size(old_size) and _is_size(new_size)):
            return False
        if not (_is_hash(old_root) and _is_hash(new_root)):
            return False
        path = list(proof)
        if not all(_is_hash(p) for p in path):
            return False
        old_root, new_root = bytes(old_root), bytes(new_root)
        if old_size > new_size:
            return False
        if old_size == new_size:
            return not path and old_root == new_root
        if old_size == 0:
            return not path and old_root == EMPTY_ROOT
        # RFC 9162 §2.1.4.2
        if not path:  # step 1
            return False
        if _is_pow2(old_size):  # step 2
            path = [old_root] + path
        fn, sn = old_size - 1, new_size - 1  # step 3
        while fn & 1:  # step 4
            fn >>= 1
            sn >>= 1
        fr = sr = bytes(path[0])  # step 5
        for c in path[1:]:  # step 6
            c = bytes(c)
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                if not fn & 1:
                    while fn and not fn & 1:
                        fn >>= 1
                        sn >>= 1
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return fr == old_root and sr == new_root and sn == 0  # step 7
    except (ValueError, TypeError):
        return False

"""Offline-checkable audit proof bundles for the Confide event log.

An outside auditor holding only the practice's Ed25519 public key (``audit-signing.pub``)
can check, with nothing but a bundle file, that

* a given event (by its content hash) is leaf ``i`` of a Merkle tree whose root the practice
  signed -- an **inclusion bundle** (RFC 9162 §2.1.3), and
* a later signed tree is an append-only extension of an earlier one (no event was removed,
  altered or reordered) -- a **consistency bundle** (RFC 9162 §2.1.4).

Leaf ``i`` of the tree is event ``i`` in global chain order; its leaf data is the event's
32-byte SHA-256 content hash (see :mod:`confide.merkle`). Tree heads are
:class:`confide.signing.SignedTreeHead` objects in dict form::

    STH = {"tree_size": int, "root_hash": hex64, "timestamp": "YYYY-MM-DDTHH:MM:SS[.ffffff]Z",
           "key_id": hex16, "signature": base64}

(``hex64`` = 64 lowercase hex characters = 32 bytes.)

Inclusion bundle, format ``confide-inclusion-proof/1``::

    {
      "format": "confide-inclusion-proof/1",
      "event": {
        "global_position": int >= 0,   # the event's position in the store (informational)
        "event_id": str,               # the event's id (informational)
        "content_hash": hex64          # leaf data: SHA-256 of the event's RFC 8785 JSON
      },
      "leaf_index": int,               # 0-based leaf index, < tree_head.tree_size
      "tree_head": STH,
      "audit_path": [hex64, ...]       # RFC 9162 §2.1.3.1 PATH, deepest sibling first
    }

Consistency bundle, format ``confide-consistency-proof/1``::

    {
      "format": "confide-consistency-proof/1",
      "old_tree_head": STH,
      "new_tree_head": STH,            # new.tree_size >= old.tree_size
      "proof": [hex64, ...]            # RFC 9162 §2.1.4.1 PROOF(old_size, D[new_size])
    }

Both formats reject unknown keys (a new field means a new format version). The
``event_id`` and ``global_position`` are bound to the proof only through the content hash:
an auditor who holds the event itself should recompute its content hash and compare.

Producers: :func:`make_inclusion_bundle` and :func:`make_consistency_bundle` take the
content hashes in chain order (any iterable -- e.g. a store cursor -- consumed in one pass
with O(log n) memory, or a prebuilt :class:`confide.merkle.MerkleTree` for many proofs).
Checker: :func:`check_bundle` (pure) and the click command :data:`check_command`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import merkle
from .signing import SignedTreeHead, key_id, load_public, sign_tree_head, verify_tree_head

__all__ = [
    "INCLUSION_FORMAT",
    "CONSISTENCY_FORMAT",
    "CheckResult",
    "make_inclusion_bundle",
    "make_consistency_bundle",
    "check_bundle",
    "check_command",
]

INCLUSION_FORMAT = "confide-inclusion-proof/1"
CONSISTENCY_FORMAT = "confide-consistency-proof/1"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_INCLUSION_KEYS = frozenset({"format", "event", "leaf_index", "tree_head", "audit_path"})
_EVENT_KEYS = frozenset({"global_position", "event_id", "content_hash"})
_CONSISTENCY_KEYS = frozenset({"format", "old_tree_head", "new_tree_head", "proof"})


# --------------------------------------------------------------------------------------------
# Producing bundles
# --------------------------------------------------------------------------------------------


def _as_hash(value: object, what: str) -> bytes:
    if isinstance(value, str):
        if not _HEX64.fullmatch(value.lower()):
            raise ValueError(f"{what} is not 64 hex characters")
        return bytes.fromhex(value)
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == 32:
        return bytes(value)
    raise ValueError(f"{what} must be 32 bytes (or 64 hex characters)")


def _checked(hashes: Iterable[object], capture: int | None, sink: list[bytes]) -> Iterable[bytes]:
    for i, h in enumerate(hashes):
        b = _as_hash(h, f"content hash of leaf {i}")
        if i == capture:
            sink.append(b)
        yield b


def _as_sth(sth: SignedTreeHead | dict) -> SignedTreeHead:
    return sth if isinstance(sth, SignedTreeHead) else SignedTreeHead.from_dict(sth)


def make_inclusion_bundle(
    content_hashes: Iterable[bytes | str] | merkle.MerkleTree,
    leaf_index: int,
    *,
    event_id: str,
    global_position: int,
    private_key: Ed25519PrivateKey | None = None,
    tree_head: SignedTreeHead | dict | None = None,
    tree_size: int | None = None,
    content_hash: bytes | str | None = None,
    timestamp: datetime | str | None = None,
) -> dict[str, Any]:
    """Build a ``confide-inclusion-proof/1`` bundle (RFC 9162 §2.1.3) for leaf ``leaf_index``.

    :param content_hashes: the log's 32-byte content hashes (bytes or hex) in chain order;
        any iterable, consumed once up to the tree size (O(n) hashing, O(log n) memory), or a
        :class:`~confide.merkle.MerkleTree` of them (O(log^2 n); then ``content_hash`` is
        required since the tree stores only leaf hashes).
    :param leaf_index: 0-based index of the event in chain order.
    :param event_id: / :param global_position: the event's identifiers, copied into the bundle.
    :param tree_head: an already-published STH to prove against (preferred: auditors can
        compare it with heads they saw before). Its size is used and its root must match the
        supplied log.
    :param private_key: used to sign a fresh tree head when ``tree_head`` is not given.
    :param tree_size: size of the fresh tree head (default: all supplied hashes; required
        for unsized iterables). Must agree with ``tree_head`` if both are given.
    :param content_hash: optional expected content hash of the leaf; checked if given.
    :param timestamp: timestamp of a fresh tree head (default now, UTC).
    :returns: the bundle as a JSON-ready dict.
    :raises ValueError: index/size out of range, malformed hashes, content hash mismatch,
        ``tree_head`` root does not match the log, or neither ``tree_head`` nor ``private_key``.
    """
    sth = _as_sth(tree_head) if tree_head is not None else None
    if sth is None and private_key is None:
        raise ValueError("either tree_head or private_key is required")
    if sth is not None:
        if tree_size is not None and tree_size != sth.tree_size:
            raise ValueError(f"tree_size {tree_size} disagrees with tree_head.tree_size {sth.tree_size}")
        tree_size = sth.tree_size
    expected = _as_hash(content_hash, "content_hash") if content_hash is not None else None

    if isinstance(content_hashes, merkle.MerkleTree):
        if expected is None:
            raise ValueError("content_hash is required when content_hashes is a MerkleTree")
        path = content_hashes.inclusion_proof(leaf_index, tree_size)
        root = content_hashes.root(tree_size)
        if content_hashes.leaf_hash_at(leaf_index) != merkle.leaf_hash(expected):
            raise ValueError(f"content_hash does not match leaf {leaf_index} of the tree")
        leaf = expected
    else:
        if tree_size is None and hasattr(content_hashes, "__len__"):
            tree_size = len(content_hashes)  # type: ignore[arg-type]
        sink: list[bytes] = []
        path, root = merkle.inclusion_proof_with_root(
            _checked(content_hashes, leaf_index, sink), leaf_index, tree_size
        )
        leaf = sink[0]
        if expected is not None and expected != leaf:
            raise ValueError(f"content_hash does not match leaf {leaf_index} of the log")

    if sth is None:
        assert private_key is not None and tree_size is not None
        sth = sign_tree_head(private_key, tree_size, root, timestamp)
    elif sth.root != root:
        raise ValueError(
            f"tree_head root {sth.root_hash} does not match the log's root {root.hex()} at size "
            f"{sth.tree_size}: the log differs from the one the head was signed over"
        )
    if isinstance(global_position, bool) or not isinstance(global_position, int) or global_position < 0:
        raise ValueError("global_position must be a non-negative integer")
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("event_id must be a non-empty string")
    return {
        "format": INCLUSION_FORMAT,
        "event": {
            "global_position": global_position,
            "event_id": event_id,
            "content_hash": leaf.hex(),
        },
        "leaf_index": leaf_index,
        "tree_head": sth.to_dict(),
        "audit_path": [p.hex() for p in path],
    }


def make_consistency_bundle(
    content_hashes: Iterable[bytes | str] | merkle.MerkleTree,
    old_size: int | None = None,
    *,
    old_tree_head: SignedTreeHead | dict | None = None,
    new_tree_head: SignedTreeHead | dict | None = None,
    new_size: int | None = None,
    private_key: Ed25519PrivateKey | None = None,
    timestamp: datetime | str | None = None,
) -> dict[str, Any]:
    """Build a ``confide-consistency-proof/1`` bundle (RFC 9162 §2.1.4).

    Typical use: an auditor presents an ``old_tree_head`` they saw earlier and receives a
    proof to a freshly signed head over the current log.

    :param content_hashes: content hashes in chain order (iterable, consumed once:
        O(n) hashing, O(log n) memory) or a :class:`~confide.merkle.MerkleTree` (O(log^2 n)).
    :param old_size: size of the old tree; taken from ``old_tree_head`` if given.
    :param old_tree_head: / :param new_tree_head: existing STHs to use; each missing one is
        signed fresh with ``private_key`` at ``timestamp`` over the root computed from the log.
        Supplied heads must match the log's roots at their sizes.
    :param new_size: size of the new tree; default ``new_tree_head.tree_size`` or all hashes.
    :returns: the bundle as a JSON-ready dict.
    :raises ValueError: sizes out of range or inconsistent, malformed hashes, a supplied head
        whose root does not match the log (e.g. the log was rewritten since ``old_tree_head``),
        or a head is missing and there is no ``private_key``.
    """
    old = _as_sth(old_tree_head) if old_tree_head is not None else None
    new = _as_sth(new_tree_head) if new_tree_head is not None else None
    if old is not None:
        if old_size is not None and old_size != old.tree_size:
            raise ValueError(f"old_size {old_size} disagrees with old_tree_head.tree_size {old.tree_size}")
        old_size = old.tree_size
    if old_size is None:
        raise ValueError("old_size or old_tree_head is required")
    if new is not None:
        if new_size is not None and new_size != new.tree_size:
            raise ValueError(f"new_size {new_size} disagrees with new_tree_head.tree_size {new.tree_size}")
        new_size = new.tree_size
    if (old is None or new is None) and private_key is None:
        raise ValueError("private_key is required to sign the missing tree head(s)")

    if isinstance(content_hashes, merkle.MerkleTree):
        n = content_hashes.size if new_size is None else new_size
        proof = content_hashes.consistency_proof(old_size, n)
        old_root, new_root = content_hashes.root(old_size), content_hashes.root(n)
    else:
        if new_size is None and hasattr(content_hashes, "__len__"):
            new_size = len(content_hashes)  # type: ignore[arg-type]
        proof, old_root, new_root = merkle.consistency_proof_with_roots(
            _checked(content_hashes, None, []), old_size, new_size
        )
        n = new_size  # type: ignore[assignment]

    for label, head, r in (("old_tree_head", old, old_root), ("new_tree_head", new, new_root)):
        if head is not None and head.root != r:
            raise ValueError(
                f"{label} root {head.root_hash} does not match the log's root {r.hex()} at size "
                f"{head.tree_size}: the log differs from the one the head was signed over"
            )
    if old is None:
        old = sign_tree_head(private_key, old_size, old_root, timestamp)  # type: ignore[arg-type]
    if new is None:
        new = sign_tree_head(private_key, n, new_root, timestamp)  # type: ignore[arg-type]
    return {
        "format": CONSISTENCY_FORMAT,
        "old_tree_head": old.to_dict(),
        "new_tree_head": new.to_dict(),
        "proof": [p.hex() for p in proof],
    }


# --------------------------------------------------------------------------------------------
# Checking bundles (pure, offline)
# --------------------------------------------------------------------------------------------


@dataclass
class CheckResult:
    """Outcome of :func:`check_bundle`.

    ``ok``: the bundle is valid. ``reasons``: human-readable reasons it is invalid (empty
    when ``ok``). ``kind``: ``"inclusion"``, ``"consistency"`` or ``None`` if unrecognised.
    ``details``: facts established from the bundle (sizes, roots, timestamps, key id...),
    JSON-ready. Truthy iff ``ok``.
    """

    ok: bool
    reasons: list[str] = field(default_factory=list)
    kind: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of all fields."""
        return {"ok": self.ok, "kind": self.kind, "reasons": list(self.reasons), "details": dict(self.details)}


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _hex_list(value: object, what: str, reasons: list[str]) -> list[bytes] | None:
    if not isinstance(value, list):
        reasons.append(f"{what} must be a list of 64-character lowercase hex strings")
        return None
    for i, h in enumerate(value):
        if not isinstance(h, str) or not _HEX64.fullmatch(h):
            reasons.append(f"{what}[{i}] is not a 64-character lowercase hex hash")
            return None
    return [bytes.fromhex(h) for h in value]


def _check_keys(d: dict, allowed: frozenset[str], what: str, reasons: list[str]) -> None:
    missing = sorted(allowed - d.keys())
    extra = sorted(str(k) for k in d.keys() - allowed)
    if missing:
        reasons.append(f"{what} is missing field(s): {', '.join(missing)}")
    if extra:
        reasons.append(f"{what} has unexpected field(s): {', '.join(extra)}")


def _check_sth(value: object, label: str, public_key: Ed25519PublicKey, reasons: list[str]) -> SignedTreeHead | None:
    """Parse and verify one tree head; append reasons and return ``None`` if it is not trustworthy."""
    try:
        sth = SignedTreeHead.from_dict(value)
    except ValueError as e:
        reasons.append(f"{label} is malformed: {e}")
        return None
    expected_kid = key_id(public_key)
    if sth.key_id != expected_kid:
        reasons.append(
            f"{label} was signed by key {sth.key_id}, not by the supplied public key {expected_kid}"
        )
        return None
    if not verify_tree_head(public_key, sth):
        reasons.append(f"{label} signature does not verify under the supplied public key")
        return None
    return sth


def _sth_details(sth: SignedTreeHead) -> dict[str, Any]:
    return {"tree_size": sth.tree_size, "root_hash": sth.root_hash, "timestamp": sth.timestamp}


def _check_inclusion(bundle: dict, public_key: Ed25519PublicKey) -> CheckResult:
    reasons: list[str] = []
    details: dict[str, Any] = {}
    _check_keys(bundle, _INCLUSION_KEYS, "bundle", reasons)

    event = bundle.get("event")
    content_hash: bytes | None = None
    if not isinstance(event, dict):
        reasons.append("event must be an object")
    else:
        _check_keys(event, _EVENT_KEYS, "event", reasons)
        ch = event.get("content_hash")
        if isinstance(ch, str) and _HEX64.fullmatch(ch):
            content_hash = bytes.fromhex(ch)
            details["content_hash"] = ch
        else:
            reasons.append("event.content_hash is not a 64-character lowercase hex hash")
        if "event_id" in event:
            if isinstance(event["event_id"], str) and event["event_id"]:
                details["event_id"] = event["event_id"]
            else:
                reasons.append("event.event_id must be a non-empty string")
        if "global_position" in event:
            if _is_int(event["global_position"]):
                details["global_position"] = event["global_position"]
            else:
                reasons.append("event.global_position must be a non-negative integer")

    leaf_index = bundle.get("leaf_index")
    if _is_int(leaf_index):
        details["leaf_index"] = leaf_index
    else:
        reasons.append("leaf_index must be a non-negative integer")
        leaf_index = None

    sth = _check_sth(bundle.get("tree_head"), "tree_head", public_key, reasons)
    if sth is not None:
        details["tree_head"] = _sth_details(sth)
        details["key_id"] = sth.key_id
    path = _hex_list(bundle.get("audit_path"), "audit_path", reasons)

    if sth is not None and leaf_index is not None and leaf_index >= sth.tree_size:
        reasons.append(f"leaf_index {leaf_index} is outside the signed tree of size {sth.tree_size}")
    elif sth is not None and leaf_index is not None and content_hash is not None and path is not None:
        if not merkle.verify_inclusion(content_hash, leaf_index, sth.tree_size, path, sth.root):
            reasons.append(
                f"audit path does not lead from the event's content hash at leaf {leaf_index} "
                f"to the signed root of the {sth.tree_size}-event tree"
            )
    return CheckResult(not reasons, reasons, "inclusion", details)


def _check_consistency(bundle: dict, public_key: Ed25519PublicKey) -> CheckResult:
    reasons: list[str] = []
    details: dict[str, Any] = {}
    _check_keys(bundle, _CONSISTENCY_KEYS, "bundle", reasons)
    old = _check_sth(bundle.get("old_tree_head"), "old_tree_head", public_key, reasons)
    new = _check_sth(bundle.get("new_tree_head"), "new_tree_head", public_key, reasons)
    if old is not None:
        details["old_tree_head"] = _sth_details(old)
        details["key_id"] = old.key_id
    if new is not None:
        details["new_tree_head"] = _sth_details(new)
        details["key_id"] = new.key_id
    proof = _hex_list(bundle.get("proof"), "proof", reasons)
    if old is not None and new is not None:
        if old.tree_size > new.tree_size:
            reasons.append(
                f"old tree head size {old.tree_size} is larger than new tree head size {new.tree_size}"
            )
        elif old.tree_size == new.tree_size and old.root != new.root:
            reasons.append(
                f"two signed tree heads of size {old.tree_size} have different roots: "
                "the log presented different histories (equivocation)"
            )
        elif proof is not None and not merkle.verify_consistency(
            old.tree_size, new.tree_size, old.root, new.root, proof
        ):
            reasons.append(
                f"consistency proof does not show the {new.tree_size}-event tree extends the "
                f"{old.tree_size}-event tree: history was rewritten or the proof is corrupt"
            )
    return CheckResult(not reasons, reasons, "consistency", details)


def check_bundle(bundle: dict, public_key: Ed25519PublicKey) -> CheckResult:
    """Verify an inclusion or consistency bundle offline (RFC 9162 §2.1.3.2 / §2.1.4.2).

    Checks the bundle's structure, the Ed25519 signature and key id of every tree head
    against ``public_key``, and the Merkle proof against the signed root(s). Uses nothing but
    the bundle and the key. Never raises for bad bundles: problems are reported in
    :attr:`CheckResult.reasons` with ``ok=False``.
    """
    if not isinstance(bundle, dict):
        return CheckResult(False, ["bundle must be a JSON object"])
    fmt = bundle.get("format")
    try:
        if fmt == INCLUSION_FORMAT:
            return _check_inclusion(bundle, public_key)
        if fmt == CONSISTENCY_FORMAT:
            return _check_consistency(bundle, public_key)
    except Exception as e:  # defensive: a checker must answer, not crash, on hostile input
        return CheckResult(False, [f"bundle could not be checked: {type(e).__name__}: {e}"])
    return CheckResult(
        False,
        [f"unknown bundle format {fmt!r} (expected {INCLUSION_FORMAT!r} or {CONSISTENCY_FORMAT!r})"],
    )


# --------------------------------------------------------------------------------------------
# CLI: confide audit check
# --------------------------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate JSON key {k!r}")
        out[k] = v
    return out


def _verdict(result: CheckResult) -> str:
    d = result.details
    if result.ok and result.kind == "inclusion":
        th = d["tree_head"]
        return (
            f"VALID: event {d.get('event_id')} (leaf {d['leaf_index']}) is included in the "
            f"{th['tree_size']}-event log signed at {th['timestamp']} by key {d['key_id']}"
        )
    if result.ok and result.kind == "consistency":
        o, n = d["old_tree_head"], d["new_tree_head"]
        return (
            f"VALID: the {n['tree_size']}-event log (signed {n['timestamp']}) is an append-only "
            f"extension of the {o['tree_size']}-event log (signed {o['timestamp']}), key {d['key_id']}"
        )
    what = f"{result.kind} proof" if result.kind else "bundle"
    return f"INVALID: {what}: {result.reasons[0] if result.reasons else 'unknown reason'}"


def _detail_lines(result: CheckResult) -> list[str]:
    lines = [f"  reason: {r}" for r in result.reasons]
    for k, v in result.details.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                lines.append(f"  {k}.{k2}: {v2}")
        else:
            lines.append(f"  {k}: {v}")
    return lines


@click.command("check")
@click.argument("bundle_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=str))
@click.option(
    "--public-key",
    "public_key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="The practice's Ed25519 audit-signing public key (PEM, audit-signing.pub).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of text.")
def check_command(bundle_file: str, public_key_path: str, as_json: bool) -> None:
    """Check an audit proof bundle offline against the practice's public key.

    BUNDLE_FILE is a confide-inclusion-proof/1 or confide-consistency-proof/1 JSON file
    ('-' for stdin). Exit status: 0 valid, 1 invalid, 2 unreadable input (bundle or key).
    """
    try:
        public_key = load_public(public_key_path)
    except (OSError, ValueError, TypeError) as e:
        click.echo(f"UNREADABLE: cannot load public key {public_key_path}: {e}", err=True)
        sys.exit(2)
    try:
        if bundle_file == "-":
            text = sys.stdin.read()
        else:
            text = Path(bundle_file).read_text(encoding="utf-8")
        bundle = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        click.echo(f"UNREADABLE: cannot read bundle {bundle_file}: {e}", err=True)
        sys.exit(2)

    result = check_bundle(bundle, public_key)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        click.echo(_verdict(result))
        for line in _detail_lines(result):
            click.echo(line)
    sys.exit(0 if result.ok else 1)

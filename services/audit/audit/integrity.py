"""Checking the log for the auditor's pages: what ``confide audit verify``, ``prove`` and ``rejudge``
compute, as JSON-safe dicts (no patient data but the re-judging mismatches' ids).

- :func:`run_verify`: recompute every content hash and MAC (:func:`confide.eventstore.chain.verify`,
  the whole log, flat memory; a sealed log without signed checkpoints fails, as on the command line)
  and, when intact, sign a fresh tree head over the sealed log's Merkle root (the ``tree_head``
  ``confide audit prove consistency --old-head`` takes later).
- :func:`tree_heads`: the signed checkpoints (tree size, root, signature, time), newest first,
  each checked against the audit public key, and the problems found in the file.
- :func:`run_rejudge`: :func:`audit.rejudge.rejudge` over the disclosures service's and the directory's sealed readers.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from confide.timestamps import format_ts

#: How many signed checkpoints the page lists (newest first).
TREE_HEADS_SHOWN = 20


def run_verify(store, key_dir: Path, checkpoint_dir: Path) -> dict:
    """-> {ok, events, sealed, unsealed_tail, checkpoints, first_bad_position, problems, head_mac,
    root_hash, verified_at, tree_head (a signed tree head dict, only when ok and something is sealed)}.
    Raises FileNotFoundError when a key is missing."""
    from confide.eventstore.chain import load_chain_key, verify
    from confide.keys import load_public_key, load_signing_key
    from confide.signing import sign_tree_head

    started = datetime.now(timezone.utc)
    report = verify(store, load_chain_key(key_dir), load_public_key(key_dir), checkpoint_dir)
    result = {**report.__dict__, "problems": list(report.problems)[:20], "verified_at": format_ts(started),
              "tree_head": None}
    if report.ok and report.sealed and report.root_hash:
        sth = sign_tree_head(load_signing_key(key_dir), report.sealed, bytes.fromhex(report.root_hash), started)
        result["tree_head"] = sth.to_dict()
    return result


def tree_heads(key_dir: Path, checkpoint_dir: Path, shown: int = TREE_HEADS_SHOWN) -> dict:
    """-> {heads: [{chain_index, global_position, tree_size, root_hash, signature, timestamp,
    signature_ok}] newest first (at most ``shown``), count, problems: [str]}."""
    from confide.eventstore.chain import read_checkpoints
    from confide.keys import load_public_key

    good, problems = read_checkpoints(checkpoint_dir, load_public_key(key_dir))
    heads = [{k: cp.get(k) for k in ("chain_index", "global_position", "tree_size", "root_hash", "signature",
                                     "timestamp")} | {"signature_ok": True} for cp in good]
    heads.sort(key=lambda h: h["chain_index"], reverse=True)
    return {"heads": heads[:shown], "count": len(heads), "problems": problems[:20]}


def run_rejudge(store, key_dir: Path) -> dict:
    """-> {checked, mismatches: [...], unsealed: [...], rejudged_at} (see :mod:`audit.rejudge`)."""
    from audit.rejudge import rejudge
    from confide.identity.directory_seal import SealedDirectory, SealedDisclosures

    started = datetime.now(timezone.utc)
    # As ``confide audit rejudge`` does: requests and authorizations believed only as the disclosures
    # service sealed them, directory facts (a supervisor's link to a note's author) only as the
    # directory sealed them; without the directory reader a supervisor's training read (164.508(a)(2)
    # (i)(B)) could not be checked and would be reported as unsupported.
    result = rejudge(SealedDirectory.from_key_dir(SealedDisclosures(store, key_dir), key_dir))
    return {**result, "rejudged_at": format_ts(started)}

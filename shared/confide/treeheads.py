"""Signed tree heads kept outside the database: a published copy, and forks between copies.

The sealer appends a signed checkpoint to ``<checkpoint_dir>/chain-heads.jsonl`` after every
sealed batch (:mod:`confide.eventstore.chain`): the practice's signed statement "the log's first
``tree_size`` events have the RFC 9162 Merkle root ``root_hash``". Whoever can write that
directory can delete or shorten the file; a second copy somewhere else, where that person cannot
write (another machine, write-once storage, the privacy officer's share), keeps the statements.

- :func:`publish`: append to ``<dest>/chain-heads.jsonl`` every verified head of the checkpoint
  directory not yet there (the signed fields and signature only), flushed and fsync'd, under an
  exclusive lock. The copy is itself a checkpoint directory: ``confide audit verify
  --checkpoint-dir DEST`` verifies the log against it. Refuses (nothing written) when the checkpoint
  file holds a line that does not verify, when the copy already holds heads beyond the checkpoint
  file's newest (the checkpoint file lost heads), or when the two disagree (a fork).
- :func:`read_heads`: the heads in a directory (its ``chain-heads.jsonl``) or a file (JSON lines of
  checkpoints or signed tree heads; or one JSON document: a signed tree head, a proof bundle, an
  auditor's ``verify_chain`` result), each signature checked against the audit public key.
- :func:`find_forks`: two heads of the same tree size with different roots (or, for two chain
  checkpoints, the same root reached by different chain heads): the signer said two different
  things about one log, a split view a single honest log can never produce.
- :func:`lost_heads`: checkpoints a copy holds that the checkpoint directory no longer does: beyond
  its newest (heads cut), or of a tree size between its heads (heads rewritten: once a log was cut
  back and sealed again, the new heads need not share a size with the old ones, so no two of one
  size disagree; the copy's head missing from the primary is what shows it).

A checkpoint file (JSON lines) only grows: a head of a smaller tree size after a bigger one is a
problem :func:`read_heads` names (the log was cut back and sealed again after that line).
Two heads of different sizes can be checked against each other only with the log (a consistency
proof, or ``confide audit verify --checkpoint-dir COPY``, which compares every head with the chain).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from confide.eventstore.chain import CHECKPOINT_FILE, verify_checkpoint
from confide.signing import verify_tree_head

#: What a published copy keeps of each checkpoint: the signed fields and the signature (not the
#: sealer's Merkle frontier, which only saves it work on resume).
PUBLISHED_FIELDS = ("chain_index", "global_position", "mac", "tree_size", "root_hash", "timestamp", "signature")
_STH_KEYS = ("tree_head", "old_tree_head", "new_tree_head")


@dataclass(frozen=True)
class Head:
    """One signed head whose signature verified. ``where``: the file and line (or key) it came from;
    ``chain_index`` / ``global_position`` / ``mac`` for a chain checkpoint, None for a signed tree head."""

    tree_size: int
    root_hash: str
    timestamp: str
    where: str
    chain_index: int | None = None
    global_position: int | None = None
    mac: str | None = None
    signed: dict = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        return f"root {self.root_hash} signed {self.timestamp} ({self.where})"


@dataclass(frozen=True)
class Fork:
    """Two signed heads of one tree size that cannot both describe the same log."""

    tree_size: int
    first: Head
    second: Head
    reason: str

    def describe(self) -> str:
        return (f"FORK at tree size {self.tree_size}: {self.reason}\n  {self.first.describe()}\n"
                f"  {self.second.describe()}")

    def to_dict(self) -> dict:
        return {"tree_size": self.tree_size, "reason": self.reason,
                "heads": [{"root_hash": h.root_hash, "timestamp": h.timestamp, "where": h.where,
                           "chain_index": h.chain_index, "global_position": h.global_position, "mac": h.mac}
                          for h in (self.first, self.second)]}


class PublishRefusedError(Exception):
    """Nothing was published; ``problems`` says why (bad lines, a fork, heads lost)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class PublishResult:
    path: Path
    published: int
    newest: Head


# -- reading ----------------------------------------------------------------------------------


def heads_file(source: Path) -> Path:
    """The file holding ``source``'s heads: ``source/chain-heads.jsonl`` for a directory, else itself."""
    source = Path(source)
    return source / CHECKPOINT_FILE if source.is_dir() else source


def read_heads(source: Path, public_key) -> tuple[list[Head], list[str]]:
    """The heads in ``source`` whose signatures verify under ``public_key``, in file order, and the
    problems found (a signature that does not verify, a malformed line, no head at all).

    ``source``: a directory (its ``chain-heads.jsonl``) or a file (see the module docstring).
    Raises FileNotFoundError when there is no such file, OSError or UnicodeDecodeError when it cannot
    be read."""
    path = heads_file(source)
    text = path.read_text(encoding="utf-8")
    document = None
    if path.suffix != ".jsonl":  # a .jsonl file is read line by line even when it holds one line
        try:
            document = json.loads(text)
        except ValueError:
            pass
    if isinstance(document, (dict, list)):
        found = list(_candidates(document, str(path)))
    else:  # JSON lines, one head each
        found = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path} line {n}"
            try:
                obj = json.loads(line)
            except ValueError as exc:
                found.append((None, where, f"{where}: not JSON ({exc})"))
                continue
            found.extend(_candidates(obj, where))
    heads: list[Head] = []
    problems: list[str] = []
    for obj, where, problem in found:
        if problem or obj is None:
            problems.append(problem or f"{where}: not a signed head")
            continue
        head, problem = _verified(obj, where, public_key)
        if head is None:
            problems.append(problem)
        else:
            heads.append(head)
    if document is None:  # a checkpoint file, in the order its heads were signed
        problems += shrinking(heads)
    if not heads and not problems:
        problems.append(f"{path}: no signed head in it")
    return heads, problems


def _candidates(obj, where: str) -> Iterable[tuple[dict | None, str, str | None]]:
    """(head object, where, None) for each head ``obj`` holds, or (None, where, problem)."""
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _candidates(item, f"{where} [{i}]")
        return
    if not isinstance(obj, dict):
        yield None, where, f"{where}: not a signed head (a JSON {type(obj).__name__})"
        return
    if "chain_index" in obj or ("key_id" in obj and "tree_size" in obj):
        yield obj, where, None
        return
    held = [(key, obj[key]) for key in _STH_KEYS if isinstance(obj.get(key), dict)]
    if not held:
        yield None, where, f"{where}: holds no signed head (no tree_size, tree_head, old_tree_head or new_tree_head)"
    for key, value in held:
        yield value, f"{where} ({key})", None


def _verified(obj: dict, where: str, public_key) -> tuple[Head | None, str]:
    from cryptography.exceptions import InvalidSignature

    if "chain_index" in obj:
        try:
            verify_checkpoint(obj, public_key)
        except InvalidSignature:
            return None, f"{where}: checkpoint signature does not verify"
        except (KeyError, TypeError, ValueError) as exc:
            return None, f"{where}: malformed checkpoint ({type(exc).__name__}: {exc})"
        fields = {k: obj[k] for k in PUBLISHED_FIELDS}
        if not all(isinstance(fields[k], int) and not isinstance(fields[k], bool)
                   for k in ("chain_index", "global_position", "tree_size")) \
                or not isinstance(fields["root_hash"], str) or not isinstance(fields["mac"], str):
            return None, f"{where}: malformed checkpoint (a field of the wrong type)"
        return Head(fields["tree_size"], fields["root_hash"], fields["timestamp"], where, fields["chain_index"],
                    fields["global_position"], fields["mac"], signed=fields), ""
    if not verify_tree_head(public_key, obj):
        return None, f"{where}: signed tree head does not verify under this public key"
    return Head(obj["tree_size"], obj["root_hash"], obj["timestamp"], where, signed=dict(obj)), ""


# -- comparing --------------------------------------------------------------------------------


def find_forks(heads: Iterable[Head]) -> list[Fork]:
    """Each pair of heads of one tree size that disagree: a different root, or (two checkpoints) the
    same root at a different global position or chain head. Each disagreeing head is paired with the
    first head seen for its size."""
    first: dict[int, Head] = {}
    seen: set[tuple] = set()
    forks: list[Fork] = []
    for head in heads:
        base = first.setdefault(head.tree_size, head)
        if base is head:
            continue
        if head.root_hash != base.root_hash:
            reason = "two different roots signed for the same number of events"
        elif (head.chain_index is not None and base.chain_index is not None
              and (head.global_position, head.mac) != (base.global_position, base.mac)):
            reason = "one root reached by two different chain heads (global position or MAC differ)"
        else:
            continue
        key = (head.tree_size, head.root_hash, head.global_position, head.mac)
        if key in seen:
            continue
        seen.add(key)
        forks.append(Fork(head.tree_size, base, head, reason))
    return forks


def shrinking(heads: Iterable[Head]) -> list[str]:
    """Problems for chain checkpoints (in file order) whose tree size is smaller than one signed before
    them: a sealer only extends the log, so the log was cut back and sealed again after that line
    (or the lines were reordered)."""
    problems: list[str] = []
    biggest: Head | None = None
    for head in heads:
        if head.chain_index is None:
            continue
        if biggest is not None and head.tree_size < biggest.tree_size:
            problems.append(f"{head.where} signs tree size {head.tree_size} after {biggest.where} signed tree size "
                            f"{biggest.tree_size}: a log only grows, so it was cut back and sealed again")
        elif biggest is None or head.tree_size > biggest.tree_size:
            biggest = head
    return problems


def lost_heads(primary: Iterable[Head], copy: Iterable[Head]) -> list[Head]:
    """The checkpoints in ``copy`` of a tree size ``primary`` holds no checkpoint of (every checkpoint
    of ``copy`` when ``primary`` has none): heads the primary no longer holds, beyond its newest (cut)
    or between its heads (rewritten)."""
    held = {h.tree_size for h in primary if h.chain_index is not None}
    return [h for h in copy if h.chain_index is not None and h.tree_size not in held]


def lost_head_problems(primary: list[Head], copy: list[Head], primary_name: str) -> list[str]:
    """Sentences for :func:`lost_heads` (at most one for heads beyond the primary's newest, one for heads
    between its heads), each naming the copy's head and what it means."""
    newest = max((h.tree_size for h in primary if h.chain_index is not None), default=0)
    lost = lost_heads(primary, copy)
    cut = [h for h in lost if h.tree_size > newest][:1]
    rewritten = [h for h in lost if h.tree_size <= newest][:1]
    return ([f"{h.where} holds a signed head of tree size {h.tree_size}, beyond the newest in {primary_name} "
             f"({newest}): the checkpoint file lost signed heads" for h in cut]
            + [f"{h.where} holds a signed head of tree size {h.tree_size} that {primary_name} no longer holds: "
               "its heads were rewritten (a log cut back and sealed again signs other sizes); compare the log "
               "with `confide audit verify --checkpoint-dir` on the copy" for h in rewritten])


# -- publishing -------------------------------------------------------------------------------


def publish(checkpoint_dir: Path, dest: Path, public_key) -> PublishResult:
    """Append every verified checkpoint of ``checkpoint_dir`` not yet in ``dest`` to
    ``dest/chain-heads.jsonl`` (created, with ``dest``, when missing), flushed and fsync'd (the
    directory too when the file is new), under an exclusive lock so two publishers never interleave.

    Raises ValueError when ``dest`` is the checkpoint directory itself; FileNotFoundError when the
    checkpoint directory holds no checkpoint file; PublishRefusedError (nothing written) when a line
    there does not verify or it holds no head, when ``dest`` holds a line that does not verify, heads
    beyond the checkpoint file's newest, or a head that disagrees with it (:func:`find_forks`);
    OSError when ``dest`` cannot be written. A copy's head of a tree size the checkpoint file no longer
    holds (:func:`lost_heads`) is refused too: publishing the rewritten file's heads beside it would
    leave the copy holding two histories that no two heads of one size tell apart."""
    import fcntl

    checkpoint_dir, dest = Path(checkpoint_dir), Path(dest)
    if dest.exists() and dest.resolve() == checkpoint_dir.resolve():
        raise ValueError(f"{dest} is the checkpoint directory itself: publish to a second place")
    source = checkpoint_dir / CHECKPOINT_FILE
    if not source.exists():
        raise FileNotFoundError(f"no signed checkpoints at {source}: nothing to publish")
    heads, problems = read_heads(source, public_key)
    if problems:
        raise PublishRefusedError(problems)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / CHECKPOINT_FILE
    created = not target.exists()
    fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        held: list[Head] = []
        if os.fstat(fh.fileno()).st_size:
            held, bad = read_heads(target, public_key)
            if bad:
                raise PublishRefusedError([f"the published copy: {p}" for p in bad])
        refused = [f.describe() for f in find_forks(held + heads)]
        refused += lost_head_problems(heads, held, str(source))
        if refused:
            raise PublishRefusedError(refused)
        last = max((h.chain_index for h in held if h.chain_index is not None), default=-1)
        new = [h for h in heads if h.chain_index is not None and h.chain_index > last]
        if new:
            fh.write("".join(json.dumps(h.signed, separators=(",", ":")) + "\n" for h in new))
            fh.flush()
            os.fsync(fh.fileno())
    if created:
        dir_fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    newest = max(heads, key=lambda h: h.chain_index if h.chain_index is not None else -1)
    return PublishResult(target, len(new), newest)

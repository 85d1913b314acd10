"""Tamper evidence: the keyed hash chain, signed checkpoints outside the database, and verification.

Sealing (one sealer at a time, after commit, off the appenders' critical path):
for the events in global order, ``chain_index`` counts 0, 1, 2, … and

    mac[i] = HMAC-SHA256(chain_key, mac[i-1] || u64be(i) || u64be(global_position) || content_hash)

with ``mac[-1]`` = 32 zero bytes and ``content_hash`` recomputed from the
stored bytes (:meth:`RecordedEvent.canonical_bytes`), never trusted from the
row. The chain key lives in the key directory; the database never holds it,
so someone with full database access can alter rows but cannot produce the
matching MACs.

After each sealed batch the sealer reads its rows back and checks them
("verify right after writing"), then appends a *signed checkpoint* to
``<checkpoint_dir>/chain-heads.jsonl``: Ed25519 over the RFC 8785 form of
``{chain_index, global_position, mac, tree_size, root_hash, timestamp}``, where
``root_hash`` is the RFC 9162 Merkle root of the content hashes so far. A
truncated tail or a rewritten history no longer reaches the signed heads.

``verify`` streams the whole log (flat memory) and reports the first bad
global position: altered row, deleted row, rows swapped, forged row inserted,
last rows removed, ciphertext moved between rows.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from hashlib import sha256
from pathlib import Path
from typing import Callable, Iterator

import rfc8785

from confide.envelope import RecordedEvent, canonical_record, canonical_record_of
from confide.eventstore.errors import EventStoreError
from confide.eventstore.store import _COLUMNS, _recorded, one
from confide.merkle import MerkleAccumulator
from confide.timestamps import format_ts

CHAIN_KEY_FILE = "chain.key"
CHECKPOINT_FILE = "chain-heads.jsonl"
ZERO = b"\x00" * 32
_SEALER_LOCK = 72405120  # with hashtext(schema) as the second key
_PACK = struct.Struct(">QQ").pack
try:  # OpenSSL's one-shot HMAC, called directly (hmac.digest is a Python wrapper around it)
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # an interpreter without OpenSSL's hashlib
    _hmac_digest = hmac.digest  # type: ignore[assignment]


class TamperDetectedError(EventStoreError):
    """The stored log disagrees with its chain; ``position`` is the first bad global position."""

    def __init__(self, position: int | None, reason: str):
        self.position = position
        self.reason = reason
        super().__init__(f"tamper detected at global position {position}: {reason}")


def next_mac(key: bytes, prev: bytes, chain_index: int, global_position: int, digest: bytes) -> bytes:
    """One chain step (see module docstring). All arguments bytes/ints; returns 32 bytes."""
    # hmac.digest with a digest name is OpenSSL's one-shot HMAC (no Python HMAC object per step).
    return _hmac_digest(key, prev + _PACK(chain_index, global_position) + digest, "sha256")


def load_chain_key(key_dir: Path) -> bytes:
    """Read the 32-byte chain key. Raises FileNotFoundError naming the path."""
    path = Path(key_dir) / CHAIN_KEY_FILE
    if not path.exists():
        raise FileNotFoundError(f"chain key {path} missing (run `confide keys init`)")
    return bytes.fromhex(path.read_text().strip())


# -- signed checkpoints ---------------------------------------------------------


def _checkpoint_payload(cp: dict) -> bytes:
    return rfc8785.dumps({k: cp[k] for k in
                          ("chain_index", "global_position", "mac", "tree_size", "root_hash", "timestamp")})


def write_checkpoint(checkpoint_dir: Path, signing_key, chain_index: int, global_position: int,
                     mac: bytes, tree_size: int, root_hash: bytes, merkle_state: list[str]) -> dict:
    """Append one signed chain-head checkpoint line (fsynced). Returns it as a dict."""
    import base64

    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    cp = {
        "chain_index": chain_index,
        "global_position": global_position,
        "mac": mac.hex(),
        "tree_size": tree_size,
        "root_hash": root_hash.hex(),
        "timestamp": format_ts(datetime.now(timezone.utc)),
    }
    cp["signature"] = base64.b64encode(signing_key.sign(_checkpoint_payload(cp))).decode()
    cp["merkle_state"] = merkle_state
    with open(checkpoint_dir / CHECKPOINT_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(cp, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return cp


def verify_checkpoint(cp: dict, public_key) -> None:
    """Check one checkpoint's Ed25519 signature under ``public_key``. Raises
    cryptography's InvalidSignature when it does not verify; KeyError, TypeError or ValueError when
    the checkpoint is malformed (a field missing, not JSON-able, a signature not base64)."""
    import base64

    public_key.verify(base64.b64decode(cp["signature"], validate=True), _checkpoint_payload(cp))


def read_checkpoints(checkpoint_dir: Path, public_key) -> tuple[list[dict], list[str]]:
    """All checkpoints in file order, and the problems found (bad signature, malformed line)."""
    from cryptography.exceptions import InvalidSignature

    path = Path(checkpoint_dir) / CHECKPOINT_FILE
    good: list[dict] = []
    problems: list[str] = []
    if not path.exists():
        return good, problems
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            try:
                cp = json.loads(line)
                verify_checkpoint(cp, public_key)
            except InvalidSignature:
                problems.append(f"{path.name} line {n}: signature does not verify")
                continue
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"{path.name} line {n}: malformed checkpoint ({exc})")
                continue
            good.append(cp)
    return good, problems


def last_checkpoint(checkpoint_dir: Path) -> dict | None:
    """The newest checkpoint line, unverified (the sealer's own resume state)."""
    path = Path(checkpoint_dir) / CHECKPOINT_FILE
    if not path.exists():
        return None
    last = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                last = line
    return json.loads(last) if last else None


#: The columns the sealer and verify read, in the canonical record's text forms: the event id as PostgreSQL writes a
#: uuid (what a text-mode read parses), the instant as :func:`confide.timestamps.format_ts` writes it
#: (RFC 3339, UTC, microseconds, ``Z``), so no row needs a UUID or datetime object built and formatted
#: again in Python. Hashing stays here, on the client, from those bytes.
_RECORD_COLUMNS = ("e.global_position, e.stream_name, e.stream_version, e.event_id::text, e.type, e.data, "
                   "e.metadata, to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
                   "e.hash")
_VERIFY_COLUMNS = _RECORD_COLUMNS + ", c.chain_index, c.mac"
_VERIFY_PAGE = 10_000


# -- sealing --------------------------------------------------------------------


@dataclass
class SealResult:
    sealed: int
    chain_index: int | None
    global_position: int | None


class ChainSealer:
    """Extends the chain over newly committed events. Safe to call from many places:
    a session advisory lock lets one sealer work at a time; others return at once.

    ``store``: a PostgresEventStore. ``key``: the 32-byte chain key.
    ``signing_key``: Ed25519 private key for checkpoints. Raises
    TamperDetectedError when a stored row no longer matches its content hash, when the chain's head
    does not verify with this key, or when the chain is shorter than (or differs from) the newest
    checkpoint this key signed (the log was cut back or rewritten: see ``_check_signed``).
    """

    def __init__(self, store, key: bytes, signing_key, checkpoint_dir: Path, batch: int = 2000):
        self.store = store
        self.key = key
        self.signing_key = signing_key
        self.checkpoint_dir = Path(checkpoint_dir)
        self.batch = batch

    def seal(self, max_batches: int | None = None) -> SealResult:
        total = 0
        last: tuple[int, int] | None = None
        with self.store._connection() as conn:
            # One sealer per schema (two schemas of one database seal independently).
            if not one(conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                (_SEALER_LOCK, self.store.schema))):
                return SealResult(0, None, None)
            try:
                head = conn.execute(self.store._q(
                    "SELECT chain_index, global_position, mac FROM {s}.event_chain "
                    "ORDER BY chain_index DESC LIMIT 1")).fetchone()
                index, position, prev = (head[0], head[1], bytes(head[2])) if head else (-1, 0, ZERO)
                if head:
                    self._check_head(conn, index, position, prev)
                self._check_signed(conn, index)
                acc = self._accumulator(conn, index)
                batches = 0
                page_query = self.store._q(
                    f"SELECT {_RECORD_COLUMNS} FROM {{s}}.events e WHERE e.global_position >= %s "
                    "AND e.global_position < %s ORDER BY e.global_position LIMIT %s")
                copy_chain = self.store._q("COPY {s}.event_chain (chain_index, global_position, mac) "
                                           "FROM STDIN (FORMAT BINARY)")
                while max_batches is None or batches < max_batches:
                    # The same skip-free frontier as read_all: never seal past an append still in flight.
                    below = self.store.frontier(conn)
                    page = conn.execute(page_query, (position + 1, below, self.batch), binary=True).fetchall()
                    if not page:
                        break
                    rows = []
                    for pos, stream, version, event_id, typ, data, metadata, recorded, row_hash in page:
                        digest = sha256(canonical_record(
                            stream_name=stream, stream_version=version, event_id=event_id, type=typ,
                            data_json=data, metadata_json=metadata, recorded_at=recorded)).digest()
                        if digest != row_hash:
                            raise TamperDetectedError(pos, "stored bytes do not match the row's hash")
                        index += 1
                        prev = next_mac(self.key, prev, index, pos, digest)
                        acc.append(digest)
                        rows.append((index, pos, prev))
                    # One COPY per batch (the projector's INSERT privilege covers it), not a statement a row.
                    with conn.transaction():
                        with conn.cursor() as cur, cur.copy(copy_chain) as cp:
                            cp.set_types(["int8", "int8", "bytea"])
                            for row in rows:
                                cp.write_row(row)
                    self._verify_written(conn, rows)
                    position = rows[-1][1]
                    total += len(rows)
                    batches += 1
                    last = (index, position)
                    write_checkpoint(self.checkpoint_dir, self.signing_key, index, position, prev,
                                     acc.size, acc.root(), _acc_state(acc))
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_SEALER_LOCK, self.store.schema))
        return SealResult(total, last[0] if last else None, last[1] if last else None)

    def _check_signed(self, conn, index: int) -> None:
        """Refuse to extend a chain shorter than, or different from, what this sealer already signed.

        The newest checkpoint line that verifies under this signing key names a chain index and MAC. A
        chain in the database that ends before that index was cut back (rows deleted by someone with
        the administrator's login); one whose MAC at that index differs was rewritten. Sealing on would
        sign new heads over the rewritten log, and ``verify`` would then find them matching it.
        Raises TamperDetectedError naming the signed head's global position."""
        from cryptography.exceptions import InvalidSignature

        try:
            cp = last_checkpoint(self.checkpoint_dir)
            if cp is None:
                return
            verify_checkpoint(cp, self.signing_key.public_key())
            signed_index, signed_position = int(cp["chain_index"]), int(cp["global_position"])
        except (InvalidSignature, KeyError, TypeError, ValueError):
            return  # a line this key did not sign says nothing; verify names it
        if signed_index > index:
            raise TamperDetectedError(signed_position, f"the chain ends at index {index} but a signed checkpoint "
                                                       f"covers index {signed_index}: the log was cut back; not "
                                                       "sealing over it (verify, then restore the log)")
        row = conn.execute(self.store._q("SELECT global_position, mac FROM {s}.event_chain WHERE chain_index = %s"),
                           (signed_index,)).fetchone()
        if row is None or row[0] != signed_position or bytes(row[1]).hex() != cp["mac"]:
            raise TamperDetectedError(signed_position, f"the chain at index {signed_index} differs from its signed "
                                                       "checkpoint: the log was rewritten; not sealing over it")

    def _check_head(self, conn, index: int, position: int, mac: bytes) -> None:
        """Refuse to extend a chain whose head this key did not write.

        Sealing on top of a head made with another key (a key directory that
        does not belong to this database) would mix two chains and make every
        later verify fail; a tampered head would be silently adopted.
        """
        row = conn.execute(self.store._q(
            "SELECT c.mac FROM {s}.event_chain c WHERE c.chain_index = %s"), (index - 1,)).fetchone()
        prev = bytes(row[0]) if row else ZERO
        got = conn.execute(self.store._q(f"SELECT {_COLUMNS} FROM {{s}}.events WHERE global_position = %s"),
                           (position,)).fetchone()
        event = _recorded(got) if got else None
        if event is None:
            raise TamperDetectedError(position, "the chain head's event is missing")
        digest = hashlib.sha256(event.canonical_bytes()).digest()
        if not hmac.compare_digest(next_mac(self.key, prev, index, position, digest), mac):
            raise TamperDetectedError(position, "the chain head does not verify with this chain key: the key "
                                                "directory does not belong to this database, or the head was altered")

    def _accumulator(self, conn, index: int) -> MerkleAccumulator:
        cp = last_checkpoint(self.checkpoint_dir)
        if cp is not None and cp.get("chain_index") == index and "merkle_state" in cp:
            return _acc_from_state(cp["merkle_state"], cp["tree_size"])
        # Rebuild from the sealed events (first run, or a checkpoint file from elsewhere).
        acc = MerkleAccumulator()
        if index >= 0:
            for ev in iter_sealed(self.store, conn, upto_index=index):
                acc.append(ev[0].content_hash)
        return acc

    def _verify_written(self, conn, rows) -> None:
        got = conn.execute(self.store._q(
            "SELECT chain_index, global_position, mac FROM {s}.event_chain "
            "WHERE chain_index BETWEEN %s AND %s ORDER BY chain_index"), (rows[0][0], rows[-1][0])).fetchall()
        if [(r[0], r[1], bytes(r[2])) for r in got] != rows:
            raise TamperDetectedError(rows[0][1], "chain rows read back differ from those written")


def _acc_state(acc: MerkleAccumulator) -> list:
    """The accumulator's frontier [(subtree size, hash hex)], so the next seal resumes in O(log n)."""
    return [[size, h.hex()] for size, h in acc.frontier()]


def _acc_from_state(state: list, size: int) -> MerkleAccumulator:
    acc = MerkleAccumulator.from_frontier((int(n), bytes.fromhex(h)) for n, h in state)
    if acc.size != size:
        raise ValueError("checkpoint's Merkle frontier does not add up to its tree size")
    return acc


def iter_sealed(store, conn, upto_index: int | None = None) -> Iterator[tuple[RecordedEvent, int, bytes]]:
    """Sealed events in chain order with (chain_index, mac), streamed with a server-side cursor."""
    cols = ", ".join("e." + c.strip() for c in _COLUMNS.split(","))
    where = "" if upto_index is None else "WHERE c.chain_index <= %(upto)s"
    query = store._q(f"SELECT {cols}, c.chain_index, c.mac FROM {{s}}.event_chain c "
                     f"JOIN {{s}}.events e USING (global_position) {where} ORDER BY c.chain_index")
    with conn.transaction():
        with conn.cursor(name="confide_sealed") as cur:
            cur.itersize = 5000
            cur.execute(query, {"upto": upto_index})
            for row in cur:
                yield _recorded(row[:9]), row[9], bytes(row[10])


def sealed_index(store) -> int | None:
    """The chain's highest index (None while nothing is sealed)."""
    with store._connection() as conn:
        return one(conn.execute(store._q("SELECT max(chain_index) FROM {s}.event_chain")))


def chain_size(store) -> int:
    """How many events are sealed (the Merkle tree size of the sealed log)."""
    with store._connection() as conn:
        return one(conn.execute(store._q("SELECT count(*) FROM {s}.event_chain")))


def sealed_entry(store, event_id: str) -> tuple[int, int, bytes] | None:
    """(chain_index, global_position, content_hash) of a sealed event, or None when it is not sealed."""
    with store._connection() as conn:
        row = conn.execute(store._q(
            "SELECT c.chain_index, e.global_position, e.hash FROM {s}.events e "
            "JOIN {s}.event_chain c USING (global_position) WHERE e.event_id = %s"), (event_id,)).fetchone()
    return None if row is None else (row[0], row[1], bytes(row[2]))


def sealed_content_hashes(store) -> Iterator[bytes]:
    """Content hashes of the sealed events in chain order (the Merkle leaves), streamed."""
    with store._connection() as conn:
        for ev, _index, _mac in iter_sealed(store, conn):
            yield ev.content_hash


# -- verification ---------------------------------------------------------------


@dataclass
class VerifyReport:
    """Result of :func:`verify`. ``ok`` is False when any problem was found;
    ``first_bad_position`` names the first bad global position (None if the
    problem is not tied to a row, e.g. a bad checkpoint signature)."""

    ok: bool = True
    events: int = 0
    sealed: int = 0
    unsealed_tail: int = 0
    checkpoints: int = 0
    first_bad_position: int | None = None
    problems: list[str] = field(default_factory=list)
    head_mac: str | None = None
    root_hash: str | None = None

    def fail(self, position: int | None, reason: str) -> None:
        if self.ok:
            self.first_bad_position = position
        self.ok = False
        self.problems.append(reason if position is None else f"global position {position}: {reason}")



#: Why a sealed log without signed checkpoints fails :func:`verify` (see ``no_checkpoints_yet``).
NO_CHECKPOINTS = ("{sealed} sealed events but no signed checkpoint in {path}: the checkpoint file was deleted, "
                  "emptied or never copied here, so a truncated or rewritten log could not be told apart")


def verify(store, key: bytes, public_key, checkpoint_dir: Path,
           progress: Callable[[int], None] | None = None, stop_at_first: bool = True,
           no_checkpoints_yet: bool = False) -> VerifyReport:
    """Recompute every content hash and MAC from the stored bytes; compare with the signed checkpoints.

    Streams all rows (events LEFT JOIN event_chain, in global order) through a
    server-side cursor: memory is flat in the number of events. ``progress`` is
    called with the number of rows done every 10,000 rows.

    Every signed checkpoint is compared with the chain at its index: a second head signed for an index
    (over a log cut back and sealed again) fails even when the newest line matches the log.

    A log with sealed events and no signed checkpoint that verifies in ``checkpoint_dir`` fails
    (:data:`NO_CHECKPOINTS`): the sealer writes one after every sealed batch, so their absence means
    the file was removed, and with it the only record of how long the log was. ``no_checkpoints_yet``
    accepts that once, deliberately (a first check against a checkpoint directory that has none yet).
    Raises EventStoreError subclasses when the store is unreachable.
    """
    report = VerifyReport()
    checkpoints, problems = read_checkpoints(checkpoint_dir, public_key)
    for p in problems:
        report.fail(None, p)
    report.checkpoints = len(checkpoints)
    by_index: dict[int, list[dict]] = {}  # every signed head of an index, not the file's last one only
    for cp in checkpoints:
        by_index.setdefault(cp["chain_index"], []).append(cp)
    prev, expected_index = ZERO, 0
    acc = MerkleAccumulator()
    tail_started_at: int | None = None
    query = store._q(f"SELECT {_VERIFY_COLUMNS} FROM {{s}}.events e "
                     "LEFT JOIN {s}.event_chain c USING (global_position) ORDER BY e.global_position")
    record, sha, same, pack = canonical_record_of, sha256, hmac.compare_digest, _PACK
    hmac_of = _hmac_digest  # next_mac, inlined: it runs once per event
    append_leaf = acc.append
    done = False
    # Binary rows (no hex decoding of hashes), fetched a page at a time (no per-row cursor call).
    with store._connection() as conn, conn.transaction():
        with conn.cursor(name="confide_verify", binary=True) as cur:
            cur.execute(query)
            while not done:
                page = cur.fetchmany(_VERIFY_PAGE)
                if not page:
                    break
                for pos, stream, version, event_id, typ, data, metadata, recorded, row_hash, chain_index, mac \
                        in page:
                    report.events += 1
                    if progress and report.events % 10000 == 0:
                        progress(report.events)
                    digest = sha(record(stream, version, event_id, typ, data, metadata, recorded)).digest()
                    if digest != row_hash:
                        report.fail(pos, "row altered: its bytes no longer match its content hash")
                    if chain_index is None:  # no chain entry (LEFT JOIN): an unsealed row
                        if tail_started_at is None:
                            tail_started_at = pos
                        report.unsealed_tail += 1
                        continue
                    if tail_started_at is not None:
                        report.fail(tail_started_at,
                                    "row inserted without a chain entry (forged or unsealed in the middle)")
                        tail_started_at = None
                        report.unsealed_tail = 0
                    # mac: NOT NULL wherever a chain entry exists
                    if chain_index != expected_index:
                        report.fail(pos, f"chain index {chain_index} where {expected_index} was expected "
                                         "(a row was deleted or rows were reordered)")
                    if not same(hmac_of(key, prev + pack(chain_index, pos) + digest, "sha256"), mac):
                        report.fail(pos, "chain MAC mismatch (row altered, swapped, moved or forged)")
                    prev = mac  # continue from the stored chain so one bad row is reported once
                    append_leaf(digest)
                    for cp in by_index.get(chain_index, ()):
                        if (cp["mac"] != mac.hex() or cp["global_position"] != pos
                                or cp["root_hash"] != acc.root().hex()):
                            report.fail(pos, f"differs from the signed checkpoint at chain index {chain_index} "
                                             f"(signed {cp.get('timestamp')})")
                            break
                    expected_index = chain_index + 1
                    report.sealed += 1
                    if not report.ok and stop_at_first:
                        done = True
                        break
    if report.ok and checkpoints:
        newest = max(checkpoints, key=lambda c: c["chain_index"])
        if newest["chain_index"] >= expected_index:
            report.fail(None, f"log truncated: a signed checkpoint covers chain index {newest['chain_index']} "
                              f"(global position {newest['global_position']}) but the store's chain ends at "
                              f"index {expected_index - 1}")
            report.first_bad_position = newest["global_position"]
    if report.sealed and not checkpoints and not no_checkpoints_yet:
        report.fail(None, NO_CHECKPOINTS.format(sealed=report.sealed, path=Path(checkpoint_dir) / CHECKPOINT_FILE))
    report.head_mac = prev.hex() if report.sealed else None
    report.root_hash = acc.root().hex()
    return report

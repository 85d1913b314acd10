"""Keys kept outside the database, in ``confide.config.key_dir()``.

- ``chain.key``: 32 random bytes (hex) keying the event chain's HMAC.
- ``audit-signing.key`` / ``audit-signing.pub``: Ed25519 pair signing chain
  checkpoints and Merkle tree heads; auditors need only the ``.pub``.
- ``decision.key``: 32 random bytes (hex) keying the HMAC-SHA256 ``seal`` of every
  ``AccessDecided`` event (:func:`seal_decision` / :func:`verify_decision`). The
  database does not hold it, so a login that can append events cannot forge a
  decision the notes service will release content under.
- ``notes-transport.key`` / ``notes-transport.pub``: the notes service's X25519 key pair; callers
  seal psychotherapy text to the ``.pub`` before it crosses the broker (:mod:`confide.transport`).
- ``identity-assertion.key`` / ``.pub`` and ``service-keys/<name>.key`` / ``.pub``: the front
  door's assertion pair and each service's own pair (:mod:`confide.identity.keys`).
Files are created with mode 0600 (the public keys 0644).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from confide import signing, transport
from confide.envelope import canonical_json
from confide.eventstore.chain import CHAIN_KEY_FILE
from confide.identity.keys import ensure_assertion_keys, ensure_service_keys

DECISION_KEY_FILE = "decision.key"
SEAL_FIELD = "seal"


def _create_secret(path: Path) -> bool:
    """Write 32 random bytes (hex) to ``path`` with mode 0600 unless it exists; True if created.
    Exclusive create, so two processes starting together keep one key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return True


def ensure_keys(key_dir: Path) -> list[str]:
    """Create missing keys; returns the names of the files created."""
    key_dir = Path(key_dir)
    key_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(key_dir, 0o700)
    made = []
    if _create_secret(key_dir / CHAIN_KEY_FILE):
        made.append(CHAIN_KEY_FILE)
    if _create_secret(key_dir / DECISION_KEY_FILE):
        made.append(DECISION_KEY_FILE)
    if not (key_dir / signing.PRIVATE_KEY_FILENAME).exists():
        signing.generate_keypair(key_dir, overwrite=True)  # a lone .pub is useless without its key
        made += [signing.PRIVATE_KEY_FILENAME, signing.PUBLIC_KEY_FILENAME]
    if transport.ensure_transport_key(key_dir):
        made += [transport.PRIVATE_KEY_FILE, transport.PUBLIC_KEY_FILE]
    made += ensure_assertion_keys(key_dir)
    made += ensure_service_keys(key_dir)
    return made


def load_signing_key(key_dir: Path):
    """The audit Ed25519 private key. Raises FileNotFoundError naming the path."""
    return signing.load_private(Path(key_dir) / signing.PRIVATE_KEY_FILENAME)


def load_public_key(key_dir: Path):
    """The audit Ed25519 public key. Raises FileNotFoundError naming the path."""
    return signing.load_public(Path(key_dir) / signing.PUBLIC_KEY_FILENAME)


# -- decision seals ------------------------------------------------------------------------

def ensure_decision_key(key_dir: Path) -> bool:
    """Create ``decision.key`` (0600) in ``key_dir`` if missing; True if it was created."""
    key_dir = Path(key_dir)
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return _create_secret(key_dir / DECISION_KEY_FILE)


def load_decision_key(key_dir: Path) -> bytes:
    """The 32-byte decision key. Raises FileNotFoundError naming the path, ValueError if malformed."""
    path = Path(key_dir) / DECISION_KEY_FILE
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise ValueError(f"{path}: not a hex key") from None
    if len(key) != 32:
        raise ValueError(f"{path}: expected 32 bytes, found {len(key)}")
    return key


def _decision_mac(key: bytes, data: dict) -> str:
    body = {k: v for k, v in data.items() if k != SEAL_FIELD}
    return hmac.new(key, canonical_json(body).encode("utf-8"), hashlib.sha256).hexdigest()


def seal_decision(key_dir: Path, data: dict) -> str:
    """HMAC-SHA256 (hex) over the RFC 8785 canonical JSON of ``data`` without its ``seal`` field.

    Raises FileNotFoundError when the key is missing (so a decision that cannot be sealed is not
    recorded), ValueError for data JSON cannot carry exactly."""
    return _decision_mac(load_decision_key(key_dir), data)


def verify_decision(key_dir: Path, data: dict, seal) -> bool:
    """True only when ``seal`` is the seal of ``data`` (without its ``seal`` field) under the key
    in ``key_dir``. A missing seal, a missing/unreadable key or data that cannot be canonicalised
    is False (fail closed)."""
    if not isinstance(seal, str) or not seal or not isinstance(data, dict):
        return False
    try:
        expected = _decision_mac(load_decision_key(key_dir), data)
    except (OSError, ValueError):
        return False
    return hmac.compare_digest(expected, seal)

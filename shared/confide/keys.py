"""Keys kept outside the database, in ``confide.config.key_dir()``.

- ``chain.key``: 32 random bytes (hex) keying the event chain's HMAC.
- ``audit-signing.key`` / ``audit-signing.pub``: Ed25519 pair signing chain
  checkpoints and Merkle tree heads; auditors need only the ``.pub``.
Files are created with mode 0600 (the public key 0644).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from confide import signing
from confide.eventstore.chain import CHAIN_KEY_FILE


def ensure_keys(key_dir: Path) -> list[str]:
    """Create missing keys; returns the names of the files created."""
    key_dir = Path(key_dir)
    key_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(key_dir, 0o700)
    made = []
    chain = key_dir / CHAIN_KEY_FILE
    if not chain.exists():
        fd = os.open(chain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        made.append(CHAIN_KEY_FILE)
    if not (key_dir / signing.PRIVATE_KEY_FILENAME).exists():
        signing.generate_keypair(key_dir, overwrite=True)  # a lone .pub is useless without its key
        made += [signing.PRIVATE_KEY_FILENAME, signing.PUBLIC_KEY_FILENAME]
    return made


def load_signing_key(key_dir: Path):
    """The audit Ed25519 private key. Raises FileNotFoundError naming the path."""
    return signing.load_private(Path(key_dir) / signing.PRIVATE_KEY_FILENAME)


def load_public_key(key_dir: Path):
    """The audit Ed25519 public key. Raises FileNotFoundError naming the path."""
    return signing.load_public(Path(key_dir) / signing.PUBLIC_KEY_FILENAME)

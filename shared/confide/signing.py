"""Ed25519 audit-signing keys and signed tree heads (STHs) for the event-log Merkle tree.

A *signed tree head* is the practice's signed statement "the event log had ``tree_size``
events and its RFC 9162 §2.1.1 Merkle root was ``root_hash`` at ``timestamp``" -- the Confide
analogue of the RFC 9162 §4.10 ``TreeHeadDataV2`` / §4.11 ``SignedTreeHeadDataV2``, but
serialised as JSON rather than TLS presentation language.

STH JSON shape (:meth:`SignedTreeHead.to_dict`)::

    {
      "tree_size": 1234,                       # int in [0, 2**53-1], number of leaves (events)
      "root_hash": "<64 lowercase hex>",       # 32-byte MTH, merkle.root(...)
      "timestamp": "2024-05-01T12:00:00Z",     # RFC 3339, UTC, "Z" suffix, optional .ffffff
      "key_id":    "<16 lowercase hex>",       # first 16 hex chars of SHA-256(raw public key)
      "signature": "<base64, standard alphabet, padded>"
    }

The signature is Ed25519 (RFC 8032) over the RFC 8785 (JCS) canonical JSON encoding of the
object ``{"tree_size", "root_hash", "timestamp", "key_id"}`` (i.e. everything but
``signature``). Keys on disk: ``audit-signing.key`` (PEM PKCS#8, unencrypted, mode 0600) and
``audit-signing.pub`` (PEM SubjectPublicKeyInfo).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from confide.timestamps import format_ts, parse_ts

__all__ = [
    "PRIVATE_KEY_FILENAME",
    "PUBLIC_KEY_FILENAME",
    "MAX_TREE_SIZE",
    "SignedTreeHead",
    "generate_keypair",
    "load_private",
    "load_public",
    "key_id",
    "format_timestamp",
    "parse_timestamp",
    "sign_tree_head",
    "verify_tree_head",
]

PRIVATE_KEY_FILENAME = "audit-signing.key"
PUBLIC_KEY_FILENAME = "audit-signing.pub"

MAX_TREE_SIZE = 2**53 - 1
"""Largest tree size representable exactly in RFC 8785 JSON (I-JSON safe integer)."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
_STH_FIELDS = ("tree_size", "root_hash", "timestamp", "key_id", "signature")


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


def generate_keypair(directory: str | os.PathLike[str], *, overwrite: bool = False) -> tuple[Path, Path]:
    """Create a new Ed25519 audit-signing key pair in ``directory``.

    Writes ``audit-signing.key`` (PEM, PKCS#8, no encryption, created with mode 0600) and
    ``audit-signing.pub`` (PEM SubjectPublicKeyInfo, mode 0644). The directory is created if
    missing.

    :returns: ``(private_key_path, public_key_path)``.
    :raises FileExistsError: either file already exists and ``overwrite`` is false (so an
        existing signing identity is never silently replaced).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = d / PRIVATE_KEY_FILENAME, d / PUBLIC_KEY_FILENAME
    if not overwrite:
        for p in (priv_path, pub_path):
            if p.exists():
                raise FileExistsError(f"{p} already exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    priv_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pub_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_file(priv_path, priv_pem, 0o600, overwrite)
    _write_file(pub_path, pub_pem, 0o644, overwrite)
    return priv_path, pub_path


def _write_file(path: Path, data: bytes, mode: int, overwrite: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, mode)
    try:
        os.fchmod(fd, mode)  # enforce the mode even if the file pre-existed or umask interfered
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
    finally:
        if fd != -1:
            os.close(fd)


def load_private(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Load an unencrypted PEM PKCS#8 Ed25519 private key.

    :raises OSError: file unreadable. :raises ValueError: not an Ed25519 private key PEM.
    """
    data = Path(path).read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Load a PEM SubjectPublicKeyInfo Ed25519 public key.

    :raises OSError: file unreadable. :raises ValueError: not an Ed25519 public key PEM.
    """
    data = Path(path).read_bytes()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def _public_of(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the key id: first 16 lowercase hex chars of SHA-256 of the 32-byte raw public key."""
    raw = _public_of(key).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------


def format_timestamp(ts: datetime) -> str:
    """An aware ``datetime`` as a signed tree head's RFC 3339 UTC form,
    ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (a zero fraction dropped: :func:`confide.timestamps.format_ts`
    with ``compact``). :raises ValueError: naive datetime."""
    return format_ts(ts, compact=True)


def parse_timestamp(s: str) -> datetime:
    """Parse the STH timestamp form produced by :func:`format_timestamp` to an aware UTC datetime.

    :raises ValueError: not of the form ``YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z`` or not a real date.
    """
    if not isinstance(s, str) or not _RFC3339_UTC.fullmatch(s):
        raise ValueError(f"timestamp {s!r} is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)")
    return parse_ts(s)


# --------------------------------------------------------------------------------------------
# Signed tree heads
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedTreeHead:
    """A signed tree head. Field formats are given in the module docstring.

    ``tree_size`` int leaves; ``root_hash`` 64 lowercase hex; ``timestamp`` RFC 3339 UTC;
    ``key_id`` 16 lowercase hex; ``signature`` base64 Ed25519 signature (64 bytes decoded).
    """

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str

    @property
    def root(self) -> bytes:
        """The 32-byte root hash. :raises ValueError: ``root_hash`` is not valid hex."""
        return bytes.fromhex(self.root_hash)

    def signed_payload(self) -> bytes:
        """The exact bytes signed: RFC 8785 canonical JSON of all fields but ``signature``."""
        return _payload(self.tree_size, self.root_hash, self.timestamp, self.key_id)

    def to_dict(self) -> dict:
        """Return the JSON-ready dict form (keys as in the module docstring)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: object) -> SignedTreeHead:
        """Parse and strictly validate the dict form.

        :raises ValueError: not a dict, missing or unexpected keys, or any field malformed
            (``tree_size`` not a non-negative int, ``root_hash`` not 64 lowercase hex,
            ``timestamp`` not RFC 3339 UTC, ``key_id`` not 16 lowercase hex, ``signature``
            not base64 of 64 bytes). Does NOT check the signature: see :func:`verify_tree_head`.
        """
        if not isinstance(d, dict):
            raise ValueError("tree head must be a JSON object")
        missing = [k for k in _STH_FIELDS if k not in d]
        extra = sorted(str(k) for k in d if k not in _STH_FIELDS)
        if missing:
            raise ValueError(f"tree head missing field(s): {', '.join(missing)}")
        if extra:
            raise ValueError(f"tree head has unexpected field(s): {', '.join(extra)}")
        ts = d["tree_size"]
        if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts <= MAX_TREE_SIZE:
            raise ValueError(f"tree_size must be an integer in [0, 2**53-1], got {ts!r}")
        if not isinstance(d["root_hash"], str) or not _HEX64.fullmatch(d["root_hash"]):
            raise ValueError("root_hash must be 64 lowercase hex characters")
        parse_timestamp(d["timestamp"])
        if not isinstance(d["key_id"], str) or not _HEX16.fullmatch(d["key_id"]):
            raise ValueError("key_id must be 16 lowercase hex characters")
        if _decode_signature(d["signature"]) is None:
            raise ValueError("signature must be standard padded base64 of 64 bytes")
        return cls(ts, d["root_hash"], d["timestamp"], d["key_id"], d["signature"])


def _payload(tree_size: int, root_hash: str, timestamp: str, kid: str) -> bytes:
    return rfc8785.dumps(
        {"tree_size": tree_size, "root_hash": root_hash, "timestamp": timestamp, "key_id": kid}
    )


def _decode_signature(sig: object) -> bytes | None:
    if not isinstance(sig, str):
        return None
    try:
        raw = base64.b64decode(sig.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if len(raw) != 64 or base64.b64encode(raw).decode("ascii") != sig:
        return None  # reject non-canonical encodings too
    return raw


def sign_tree_head(
    private_key: Ed25519PrivateKey,
    tree_size: int,
    root: bytes,
    timestamp: datetime | str | None = None,
) -> SignedTreeHead:
    """Sign a tree head.

    :param private_key: the practice's Ed25519 audit-signing key.
    :param tree_size: number of leaves (events) in the tree, ``>= 0``.
    :param root: the 32-byte RFC 9162 §2.1.1 Merkle root for that size (``merkle.root``).
    :param timestamp: aware ``datetime`` or an RFC 3339 UTC string; default: now (UTC).
    :returns: the :class:`SignedTreeHead`.
    :raises ValueError: size not an int in [0, 2**53-1], root not 32 bytes, bad/naive timestamp.
    """
    if isinstance(tree_size, bool) or not isinstance(tree_size, int) or not 0 <= tree_size <= MAX_TREE_SIZE:
        raise ValueError(f"tree_size must be an integer in [0, 2**53-1], got {tree_size!r}")
    if not isinstance(root, (bytes, bytearray)) or len(root) != 32:
        raise ValueError("root must be 32 bytes")
    if timestamp is None:
        timestamp = datetime.now(timezone.utc)
    if isinstance(timestamp, str):
        timestamp = parse_timestamp(timestamp)
    ts = format_timestamp(timestamp)
    kid = key_id(private_key)
    root_hex = bytes(root).hex()
    sig = private_key.sign(_payload(tree_size, root_hex, ts, kid))
    return SignedTreeHead(tree_size, root_hex, ts, kid, base64.b64encode(sig).decode("ascii"))


def verify_tree_head(public_key: Ed25519PublicKey, sth: SignedTreeHead | dict) -> bool:
    """Return ``True`` iff ``sth`` is well-formed, names ``public_key``'s key id, and its
    signature verifies under ``public_key``. Accepts a :class:`SignedTreeHead` or its dict
    form. Never raises for bad input.
    """
    try:
        if not isinstance(sth, SignedTreeHead):
            sth = SignedTreeHead.from_dict(sth)
        else:
            sth = SignedTreeHead.from_dict(sth.to_dict())  # re-validate field formats
        if sth.key_id != key_id(public_key):
            return False
        sig = _decode_signature(sth.signature)
        if sig is None:
            return False
        public_key.verify(sig, sth.signed_payload())
        return True
    except (InvalidSignature, ValueError, TypeError, rfc8785.CanonicalizationError):
        return False

"""Psychotherapy text on the wire: libsodium sealed boxes (X25519 + XSalsa20-Poly1305, PyNaCl).

45 CFR 164.312(e)(1) / (a)(2)(iv): psychotherapy-note text never crosses RabbitMQ in the clear.

- **To the notes service** (write, revise, addendum, lint): the caller seals the text to the
  notes service's transport public key (``notes-transport.pub`` in the key directory, or the
  ``notes.transport_public_key()`` RPC) with :func:`seal_for` and sends it as ``sealed_text``.
- **From the notes service** (``read_note``, ``release_fields``): the caller makes an ephemeral
  key pair per request (:func:`ephemeral`), sends its public half as ``reply_public_key``, and
  gets every psychotherapy text or excerpt back as ``{"sealed": "<base64 box>"}`` in place of
  the string; :func:`open_tree` puts the strings back (or :func:`open_sealed` one box).

A sealed box is anonymous: it proves nothing about the sender (authentication of the caller is
the broker's and the identity assertions' job); it keeps the text from anyone who can read the
message but does not hold the recipient's private key. Keys and boxes are standard base64.

Key files (in ``confide.config.key_dir()``, created by ``confide keys init`` or by the notes
service on start): ``notes-transport.key`` (the 32-byte X25519 private key, base64, mode 0600)
and ``notes-transport.pub`` (its public key, base64, mode 0644).
"""
from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

PRIVATE_KEY_FILE = "notes-transport.key"
PUBLIC_KEY_FILE = "notes-transport.pub"
SEALED = "sealed"  # the one key of the object that stands in for a sealed string in a reply
KEY_BYTES = 32


class TransportError(ValueError):
    """A key or box is malformed, or a box does not open with this key (wrong key or tampered)."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise TransportError(f"{what}: expected a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise TransportError(f"{what}: not valid base64") from None


def public_key(value: Any) -> PublicKey:
    """A :class:`PublicKey` from itself or its base64 form. Raises TransportError."""
    if isinstance(value, PublicKey):
        return value
    raw = _unb64(value, "public key")
    if len(raw) != KEY_BYTES:
        raise TransportError(f"public key: expected {KEY_BYTES} bytes, found {len(raw)}")
    return PublicKey(raw)


def private_key(value: Any) -> PrivateKey:
    """A :class:`PrivateKey` from itself or its base64 form. Raises TransportError."""
    if isinstance(value, PrivateKey):
        return value
    raw = _unb64(value, "private key")
    if len(raw) != KEY_BYTES:
        raise TransportError(f"private key: expected {KEY_BYTES} bytes, found {len(raw)}")
    return PrivateKey(raw)


def public_key_b64(key: PrivateKey | PublicKey) -> str:
    """The base64 public key of a key pair (or of a public key)."""
    pub = key.public_key if isinstance(key, PrivateKey) else key
    return _b64(bytes(pub))


def ephemeral() -> tuple[PrivateKey, str]:
    """A fresh key pair for one request: (private key, base64 public key to send as ``reply_public_key``)."""
    key = PrivateKey.generate()
    return key, public_key_b64(key)


def seal_for(pubkey: Any, text: str) -> str:
    """``text`` (UTF-8) in a sealed box to ``pubkey`` (PublicKey or base64), base64. Raises TransportError."""
    if not isinstance(text, str):
        raise TransportError("text: expected a string")
    return _b64(SealedBox(public_key(pubkey)).encrypt(text.encode("utf-8")))


def open_sealed(privkey: Any, box: Any) -> str:
    """The text of a base64 sealed box made for ``privkey``'s public key. Raises TransportError
    when the box is malformed, was sealed to another key, or was altered."""
    raw = _unb64(box, "sealed box")
    try:
        plain = SealedBox(private_key(privkey)).decrypt(raw)
    except CryptoError:
        raise TransportError("sealed box does not open with this key (sealed to another key, or altered)") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise TransportError("sealed box does not hold UTF-8 text") from None


def sealed(pubkey: Any, text: str) -> dict:
    """The reply form of a sealed string: ``{"sealed": seal_for(pubkey, text)}``."""
    return {SEALED: seal_for(pubkey, text)}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED} and isinstance(value[SEALED], str)


def open_tree(privkey: Any, value: Any) -> Any:
    """A copy of a JSON-safe reply with every ``{"sealed": box}`` replaced by its opened text.
    Raises TransportError when a box does not open with ``privkey``."""
    if is_sealed(value):
        return open_sealed(privkey, value[SEALED])
    if isinstance(value, dict):
        return {k: open_tree(privkey, v) for k, v in value.items()}
    if isinstance(value, list):
        return [open_tree(privkey, v) for v in value]
    return value


# -- the notes service's key pair ------------------------------------------------------------

def ensure_transport_key(key_dir: Path | str) -> bool:
    """Create ``notes-transport.key`` (0600) and ``notes-transport.pub`` (0644) in ``key_dir`` unless
    the private key exists (a missing ``.pub`` is rewritten from it); True if a key was created.
    Exclusive create, so two processes starting together keep one key."""
    key_dir = Path(key_dir)
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = key_dir / PRIVATE_KEY_FILE
    created = False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(_b64(bytes(PrivateKey.generate())) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        created = True
    pub = key_dir / PUBLIC_KEY_FILE
    if created or not pub.exists():
        tmp = pub.with_name(f".{pub.name}.{os.getpid()}.tmp")
        tmp.write_text(public_key_b64(load_private_key(key_dir)) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, pub)
    return created


def load_private_key(key_dir: Path | str) -> PrivateKey:
    """The notes service's transport private key. Raises FileNotFoundError naming the path,
    TransportError when it is malformed."""
    path = Path(key_dir) / PRIVATE_KEY_FILE
    return private_key(path.read_text().strip())


def load_public_key(key_dir: Path | str) -> str:
    """The notes service's transport public key (base64) from ``notes-transport.pub``.
    Raises FileNotFoundError naming the path, TransportError when it is malformed."""
    path = Path(key_dir) / PUBLIC_KEY_FILE
    text = path.read_text().strip()
    public_key(text)
    return text

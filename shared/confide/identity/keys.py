"""The front door's Ed25519 assertion-signing pair, kept in the key directory like :mod:`confide.keys`.

- ``identity-assertion.key``: PEM PKCS#8, unencrypted, mode 0600. Only the front door holds it.
- ``identity-assertion.pub``: PEM SubjectPublicKeyInfo, mode 0644. Every verifying service needs
  only this, under its key id (:func:`key_id`).

A key id is the RFC 7638 JWK SHA-256 thumbprint of the public key (base64url, no padding), the
``kid`` header of every assertion signed with it: a rotated key gets a new id by construction, so
verifiers can hold the old and the new public key side by side during a rollover.

Each service (and the ``cli`` and ``web`` clients) also has its own pair,
``service-keys/<name>.key`` / ``.pub``, signing the short-lived assertion it adds to every call it
makes (``confide_service``, :class:`confide.identity.provider.ServiceCredential`); a service key
vouches only for its own name. Other front doors' public keys go in ``trusted-assertion-keys/``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ASSERTION_PRIVATE_KEY_FILE",
    "ASSERTION_PUBLIC_KEY_FILE",
    "key_id",
    "key_set",
    "ensure_assertion_keys",
    "load_assertion_signing_key",
    "load_assertion_public_key",
    "SERVICE_KEYS_DIR",
    "TRUSTED_ASSERTION_KEYS_DIR",
    "SERVICE_NAMES",
    "ensure_service_keys",
    "load_service_signing_key",
    "load_service_public_keys",
    "load_trusted_assertion_keys",
]

ASSERTION_PRIVATE_KEY_FILE = "identity-assertion.key"
ASSERTION_PUBLIC_KEY_FILE = "identity-assertion.pub"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of an Ed25519 public key
    (of a private key: of its public half). 43 characters.

    Raises TypeError for a key that is not Ed25519 (an RSA or HMAC key has no place here).
    """
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError(f"expected an Ed25519 key, got {type(key).__name__}")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    # RFC 7638 section 3.2: the required members only, sorted, no whitespace (RFC 8037 section 2 for OKP).
    jwk = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(jwk.encode("ascii")).digest())


def key_set(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """``{key_id: key}`` for the public keys a verifier trusts (the ``public_keys`` of ``verify``).

    Raises TypeError for a key that is not an Ed25519 public key.
    """
    out: dict[str, Ed25519PublicKey] = {}
    for key in keys:
        if not isinstance(key, Ed25519PublicKey):
            raise TypeError(f"expected an Ed25519 public key, got {type(key).__name__}")
        out[key_id(key)] = key
    return out


def _pem_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _create(path: Path, data: bytes, mode: int) -> bool:
    """Write ``data`` to a new file of ``mode``; False (and nothing written) if it exists. Exclusive
    create, so two processes starting together keep one key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, mode)  # whatever the umask
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
    finally:
        if fd != -1:
            os.close(fd)
    return True


def ensure_assertion_keys(key_dir: str | os.PathLike[str]) -> list[str]:
    """Create the assertion-signing pair in ``key_dir`` (0700) if missing; the names of the files created.

    An existing private key is never replaced; a missing ``.pub`` is derived from it. Raises OSError
    when the directory or a file cannot be written, ValueError when an existing ``.pub`` is not the
    public half of the existing private key (a mixed-up rollover: nothing would verify).
    """
    d = Path(key_dir)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    made: list[str] = []
    private_path, public_path = d / ASSERTION_PRIVATE_KEY_FILE, d / ASSERTION_PUBLIC_KEY_FILE
    if _create(private_path, _pem_private(Ed25519PrivateKey.generate()), 0o600):
        made.append(ASSERTION_PRIVATE_KEY_FILE)
    private = load_assertion_signing_key(d)
    if _create(public_path, _pem_public(private.public_key()), 0o644):
        made.append(ASSERTION_PUBLIC_KEY_FILE)
    elif key_id(load_assertion_public_key(d)) != key_id(private):
        raise ValueError(f"{public_path} is not the public half of {private_path}")
    return made


def load_assertion_signing_key(key_dir: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The front door's assertion-signing key. Raises FileNotFoundError naming the path, ValueError
    when the file is not an unencrypted PEM Ed25519 private key."""
    path = Path(key_dir) / ASSERTION_PRIVATE_KEY_FILE
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ValueError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_assertion_public_key(key_dir: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The assertion-verifying public key. Raises FileNotFoundError naming the path, ValueError when
    the file is not a PEM Ed25519 public key."""
    path = Path(key_dir) / ASSERTION_PUBLIC_KEY_FILE
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, TypeError):
        raise ValueError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


# -- services' own keys ----------------------------------------------------------------------

SERVICE_KEYS_DIR = "service-keys"
TRUSTED_ASSERTION_KEYS_DIR = "trusted-assertion-keys"
#: Every service and client that calls with its own credential (``service-keys/<name>.key``).
SERVICE_NAMES = ("notes", "disclosures", "audit", "gateway", "web", "directory", "cli")


def ensure_service_keys(key_dir: str | os.PathLike[str], names: Iterable[str] = SERVICE_NAMES) -> list[str]:
    """Create ``service-keys/<name>.key`` (0600) and ``.pub`` (0644) for each name if missing; the
    relative paths created. An existing key is never replaced."""
    d = Path(key_dir) / SERVICE_KEYS_DIR
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    made: list[str] = []
    for name in names:
        if _create(d / f"{name}.key", _pem_private(Ed25519PrivateKey.generate()), 0o600):
            made.append(f"{SERVICE_KEYS_DIR}/{name}.key")
        private = load_service_signing_key(key_dir, name)
        if _create(d / f"{name}.pub", _pem_public(private.public_key()), 0o644):
            made.append(f"{SERVICE_KEYS_DIR}/{name}.pub")
    return made


def load_service_signing_key(key_dir: str | os.PathLike[str], name: str) -> Ed25519PrivateKey:
    """Service ``name``'s own signing key. Raises FileNotFoundError naming the path, ValueError when
    it is not an unencrypted PEM Ed25519 private key."""
    path = Path(key_dir) / SERVICE_KEYS_DIR / f"{name}.key"
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ValueError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def _load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, TypeError):
        raise ValueError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def load_service_public_keys(key_dir: str | os.PathLike[str]) -> dict[str, tuple[str, Ed25519PublicKey]]:
    """``{key_id: (service name, public key)}`` for every ``service-keys/<name>.pub``: a service key
    vouches only for its own name. Raises ValueError for a file that is not an Ed25519 public key."""
    d = Path(key_dir) / SERVICE_KEYS_DIR
    out: dict[str, tuple[str, Ed25519PublicKey]] = {}
    for path in sorted(d.glob("*.pub")) if d.is_dir() else []:
        key = _load_public(path)
        out[key_id(key)] = (path.stem, key)
    return out


def load_trusted_assertion_keys(key_dir: str | os.PathLike[str]) -> dict[str, Ed25519PublicKey]:
    """``{key_id: key}`` of the front doors' assertion keys: ``identity-assertion.pub`` (when present)
    and every ``trusted-assertion-keys/*.pub`` (other front doors, a key being rolled over)."""
    d = Path(key_dir)
    paths = [d / ASSERTION_PUBLIC_KEY_FILE] if (d / ASSERTION_PUBLIC_KEY_FILE).exists() else []
    trusted = d / TRUSTED_ASSERTION_KEYS_DIR
    paths += sorted(trusted.glob("*.pub")) if trusted.is_dir() else []
    return key_set(_load_public(p) for p in paths)

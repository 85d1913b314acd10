"""Encryption of backup archives: to a passphrase (scrypt) or to a recipient's X25519 key, then
ChaCha20-Poly1305 in authenticated chunks, so an archive of any size streams through flat memory.

Own framing (no age-compatible library is installed here; see the README's "Backup and restore").
File layout, integers big-endian::

    magic      8 bytes    b"CFBKUP" 0x00 0x01           (format version 1)
    hlen       4 bytes    length of the header
    header     hlen bytes UTF-8 JSON, sorted keys, one of
                 {"mode": "passphrase", "kdf": "scrypt", "salt": b64(16 bytes), "n", "r", "p",
                  "aead": "chacha20-poly1305", "chunk": 65536}
                 {"mode": "recipient", "kem": "x25519-hkdf-sha256", "ephemeral": b64(32-byte public key),
                  "recipient": hex SHA-256 of the recipient's raw public key, "aead": ..., "chunk": ...}
    check      32 bytes   HKDF(secret, salt=H, info="confide-backup/1 key check"): tells a wrong
                          passphrase or key from an altered archive before any chunk is opened
    frames     repeated:  flen (4 bytes) || ciphertext (flen bytes, at most chunk + 16)

``H`` = SHA-256(magic || hlen || header). ``secret`` = scrypt(passphrase, salt, n, r, p), or
X25519(ephemeral private, recipient public) with HKDF salt ``ephemeral || recipient public`` first.
The payload key = HKDF-SHA256(secret, salt=H, info="confide-backup/1 payload"), fresh per file (new
salt or ephemeral key each time), so a counter nonce never repeats under one key.

Frame ``i`` (the STREAM construction): nonce = u88be(i) || flag, flag 0x01 on the last frame and
0x00 before it; associated data = H. So a changed header, an altered, dropped, repeated or moved
frame, a file cut after any frame, or bytes after the last frame all fail to authenticate. Only the
last frame may be shorter than ``chunk``; an empty payload is one empty last frame.

Recipient keys (``generate_recipient_key``): PEM, the private key PKCS#8 (0600), the public key
SubjectPublicKeyInfo. Keep the private key (and the passphrase) away from the archives.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"CFBKUP\x00\x01"
AEAD = "chacha20-poly1305"
CHUNK = 64 * 1024
TAG = 16
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 17, 8, 1  # 128 MiB, about a third of a second here
# What a reader accepts from a header: a forged one must not make it spend gigabytes or hours.
_MAX_N, _MAX_R, _MAX_P, _MAX_CHUNK, _MAX_HEADER = 2 ** 20, 16, 4, 1 << 24, 4096
_INFO_PAYLOAD = b"confide-backup/1 payload"
_INFO_CHECK = b"confide-backup/1 key check"
_U32 = struct.Struct(">I")
MIN_PASSPHRASE = 12


class BackupCryptoError(Exception):
    """An archive could not be encrypted or opened."""


class ArchiveFormatError(BackupCryptoError):
    """Not a Confide backup archive, or one of a format this version does not read."""


class WrongKeyError(BackupCryptoError):
    """The passphrase or identity key given does not open this archive."""


class ArchiveCorruptError(BackupCryptoError):
    """A chunk did not authenticate: the archive was altered, truncated or reordered."""


def _hkdf(secret: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text, field: str) -> bytes:
    try:
        return base64.b64decode(str(text).encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ArchiveFormatError(f"archive header field {field!r} is not base64") from None


def fingerprint(public_key: X25519PublicKey) -> str:
    """Hex SHA-256 of the raw public key: names a recipient without revealing anything else."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def check_passphrase(passphrase: str) -> bytes:
    """The passphrase as UTF-8. Raises ValueError when it is shorter than MIN_PASSPHRASE characters."""
    if not isinstance(passphrase, str) or len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"passphrase: at least {MIN_PASSPHRASE} characters are required")
    return passphrase.encode("utf-8")


def _scrypt(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _x25519_secret(private: X25519PrivateKey, peer: X25519PublicKey, ephemeral_pub: bytes,
                   recipient_pub: bytes) -> bytes:
    try:
        shared = private.exchange(peer)
    except ValueError:
        raise WrongKeyError("the X25519 exchange failed (a low-order public key)") from None
    return _hkdf(shared, ephemeral_pub + recipient_pub, b"confide-backup/1 x25519")


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _nonce(counter: int, last: bool) -> bytes:
    if counter >= 1 << 88:
        raise BackupCryptoError("archive too large for one key (2^88 chunks)")
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _header_bytes(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


class EncryptingWriter:
    """A write-only binary stream that encrypts into ``out`` (see the module docstring).
    ``close()`` writes the last frame; it does not close ``out``."""

    def __init__(self, out: BinaryIO, *, passphrase: str | None = None,
                 recipient: X25519PublicKey | None = None, chunk_size: int = CHUNK,
                 scrypt_n: int = SCRYPT_N) -> None:
        if (passphrase is None) == (recipient is None):
            raise ValueError("give exactly one of a passphrase or a recipient key")
        if not 1 <= chunk_size <= _MAX_CHUNK:
            raise ValueError(f"chunk_size must be between 1 and {_MAX_CHUNK}")
        if recipient is not None:
            ephemeral = X25519PrivateKey.generate()
            eph_pub, rec_pub = _raw(ephemeral.public_key()), _raw(recipient)
            header = {"mode": "recipient", "kem": "x25519-hkdf-sha256", "ephemeral": _b64(eph_pub),
                      "recipient": fingerprint(recipient), "aead": AEAD, "chunk": chunk_size}
            secret = _x25519_secret(ephemeral, recipient, eph_pub, rec_pub)
        else:
            check_passphrase(passphrase or "")
            salt = secrets.token_bytes(16)
            header = {"mode": "passphrase", "kdf": "scrypt", "salt": _b64(salt), "n": scrypt_n,
                      "r": SCRYPT_R, "p": SCRYPT_P, "aead": AEAD, "chunk": chunk_size}
            secret = _scrypt(passphrase or "", salt, scrypt_n, SCRYPT_R, SCRYPT_P)
        body = _header_bytes(header)
        prefix = MAGIC + _U32.pack(len(body)) + body
        digest = hashlib.sha256(prefix).digest()
        self._out = out
        self._aead = ChaCha20Poly1305(_hkdf(secret, digest, _INFO_PAYLOAD))
        self._aad = digest
        self._chunk = chunk_size
        self._buf = bytearray()
        self._counter = 0
        self._closed = False
        out.write(prefix + _hkdf(secret, digest, _INFO_CHECK))

    def _emit(self, data: bytes, last: bool) -> None:
        frame = self._aead.encrypt(_nonce(self._counter, last), data, self._aad)
        self._out.write(_U32.pack(len(frame)) + frame)
        self._counter += 1

    def write(self, data) -> int:
        if self._closed:
            raise ValueError("write to a closed EncryptingWriter")
        self._buf += data
        # Keep at least one byte back: the last frame must be the one close() flags.
        while len(self._buf) > self._chunk:
            self._emit(bytes(self._buf[:self._chunk]), last=False)
            del self._buf[:self._chunk]
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        if not self._closed:
            self._emit(bytes(self._buf), last=True)
            self._buf.clear()
            self._closed = True
            self._out.flush()


def _read_exact(src: BinaryIO, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        got = src.read(n - len(data))
        if not got:
            break
        data += got
    return bytes(data)


def read_header(src: BinaryIO) -> tuple[dict, bytes, bytes]:
    """(header, its digest H, the key check) from the start of ``src``. Raises ArchiveFormatError."""
    magic = _read_exact(src, len(MAGIC))
    if magic[:6] != MAGIC[:6]:
        raise ArchiveFormatError("not a Confide backup archive (bad magic)")
    if magic != MAGIC:
        raise ArchiveFormatError(f"archive format version {magic[6:].hex()} is not readable by this version")
    raw_len = _read_exact(src, 4)
    if len(raw_len) != 4:
        raise ArchiveFormatError("archive truncated in its header")
    (hlen,) = _U32.unpack(raw_len)
    if hlen > _MAX_HEADER:
        raise ArchiveFormatError(f"archive header of {hlen} bytes is too long")
    body = _read_exact(src, hlen)
    check = _read_exact(src, 32)
    if len(body) != hlen or len(check) != 32:
        raise ArchiveFormatError("archive truncated in its header")
    try:
        header = json.loads(body.decode("utf-8"))
    except ValueError:
        raise ArchiveFormatError("archive header is not JSON") from None
    if not isinstance(header, dict) or header.get("aead") != AEAD or header.get("mode") not in ("passphrase", "recipient"):
        raise ArchiveFormatError("archive header names an unknown mode or cipher")
    chunk = header.get("chunk")
    if not isinstance(chunk, int) or not 1 <= chunk <= _MAX_CHUNK:
        raise ArchiveFormatError("archive header field 'chunk' is out of range")
    return header, hashlib.sha256(magic + raw_len + body).digest(), check


def archive_mode(path: Path) -> dict:
    """The header of the archive at ``path`` (``mode``: passphrase or recipient, and the recipient's
    fingerprint): what is needed to open it. Raises ArchiveFormatError, OSError."""
    with open(path, "rb") as fh:
        return read_header(fh)[0]


class DecryptingReader:
    """A read-only binary stream of the plaintext of an archive read from ``src``.

    Raises WrongKeyError at construction when the passphrase or identity does not open it,
    ArchiveFormatError for a header it cannot read, and ArchiveCorruptError from ``read`` when a
    frame does not authenticate, the file ends before the last frame or goes on after it.
    """

    def __init__(self, src: BinaryIO, *, passphrase: str | None = None,
                 identity: X25519PrivateKey | None = None) -> None:
        header, digest, check = read_header(src)
        self.header = header
        if header["mode"] == "passphrase":
            if passphrase is None:
                raise WrongKeyError("this archive is encrypted to a passphrase: give the passphrase")
            n, r, p = (header.get(k) for k in ("n", "r", "p"))
            if not (isinstance(n, int) and isinstance(r, int) and isinstance(p, int)) or not (
                    2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
                raise ArchiveFormatError("archive header's scrypt parameters are out of range")
            secret = _scrypt(passphrase, _unb64(header.get("salt"), "salt"), n, r, p)
            what = "the passphrase does not open this archive"
        else:
            if identity is None:
                raise WrongKeyError(f"this archive is encrypted to recipient key {header.get('recipient')}: "
                                    "give its private key (--identity)")
            mine = fingerprint(identity.public_key())
            if mine != header.get("recipient"):
                raise WrongKeyError(f"this archive is for recipient key {header.get('recipient')}, "
                                    f"not for the identity given ({mine})")
            eph_pub = _unb64(header.get("ephemeral"), "ephemeral")
            try:
                peer = X25519PublicKey.from_public_bytes(eph_pub)
            except ValueError:
                raise ArchiveFormatError("archive header's ephemeral key is malformed") from None
            secret = _x25519_secret(identity, peer, eph_pub, _raw(identity.public_key()))
            what = "the identity key does not open this archive"
        if not hmac.compare_digest(_hkdf(secret, digest, _INFO_CHECK), check):
            raise WrongKeyError(f"{what} (or its header was altered)")
        self._src = src
        self._aead = ChaCha20Poly1305(_hkdf(secret, digest, _INFO_PAYLOAD))
        self._aad = digest
        self._max_frame = header["chunk"] + TAG
        self._counter = 0
        self._buf = bytearray()
        self._pending: bytes | None = None  # the next frame, read ahead to learn whether this one is last
        self._done = False

    def _frame(self) -> bytes | None:
        raw_len = _read_exact(self._src, 4)
        if not raw_len:
            return None
        if len(raw_len) != 4:
            raise ArchiveCorruptError(f"archive truncated inside chunk {self._counter}")
        (flen,) = _U32.unpack(raw_len)
        if not TAG <= flen <= self._max_frame:
            raise ArchiveCorruptError(f"chunk {self._counter} has an impossible length ({flen})")
        frame = _read_exact(self._src, flen)
        if len(frame) != flen:
            raise ArchiveCorruptError(f"archive truncated inside chunk {self._counter}")
        return frame

    def _next(self) -> bool:
        """Open one more frame into the buffer; False once the last frame has been read."""
        if self._done:
            return False
        frame = self._pending if self._pending is not None else self._frame()
        if frame is None:
            raise ArchiveCorruptError("archive is empty after its header (truncated)")
        self._pending = self._frame()
        last = self._pending is None
        try:
            plain = self._aead.decrypt(_nonce(self._counter, last), frame, self._aad)
        except InvalidTag:
            if last:
                raise ArchiveCorruptError(f"archive truncated or altered: chunk {self._counter} is not "
                                          "the last one written, or it was changed") from None
            raise ArchiveCorruptError(f"chunk {self._counter} does not authenticate (altered, "
                                      "reordered or from another archive)") from None
        if not last and len(plain) != self._max_frame - TAG:
            raise ArchiveCorruptError(f"chunk {self._counter} is short but not the last")
        self._counter += 1
        self._buf += plain
        self._done = last
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            while self._next():
                pass
            out = bytes(self._buf)
            self._buf.clear()
            return out
        while len(self._buf) < n and self._next():
            pass
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def read_to_end(self) -> int:
        """Read and authenticate the rest; returns how many plaintext bytes were left unread."""
        left = len(self._buf)
        self._buf.clear()
        while self._next():
            left += len(self._buf)
            self._buf.clear()
        return left

    @property
    def finished(self) -> bool:
        """True once the last frame has been authenticated."""
        return self._done


# -- recipient keys ---------------------------------------------------------------------------

def generate_recipient_key(private_path: Path, public_path: Path) -> str:
    """Write a new X25519 pair: ``private_path`` (PEM PKCS#8, 0600) and ``public_path`` (PEM, 0644).
    Returns the public key's fingerprint. Raises FileExistsError when either file exists."""
    private_path, public_path = Path(private_path), Path(public_path)
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} exists: refusing to overwrite a key")
    key = X25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem)
    fd = os.open(public_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(public_pem)
    return fingerprint(key.public_key())


def load_recipient(path: Path) -> X25519PublicKey:
    """A recipient's public key (PEM). Raises FileNotFoundError, ValueError naming the path."""
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, X25519PublicKey):
        raise ValueError(f"{path}: not an X25519 public key (make one with `confide backup keygen`)")
    return key


def load_identity(path: Path) -> X25519PrivateKey:
    """A recipient's private key (PEM PKCS#8). Raises FileNotFoundError, ValueError naming the path."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, X25519PrivateKey):
        raise ValueError(f"{path}: not an X25519 private key (make one with `confide backup keygen`)")
    return key

"""Envelope encryption of psychotherapy-note text (AES-256-GCM), keys kept outside the database.

Layout of ``key_dir`` (created on first use; directories 0700, files 0600)::

    keyring.json                 {"active": "<kek_id>", "keks": {"<kek_id>": {"key": b64, "created_at": ts}}}
    wrapped-keys/<note_id>.json  {"data_key_id": note_id, "kek_id": "<kek_id>", "wrapped_key": b64}

Each note has its own 256-bit data key, wrapped (RFC 3394 AES key wrap) by a
key-encryption key (KEK) of the practice's keyring. Events hold only
``sealed = {"alg", "data_key_id", "nonce", "ciphertext"}``; the ciphertext is
bound by GCM associated data to the stream name, stream version and event id
it was written for, so a ciphertext copied into another event does not open.
Rotation (:func:`rotate_kek`) re-wraps data keys in these files only: no
event is rewritten. Old KEKs stay in the keyring so a crash mid-rotation
leaves every key readable.
"""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

ALG = "AES-256-GCM"
KEYRING_FILE = "keyring.json"
WRAPPED_DIR = "wrapped-keys"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class KeyringError(Exception):
    """The keyring or a wrapped key is missing, unreadable or does not match."""


class DecryptionError(KeyringError):
    """A sealed text did not authenticate (wrong key, or moved to another stream/version/event)."""


def aad_for(stream_name: str, stream_version: int, event_id) -> bytes:
    """Associated data binding a ciphertext to the event that carries it."""
    return f"confide/v1\n{stream_name}\n{int(stream_version)}\n{event_id}".encode("utf-8")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _write_private(path: Path, value: dict, exclusive: bool = False) -> bool:
    """Write JSON with mode 0600: atomically (tmp + rename), or only if absent when ``exclusive``."""
    payload = json.dumps(value, sort_keys=True).encode("utf-8")
    if exclusive:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        return True
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise KeyringError(f"{path.name} not found in the key directory") from None
    except ValueError:
        raise KeyringError(f"{path.name} is not valid JSON") from None


def _new_kek_entry() -> tuple[str, dict]:
    kek_id = "kek-" + secrets.token_hex(8)
    return kek_id, {"key": _b64(AESGCM.generate_key(bit_length=256)),
                    "created_at": datetime.now(timezone.utc).isoformat()}


class Keyring:
    """The practice's keyring in ``key_dir``. Safe for concurrent writers of different notes.

    ``seal(note_id, text, aad) -> dict``; ``open(sealed, aad) -> str`` (raises DecryptionError).
    """

    def __init__(self, key_dir: Path | str):
        self.key_dir = Path(key_dir)

    # -- KEKs -----------------------------------------------------------------------------

    def _ensure(self) -> dict:
        self.key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.key_dir / WRAPPED_DIR).mkdir(mode=0o700, exist_ok=True)
        path = self.key_dir / KEYRING_FILE
        if not path.exists():
            kek_id, entry = _new_kek_entry()
            # Two first users race: O_EXCL lets exactly one create it; the other reads the winner's.
            _write_private(path, {"active": kek_id, "keks": {kek_id: entry}}, exclusive=True)
        return _read(path)

    def _kek(self, ring: dict, kek_id: str) -> bytes:
        try:
            return _unb64(ring["keks"][kek_id]["key"])
        except KeyError:
            raise KeyringError(f"key-encryption key {kek_id} is not in the keyring") from None

    def active_kek_id(self) -> str:
        return self._ensure()["active"]

    # -- data keys ------------------------------------------------------------------------

    def _key_path(self, data_key_id: str) -> Path:
        if not _SAFE_ID.match(data_key_id):
            raise KeyringError("data_key_id has characters not allowed in a key file name")
        return self.key_dir / WRAPPED_DIR / f"{data_key_id}.json"

    def data_key(self, data_key_id: str, create: bool = False) -> bytes:
        """The unwrapped data key; created and wrapped with the active KEK when ``create``."""
        ring = self._ensure()
        path = self._key_path(data_key_id)
        if create and not path.exists():
            kek_id = ring["active"]
            wrapped = aes_key_wrap(self._kek(ring, kek_id), AESGCM.generate_key(bit_length=256))
            _write_private(path, {"data_key_id": data_key_id, "kek_id": kek_id, "wrapped_key": _b64(wrapped)},
                           exclusive=True)
        record = _read(path)
        try:
            return aes_key_unwrap(self._kek(ring, record["kek_id"]), _unb64(record["wrapped_key"]))
        except (KeyError, ValueError):
            raise KeyringError(f"wrapped key {data_key_id} does not unwrap") from None

    # -- texts ----------------------------------------------------------------------------

    def seal(self, data_key_id: str, plaintext: str, aad: bytes) -> dict:
        """Encrypt ``plaintext`` with the note's data key; returns the JSON-safe ``sealed`` dict."""
        nonce = secrets.token_bytes(12)
        ciphertext = AESGCM(self.data_key(data_key_id, create=True)).encrypt(nonce, plaintext.encode("utf-8"), aad)
        return {"alg": ALG, "data_key_id": data_key_id, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}

    def open(self, sealed: dict, aad: bytes) -> str:
        """Decrypt a ``sealed`` dict written for ``aad``. Raises DecryptionError, KeyringError."""
        if sealed.get("alg") != ALG:
            raise DecryptionError(f"unsupported algorithm {sealed.get('alg')!r}")
        key = self.data_key(sealed["data_key_id"])
        try:
            raw = AESGCM(key).decrypt(_unb64(sealed["nonce"]), _unb64(sealed["ciphertext"]), aad)
        except InvalidTag:
            raise DecryptionError("sealed text does not authenticate for this stream, version and event") from None
        return raw.decode("utf-8")


def rotate_kek(key_dir: Path | str) -> int:
    """Make a new active KEK and re-wrap every data key with it; returns how many were re-wrapped.

    Rewrites only files in ``key_dir`` (keyring.json, wrapped-keys/*.json), never events.
    Raises KeyringError when a wrapped key cannot be unwrapped (nothing after it is touched).
    """
    ring_obj = Keyring(key_dir)
    ring = ring_obj._ensure()
    kek_id, entry = _new_kek_entry()
    ring = {"active": kek_id, "keks": {**ring["keks"], kek_id: entry}}
    # The new KEK is stored (and active) before any key is re-wrapped with it.
    _write_private(Path(key_dir) / KEYRING_FILE, ring)
    new_kek = _unb64(entry["key"])
    count = 0
    for path in sorted((Path(key_dir) / WRAPPED_DIR).glob("*.json")):
        record = _read(path)
        if record["kek_id"] == kek_id:
            continue
        key = ring_obj.data_key(record["data_key_id"])
        record = {**record, "kek_id": kek_id, "wrapped_key": _b64(aes_key_wrap(new_kek, key))}
        _write_private(path, record)
        count += 1
    return count

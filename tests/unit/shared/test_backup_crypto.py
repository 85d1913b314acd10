"""The backup archive's encryption (confide.backup.crypto): round trips to a passphrase and to a
recipient key, and every way an archive can be opened wrongly or be damaged fails with a clear error."""
import io
import os
import stat
import struct

import pytest

from confide.backup import crypto

PASS = "correct horse battery staple"
FAST = 2 ** 10  # scrypt cost for tests; the default is 2**17


def seal(payload: bytes, chunk_size=1024, **kw) -> bytes:
    out = io.BytesIO()
    if "recipient" not in kw:
        kw.setdefault("passphrase", PASS)
        kw.setdefault("scrypt_n", FAST)
    writer = crypto.EncryptingWriter(out, chunk_size=chunk_size, **kw)
    for i in range(0, len(payload), 777):  # writes that do not line up with chunks
        writer.write(payload[i:i + 777])
    writer.close()
    return out.getvalue()


def open_all(blob: bytes, **kw) -> bytes:
    if "identity" not in kw:
        kw.setdefault("passphrase", PASS)
    reader = crypto.DecryptingReader(io.BytesIO(blob), **kw)
    parts = []
    while chunk := reader.read(500):
        parts.append(chunk)
    assert reader.finished
    return b"".join(parts)


def frames(blob: bytes) -> tuple[int, list[tuple[int, int]]]:
    """(offset of the first frame, [(offset, length) of each frame])."""
    hlen = struct.unpack(">I", blob[8:12])[0]
    pos = start = 12 + hlen + 32
    found = []
    while pos < len(blob):
        flen = struct.unpack(">I", blob[pos:pos + 4])[0]
        found.append((pos, 4 + flen))
        pos += 4 + flen
    return start, found


@pytest.mark.parametrize("size", [0, 1, 1024, 1025, 5000, 3 * 1024])
def test_a_passphrase_archive_round_trips_whatever_its_size(size):
    payload = os.urandom(size)
    blob = seal(payload)
    assert size < 16 or payload[:16] not in blob  # no plaintext in the archive
    assert open_all(blob) == payload
    assert len(frames(blob)[1]) == max(1, -(-size // 1024))


def test_a_recipient_archive_opens_with_the_private_key_only(tmp_path):
    fp = crypto.generate_recipient_key(tmp_path / "k", tmp_path / "k.pub")
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    recipient, identity = crypto.load_recipient(tmp_path / "k.pub"), crypto.load_identity(tmp_path / "k")
    payload = os.urandom(4000)
    blob = seal(payload, recipient=recipient)
    assert crypto.read_header(io.BytesIO(blob))[0]["recipient"] == fp
    assert open_all(blob, identity=identity) == payload

    crypto.generate_recipient_key(tmp_path / "other", tmp_path / "other.pub")
    with pytest.raises(crypto.WrongKeyError, match=f"for recipient key {fp}"):
        open_all(blob, identity=crypto.load_identity(tmp_path / "other"))
    with pytest.raises(crypto.WrongKeyError, match="--identity"):
        crypto.DecryptingReader(io.BytesIO(blob), passphrase=PASS)


def test_keygen_refuses_to_overwrite_a_key(tmp_path):
    crypto.generate_recipient_key(tmp_path / "k", tmp_path / "k.pub")
    before = (tmp_path / "k").read_bytes()
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        crypto.generate_recipient_key(tmp_path / "k", tmp_path / "k2.pub")
    assert (tmp_path / "k").read_bytes() == before


def test_a_wrong_passphrase_is_told_apart_from_damage():
    blob = seal(b"x" * 3000)
    with pytest.raises(crypto.WrongKeyError, match="passphrase does not open"):
        crypto.DecryptingReader(io.BytesIO(blob), passphrase="another long passphrase")


def test_a_short_passphrase_is_refused():
    with pytest.raises(ValueError, match="at least 12 characters"):
        crypto.EncryptingWriter(io.BytesIO(), passphrase="short", scrypt_n=FAST)


@pytest.mark.parametrize("cut", ["last_frame", "mid_frame", "one_byte"])
def test_a_truncated_archive_fails(cut):
    blob = seal(os.urandom(3000))
    _, found = frames(blob)
    end = {"last_frame": found[-1][0], "mid_frame": found[1][0] + 10, "one_byte": len(blob) - 1}[cut]
    with pytest.raises(crypto.ArchiveCorruptError, match="truncated|not the last"):
        open_all(blob[:end])


def test_a_flipped_bit_in_a_chunk_fails_naming_it():
    blob = bytearray(seal(os.urandom(3000)))
    offset, _ = frames(bytes(blob))[1][1]
    blob[offset + 20] ^= 0x01
    with pytest.raises(crypto.ArchiveCorruptError, match="chunk 1 does not authenticate"):
        open_all(bytes(blob))


def test_reordered_or_repeated_chunks_fail():
    blob = seal(os.urandom(4000))
    start, found = frames(blob)
    f = [blob[o:o + n] for o, n in found]
    for bad in (f[1] + f[0] + f[2] + f[3], f[0] + f[0] + f[1] + f[2] + f[3]):
        with pytest.raises(crypto.ArchiveCorruptError):
            open_all(blob[:start] + bad)


def test_bytes_after_the_last_chunk_fail():
    blob = seal(os.urandom(1500))
    with pytest.raises(crypto.ArchiveCorruptError):
        open_all(blob + blob[-40:])


def test_an_altered_header_is_refused_before_any_chunk():
    blob = seal(os.urandom(100))
    lowered = blob.replace(b'"n":1024', b'"n":2048')
    assert lowered != blob
    with pytest.raises(crypto.WrongKeyError, match="header was altered"):
        crypto.DecryptingReader(io.BytesIO(lowered), passphrase=PASS)


def test_something_else_is_not_an_archive():
    with pytest.raises(crypto.ArchiveFormatError, match="not a Confide backup"):
        crypto.DecryptingReader(io.BytesIO(b"PGDMP\x01\x0e\x00" + b"\x00" * 100), passphrase=PASS)

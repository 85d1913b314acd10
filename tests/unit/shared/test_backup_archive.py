"""What a restore accepts from inside a decrypted archive (confide.backup.archive): only the members
a backup writes, as regular files at safe paths, each matching the manifest's SHA-256."""
import hashlib
import io
import json
import tarfile

import pytest

from confide.backup import archive, crypto

PASS = "correct horse battery staple"


def make_archive(path, members, manifest_files=None, extra_infos=()):
    """An encrypted archive holding ``members`` ({name: bytes}) after a manifest listing
    ``manifest_files`` (default: the members with their true hashes)."""
    files = manifest_files if manifest_files is not None else {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in members.items()}
    manifest = json.dumps({"format": archive.FORMAT, "files": files, "web": None}).encode()
    with open(path, "wb") as raw:
        writer = crypto.EncryptingWriter(raw, passphrase=PASS, scrypt_n=2 ** 10)
        with tarfile.open(fileobj=writer, mode="w|") as tar:
            for name, data in [(archive.MANIFEST, manifest), *members.items()]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            for info in extra_infos:
                tar.addfile(info)
        writer.close()


def extract(tmp_path, path):
    work = tmp_path / ("work-" + path.name)
    work.mkdir()
    return archive._check_manifest(work, archive._extract(path, work, PASS, None)), work


def test_a_well_formed_archive_is_extracted_and_checked(tmp_path):
    make_archive(tmp_path / "a", {archive.EVENTSTORE_DUMP: b"dump", "keys/chain.key": b"k" * 64})
    manifest, work = extract(tmp_path, tmp_path / "a")
    assert (work / "keys" / "chain.key").read_bytes() == b"k" * 64
    assert set(manifest["files"]) == {archive.EVENTSTORE_DUMP, "keys/chain.key"}


@pytest.mark.parametrize("name", ["../escape", "/etc/escape", "keys/../../escape", "elsewhere/file"])
def test_a_member_outside_the_backup_layout_is_refused(tmp_path, name):
    make_archive(tmp_path / "a", {archive.EVENTSTORE_DUMP: b"dump", name: b"x"})
    with pytest.raises(archive.RestoreError, match="unsafe path|not part of a Confide backup"):
        extract(tmp_path, tmp_path / "a")
    assert not (tmp_path / "escape").exists()


def test_a_link_member_is_refused(tmp_path):
    link = tarfile.TarInfo("keys/chain.key")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    make_archive(tmp_path / "a", {archive.EVENTSTORE_DUMP: b"dump"}, extra_infos=[link])
    with pytest.raises(archive.RestoreError, match="not a regular file"):
        extract(tmp_path, tmp_path / "a")


def test_members_must_match_the_manifest(tmp_path):
    members = {archive.EVENTSTORE_DUMP: b"dump", "keys/chain.key": b"k"}
    files = {name: {"sha256": hashlib.sha256(b"other").hexdigest()} for name in members}
    make_archive(tmp_path / "a", members, manifest_files=files)
    with pytest.raises(archive.RestoreError, match="does not match its SHA-256"):
        extract(tmp_path, tmp_path / "a")
    make_archive(tmp_path / "b", members, manifest_files={archive.EVENTSTORE_DUMP: {"sha256": "x"}})
    with pytest.raises(archive.RestoreError, match=r"not listed \['keys/chain.key'\]"):
        extract(tmp_path, tmp_path / "b")

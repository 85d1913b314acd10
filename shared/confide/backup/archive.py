"""``confide backup`` / ``confide restore``: one encrypted archive holding everything an installation
needs to come back on a fresh machine.

Inside the encryption (:mod:`confide.backup.crypto`) is a tar stream::

    manifest.json          format, created_at, versions, the event store's database and schema with the
                           log's head position and chain head read in the dump's own snapshot, the web
                           database, the roles the databases need, and the SHA-256 of every other member
    db/eventstore.dump     pg_dump (custom format) of the event store's database
    db/web.dump            pg_dump of the web front door's database (unless backed up --without-web)
    keys/...               the key directory (chain, signing, decision, transport, assertion, service
                           keys, the psychotherapy-note keyring and wrapped keys, role and broker secrets)
    checkpoints/...        the checkpoint directory (signed chain heads, the last verify)

Order matters while the services run: the signed checkpoints are copied before the database snapshot
(so every signed head is in the dump: no false "log truncated" after a restore), the key directory
after it (so every note's wrapped key, written before its event, is in the archive).

Plaintext exists only in a private temporary directory (0700, ``TMPDIR``) removed on every exit; the
archive is written under a temporary name (0600) and linked into place only when complete.

Restoring decrypts into such a directory, checks every member against the manifest, refuses (unless
``force``) to replace an event store that holds events, a web database with accounts or a checkpoint
directory with signed heads, creates the roles the databases need, restores each database into a new
database and checks the event store's head against the manifest, and only then sets the roles'
passwords from the restored secrets and puts databases and directories in place (what was there is
renamed aside, never deleted; an empty database is dropped).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import secrets
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Callable, cast

from confide import config
from confide.backup import crypto
from confide.eventstore import dump
from confide.timestamps import format_ts, now_utc

FORMAT = "confide-backup/1"
MANIFEST = "manifest.json"
EVENTSTORE_DUMP = "db/eventstore.dump"
WEB_DUMP = "db/web.dump"
KEYS, CHECKPOINTS = "keys", "checkpoints"
# The web front door's database (services/web: web.settings, web.dbsetup; not importable from here).
WEB_DB_DSN_KEY = "CONFIDE_WEB_DB_DSN"
DEFAULT_WEB_DB = "confide_web"
WEB_ROLE = "confide_web"
WEB_SECRET_FILE = "web-db.secret"
CHECKPOINT_FILE = "chain-heads.jsonl"
REQUIRED_KEYS = ("chain.key", "audit-signing.key", "audit-signing.pub", "decision.key")

Echo = Callable[[str], None]


class BackupError(Exception):
    """A backup could not be made; nothing was written at the archive's path."""


class RestoreError(Exception):
    """A restore failed; the databases and directories in place were not changed."""


class RestoreRefusedError(RestoreError):
    """The target holds records and ``force`` was not given (nothing was changed)."""


@dataclass
class Target:
    """Where an installation lives on this machine (from :mod:`confide.config` and the environment)."""

    admin_dsn: str
    database: str
    schema: str
    web_database: str
    key_dir: Path
    checkpoint_dir: Path

    @classmethod
    def from_config(cls) -> "Target":
        return cls(admin_dsn=config.admin_dsn(), database=event_store_database(), schema=config.db_schema(),
                   web_database=web_database(), key_dir=config.key_dir(), checkpoint_dir=config.checkpoint_dir())


def _dbname_of(env_key: str, default: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    configured = os.environ.get(env_key)
    return str((conninfo_to_dict(configured).get("dbname") if configured else None) or default)


def event_store_database() -> str:
    """The event store's database: ``CONFIDE_DB_DSN``'s, else ``confide``."""
    return _dbname_of(config.DB_DSN_KEY, config.DEFAULT_DB_NAME)


def web_database() -> str:
    """The web front door's database: ``CONFIDE_WEB_DB_DSN``'s, else ``confide_web``."""
    return _dbname_of(WEB_DB_DSN_KEY, DEFAULT_WEB_DB)


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _private_dir(parent: Path | None = None, prefix: str = "confide-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))  # mode 0700


def _copy_tree(src: Path, dst: Path, what: str) -> None:
    """Copy the regular files under ``src`` to ``dst`` (dirs 0700, files 0600 while staged).
    Raises BackupError for anything that is neither a file nor a directory."""
    dst.mkdir(mode=0o700, parents=True, exist_ok=True)
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        for d in dirs:
            if (Path(root) / d).is_symlink():
                raise BackupError(f"{what}: {rel / d} is a symbolic link to a directory; not backed up")
            (dst / rel / d).mkdir(mode=0o700, exist_ok=True)
        for f in files:
            path = Path(root) / f
            if not path.is_file():
                raise BackupError(f"{what}: {rel / f} is not a regular file")
            target = dst / rel / f
            with open(path, "rb") as fin:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            os.utime(target, (path.stat().st_atime, path.stat().st_mtime))


def _files(root: Path) -> dict[str, Path]:
    """Every regular file under ``root`` by its POSIX path relative to it, sorted."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[path.relative_to(root).as_posix()] = path
    return found


def _versions(admin_dsn: str) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        confide_version = version("confide-shared")
    except PackageNotFoundError:
        confide_version = "unknown"
    return {"confide": confide_version, "python": platform.python_version(),
            "postgresql_server": dump.server_version(admin_dsn), "pg_dump": dump.tool_version("pg_dump")}


def _secret_roles(key_dir: Path, with_web: bool) -> dict[str, Path]:
    """{role: secret file} for every ``<key_dir>/db/<role>.secret`` (and the web role's)."""
    roles = {p.name[: -len(".secret")]: p for p in sorted((key_dir / "db").glob("*.secret"))}
    if with_web and (key_dir / WEB_SECRET_FILE).exists():
        roles[WEB_ROLE] = key_dir / WEB_SECRET_FILE
    return roles


def create_backup(out: Path, *, target: Target, passphrase: str | None = None, recipient=None,
                  with_web: bool = True, scrypt_n: int = crypto.SCRYPT_N, echo: Echo = lambda _m: None) -> dict:
    """Write the encrypted archive ``out`` (mode 0600) and return its manifest.

    Raises BackupError (a part is missing or not this installation's; ``out`` exists), DumpError
    (pg_dump), ValueError (a weak passphrase), OSError. Nothing is left at ``out`` on failure.
    """
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} exists: refusing to overwrite (choose a new name)")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} is not a directory")
    if passphrase is not None:
        crypto.check_passphrase(passphrase)
    for name in REQUIRED_KEYS:
        if not (target.key_dir / name).is_file():
            raise BackupError(f"key directory {target.key_dir} has no {name}: not this installation's keys "
                              f"(set CONFIDE_KEY_DIR)")
    if with_web and not dump.database_exists(target.admin_dsn, target.web_database):
        raise BackupError(f"web database {target.web_database!r} does not exist on this server; back up "
                          "--without-web if this installation has no web front door")
    work = _private_dir(prefix="confide-backup-")
    partial = out.with_name(f".{out.name}.partial-{secrets.token_hex(4)}")
    try:
        (work / "db").mkdir(mode=0o700)
        # 1. The signed heads before the snapshot: each of them is then in the dump.
        if target.checkpoint_dir.is_dir():
            _copy_tree(target.checkpoint_dir, work / CHECKPOINTS, "checkpoint directory")
        echo(f"dumping event store database {target.database} (schema {target.schema})")
        facts = dump.dump_event_store(target.admin_dsn, target.database, target.schema, work / EVENTSTORE_DUMP)
        if facts["chain_head"] is not None and not (work / CHECKPOINTS / CHECKPOINT_FILE).is_file():
            raise BackupError(f"the chain is sealed to index {facts['chain_head']['chain_index']} but "
                              f"{target.checkpoint_dir} has no {CHECKPOINT_FILE}: not this installation's "
                              "checkpoint directory (set CONFIDE_CHECKPOINT_DIR)")
        web = None
        if with_web:
            echo(f"dumping web database {target.web_database}")
            web = dump.database_facts(target.admin_dsn, target.web_database)
            dump.dump_database(target.admin_dsn, target.web_database, work / WEB_DUMP)
        # 2. The keys after the snapshot: every note in the dump has its wrapped key here.
        _copy_tree(target.key_dir, work / KEYS, "key directory")
        secret_roles = _secret_roles(target.key_dir, with_web)
        dbs = [target.database] + ([target.web_database] if with_web else [])
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": format_ts(now_utc()),
            "versions": _versions(target.admin_dsn),
            "event_store": {**dump.database_facts(target.admin_dsn, target.database), **facts},
            "web": web,
            "roles": dump.roles_in_use(target.admin_dsn, dbs, extra=sorted(secret_roles)),
            "secrets": {role: (PurePosixPath(KEYS) / path.relative_to(target.key_dir).as_posix()).as_posix()
                        for role, path in secret_roles.items()},
            "files": {name: {"sha256": _sha256(path), "size": path.stat().st_size}
                      for name, path in _files(work).items()},
        }
        echo(f"encrypting {len(manifest['files'])} files")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            writer = crypto.EncryptingWriter(raw, passphrase=passphrase, recipient=recipient, scrypt_n=scrypt_n)
            with tarfile.open(fileobj=cast(IO[bytes], writer), mode="w|", format=tarfile.PAX_FORMAT) as tar:
                body = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
                tar.addfile(_tarinfo(MANIFEST, len(body), 0o600), io.BytesIO(body))
                for name, path in _files(work).items():
                    with open(path, "rb") as fh:
                        tar.addfile(_tarinfo(name, path.stat().st_size, 0o600, path.stat().st_mtime), fh)
            writer.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.link(partial, out)  # fails if something appeared at ``out`` meanwhile
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)
        partial.unlink(missing_ok=True)


def _tarinfo(name: str, size: int, mode: int, mtime: float | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, int(mtime if mtime is not None else now_utc().timestamp())
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# -- restore --------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    manifest: dict
    roles_created: list[str] = field(default_factory=list)
    moved_aside: list[str] = field(default_factory=list)


def _member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts) or not path.parts:
        raise RestoreError(f"archive member {name!r} has an unsafe path")
    if name not in (MANIFEST, EVENTSTORE_DUMP, WEB_DUMP) and path.parts[0] not in (KEYS, CHECKPOINTS):
        raise RestoreError(f"archive member {name!r} is not part of a Confide backup")
    return path


def _extract(archive: Path, work: Path, passphrase, identity) -> dict[str, str]:
    """Decrypt ``archive`` into ``work``; returns {member: sha256}. Raises BackupCryptoError, RestoreError."""
    digests: dict[str, str] = {}
    with open(archive, "rb") as fh:
        reader = crypto.DecryptingReader(fh, passphrase=passphrase, identity=identity)
        try:
            with tarfile.open(fileobj=cast(IO[bytes], reader), mode="r|") as tar:
                for member in tar:
                    path = _member_path(member.name)
                    if member.isdir():
                        continue
                    if not member.isfile():
                        raise RestoreError(f"archive member {member.name!r} is not a regular file")
                    if member.name in digests:
                        raise RestoreError(f"archive member {member.name!r} appears twice")
                    dest = work.joinpath(*path.parts)
                    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    digest = hashlib.sha256()
                    src = tar.extractfile(member)
                    if src is None:
                        raise RestoreError(f"archive member {member.name!r} has no contents")
                    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        while chunk := src.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                    digests[member.name] = digest.hexdigest()
        except tarfile.TarError as exc:
            raise RestoreError(f"the archive's contents are not a readable tar stream: {exc}") from None
        reader.read_to_end()  # authenticates up to the last frame: a cut or extended file fails here
        if not reader.finished:
            raise crypto.ArchiveCorruptError("archive truncated: its last chunk is missing")
    return digests


def _check_manifest(work: Path, digests: dict[str, str]) -> dict:
    if MANIFEST not in digests:
        raise RestoreError("the archive has no manifest.json")
    manifest = json.loads((work / MANIFEST).read_text("utf-8"))
    if manifest.get("format") != FORMAT:
        raise RestoreError(f"archive format {manifest.get('format')!r} is not {FORMAT!r}")
    files = manifest.get("files") or {}
    present = set(digests) - {MANIFEST}
    missing, extra = sorted(set(files) - present), sorted(present - set(files))
    if missing or extra:
        raise RestoreError(f"archive members differ from its manifest: missing {missing}, not listed {extra}")
    for name, entry in files.items():
        if digests[name] != entry.get("sha256"):
            raise RestoreError(f"archive member {name} does not match its SHA-256 in the manifest")
    if EVENTSTORE_DUMP not in files:
        raise RestoreError("the archive holds no event store dump")
    if (manifest.get("web") is None) != (WEB_DUMP not in files):
        raise RestoreError("the manifest's web database and the archive's members disagree")
    return manifest


def _dir_in_use(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def refusals(target: Target) -> list[str]:
    """What a restore would replace that holds records (the restore refuses them without ``force``)."""
    found = []
    events = dump.tables_with_rows(target.admin_dsn, target.database, "events")
    if events:
        found.append(f"database {target.database} holds events ({', '.join(events)})")
    accounts = dump.tables_with_rows(target.admin_dsn, target.web_database, "auth_user")
    if accounts:
        found.append(f"web database {target.web_database} holds accounts")
    heads = target.checkpoint_dir / CHECKPOINT_FILE
    if heads.is_file() and heads.stat().st_size > 0:
        found.append(f"{heads} holds signed chain heads")
    return found


def _stage(src: Path, final: Path) -> Path:
    """Move the restored directory ``src`` next to ``final`` (same file system, so the last step is a
    rename); directories 0700, files 0600."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = _private_dir(final.parent, prefix=f".{final.name}.restoring-")
    if src.is_dir():
        for name, path in _files(src).items():
            dest = staged / name
            dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.move(str(path), dest)
            os.chmod(dest, 0o600)
    for root, dirs, _ in os.walk(staged):
        for d in dirs:
            os.chmod(Path(root) / d, 0o700)
    return staged


def _refuse_unless_forced(target: Target, force: bool, when: str = "") -> None:
    """Raise RestoreRefusedError when the target holds records and ``force`` is not given, or when a
    session is connected to one of its databases (checked at the start and again just before anything
    is put in place: ``when`` says which)."""
    found = refusals(target)
    if found and not force:
        raise RestoreRefusedError("refusing to restore over an installation that holds records"
                                  + (f" {when}" if when else "") + ": " + "; ".join(found)
                                  + ". Nothing was changed. With --force they are moved "
                                  "aside (databases and directories renamed, never deleted).")
    for db in (target.database, target.web_database):
        busy = dump.sessions_on(target.admin_dsn, db)
        if busy:
            raise RestoreRefusedError(f"{busy} session(s) are connected to database {db}"
                                      + (f" {when}" if when else "") + ": stop the services (confide run) "
                                      "first. Nothing was changed.")


def _check_secrets(manifest: dict) -> None:
    """Each restored secret must be a listed member under keys/ naming a role the manifest lists.
    Raises RestoreError."""
    roles = {r.get("name") for r in manifest.get("roles") or [] if isinstance(r, dict)}
    files = manifest.get("files") or {}
    for role, member in (manifest.get("secrets") or {}).items():
        path = PurePosixPath(str(member))
        if member not in files or not path.parts or path.parts[0] != KEYS or ".." in path.parts:
            raise RestoreError(f"the manifest's secret for role {role!r} ({member!r}) is not a key file of the archive")
        if role not in roles:
            raise RestoreError(f"the manifest gives a secret for role {role!r}, which it does not list among the "
                               "roles the databases need")


def _aside(path_name: str, stamp: str) -> str:
    return f"{path_name}.pre-restore-{stamp}"


def restore_backup(archive: Path, *, target: Target, passphrase: str | None = None, identity=None,
                   force: bool = False, echo: Echo = lambda _m: None) -> RestoreResult:
    """Restore ``archive`` onto ``target``. Raises RestoreRefusedError (the target holds records, no
    ``force``; services still connected: checked at the start and again just before anything is put in
    place, so records written meanwhile are never dropped), BackupCryptoError (wrong passphrase or key,
    altered or cut archive), RestoreError / DumpError (a member or a database does not match; pg_restore
    failed; the manifest names a superuser or predefined role, or a secret that is not a key file of the
    archive), OSError. Up to the last step nothing in place is changed (only roles the databases need may have
    been created, without a password); the last step sets passwords and renames databases and
    directories, which fails only if someone connects or writes there meanwhile."""
    archive = Path(archive)
    _refuse_unless_forced(target, force)
    stamp = now_utc().strftime("%Y%m%d%H%M%S")
    work = _private_dir(prefix="confide-restore-")
    made_dbs: list[str] = []
    staged: list[Path] = []
    try:
        echo(f"decrypting {archive}")
        manifest = _check_manifest(work, _extract(archive, work, passphrase, identity))
        store = manifest["event_store"]
        if store["schema"] != target.schema:
            raise RestoreError(f"the archive's event store is in schema {store['schema']!r}, this installation's "
                               f"is {target.schema!r} (set CONFIDE_DB_SCHEMA)")
        result = RestoreResult(manifest)
        dump.check_restorable_roles(target.admin_dsn, manifest.get("roles") or [], manifest.get("secrets") or {})
        _check_secrets(manifest)
        result.roles_created = dump.ensure_roles(target.admin_dsn, manifest["roles"])
        restores = [(store, target.database, EVENTSTORE_DUMP)]
        if manifest.get("web") is not None:
            restores.append((manifest["web"], target.web_database, WEB_DUMP))
        for facts, dbname, member in restores:
            tmp = f"{dbname[:40]}_restoring_{secrets.token_hex(4)}"
            echo(f"restoring database {facts['name']} as {dbname}")
            made_dbs.append(tmp)
            dump.restore_database(target.admin_dsn, facts, tmp, work / member)
        got = dump.event_store_facts(target.admin_dsn, made_dbs[0], target.schema)
        want = {k: store[k] for k in ("head_position", "events", "chain_head")}
        if {k: got[k] for k in want} != want:
            raise RestoreError(f"the restored event store does not match the manifest: {got} != {want}")
        staged = [_stage(work / KEYS, target.key_dir), _stage(work / CHECKPOINTS, target.checkpoint_dir)]
        # The checks at the start were minutes ago: services started meanwhile may have written.
        _refuse_unless_forced(target, force, "since the restore began")
        # Everything is restored and checked: from here on, put it in place.
        secrets_ = manifest.get("secrets") or {}
        for role, member in sorted(secrets_.items()):
            secret = (staged[0] / PurePosixPath(member).relative_to(KEYS)).read_text().strip()
            dump.set_role_password(target.admin_dsn, role, secret)
        for (_facts, dbname, _member), tmp in zip(restores, made_dbs):
            if dump.database_exists(target.admin_dsn, dbname):
                held = (dump.tables_with_rows(target.admin_dsn, dbname, "events")
                        or dump.tables_with_rows(target.admin_dsn, dbname, "auth_user"))
                if held and not force:  # written in the last moments: never dropped
                    raise RestoreRefusedError(f"database {dbname} now holds records ({', '.join(held)}); it was "
                                              "not replaced. Stop the services and restore again.")
                if held:
                    aside = _aside(dbname[:40], stamp).replace(".", "_").replace("-", "_")
                    dump.rename_database(target.admin_dsn, dbname, aside)
                    result.moved_aside.append(f"database {dbname} -> {aside}")
                else:
                    dump.drop_database(target.admin_dsn, dbname)
            dump.rename_database(target.admin_dsn, tmp, dbname)
        made_dbs = []
        for stage, final in zip(staged, (target.key_dir, target.checkpoint_dir)):
            if _dir_in_use(final):
                old = final.with_name(_aside(final.name, stamp))
                final.rename(old)
                result.moved_aside.append(f"{final} -> {old}")
            elif final.is_dir():
                final.rmdir()
            stage.rename(final)
            os.chmod(final, 0o700)
        staged = []
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for path in staged:
            shutil.rmtree(path, ignore_errors=True)
        for name in made_dbs:
            try:
                dump.drop_database(target.admin_dsn, name)
            except Exception as exc:  # the original error matters more; say what is left
                echo(f"could not drop the partly restored database {name}: {exc}")


def verify_restored(target: Target):
    """``confide audit verify`` on the restored installation, as the auditor's role with the restored
    keys and checkpoints; returns the :class:`confide.eventstore.chain.VerifyReport`. Raises
    RuntimeError (no auditor password), FileNotFoundError (a key), EventStoreError."""
    from confide.eventstore.chain import load_chain_key, verify
    from confide.eventstore.store import PostgresEventStore
    from confide.keys import load_public_key

    store = PostgresEventStore(config.auditor_dsn(), schema=target.schema, pool_size=1)
    try:
        return verify(store, load_chain_key(target.key_dir), load_public_key(target.key_dir), target.checkpoint_dir)
    finally:
        store.close()

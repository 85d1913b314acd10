"""A throw-away PostgreSQL server of a test's own (tests that wipe a whole server: the restore drill).

It never touches the shared server on 5432: its own data directory (``initdb``, Debian's PostgreSQL
binaries), a free loopback port, no Unix socket, password (SCRAM) logins only, so a role whose
password was not restored cannot log in. As root the server runs as ``postgres`` (initdb refuses
root). Every wait is bounded; a server that does not come up fails with its log.
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

BINDIR_KEY = "CONFIDE_PG_BINDIR"


def _bindir() -> Path:
    if os.environ.get(BINDIR_KEY):
        return Path(os.environ[BINDIR_KEY])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("initdb not found under /usr/lib/postgresql/*/bin (Debian's postgresql package) "
                           f"and {BINDIR_KEY} is not set")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """``start()`` a fresh server; ``admin_dsn`` is its superuser ``postgres``; ``destroy()`` stops it
    and deletes its data. ``port`` and ``password`` may be given to start a fresh server where an
    earlier one was (the same configuration on a new machine)."""

    def __init__(self, port: int | None = None, password: str | None = None):
        self.port = port or free_port()
        self.password = password or secrets.token_hex(16)
        self.base: Path | None = None
        self.bindir = _bindir()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres:{quote(self.password, safe='')}@127.0.0.1:{self.port}/postgres"

    def dsn(self, user: str, password: str, dbname: str) -> str:
        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        done = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            log = (self.base / "server.log") if self.base else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def start(self) -> "PgServer":
        self.base = Path(tempfile.mkdtemp(prefix="confide-pgserver-"))
        pwfile = self.base / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            uid, gid = pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid
            for path in (self.base, pwfile):
                os.chown(path, uid, gid)
        data = self.base / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                  "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
        pwfile.unlink()
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.base / "server.log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k '' -c listen_addresses=127.0.0.1 -c fsync=off "
                        "-c synchronous_commit=off -c full_page_writes=off", "start", timeout=90)
        return self

    def destroy(self) -> None:
        """Stop the server (immediately: its data goes too) and delete its directory."""
        if self.base is None:
            return
        data = self.base / "data"
        if (data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None

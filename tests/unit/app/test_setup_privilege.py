"""Set-up as a normal user (deploy/privilege.sh, sourced by deploy/setup.sh): a privileged step goes
through sudo when there is sudo, runs directly as root, and with neither stops set-up (exit 1) naming
the exact command to run as root, without running it. Steps that need no root never ask for it."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PRIVILEGE = REPO / "deploy" / "privilege.sh"
BASH = shutil.which("bash")
NOBODY = 65534


@pytest.fixture
def bin_dir():
    """A PATH of its own (world-readable, so another user may run from it): no sudo unless a test puts one."""
    folder = Path(tempfile.mkdtemp(prefix="confide-privilege-"))
    folder.chmod(0o755)
    for tool in ("id", "env", "touch", "cat"):
        (folder / tool).symlink_to(shutil.which(tool))
    yield folder
    shutil.rmtree(folder)


def _fake(folder: Path, name: str, body: str) -> None:
    """A stand-in command in ``folder``, in place of its link to the real one (the link itself is
    removed first: writing through it would overwrite the system's command)."""
    path = folder / name
    if path.is_symlink() or path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755)
    with os.fdopen(fd, "w") as fh:
        fh.write("#!/bin/sh\n" + body + "\n")


def _as_normal_user(bin_dir: Path, script: str) -> subprocess.CompletedProcess:
    """``script`` after sourcing privilege.sh, as a real non-root user (nobody, when we are root)."""
    prefix = [shutil.which("setpriv"), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"] if os.geteuid() == 0 else []
    env = {"PATH": str(bin_dir), "HOME": str(bin_dir), "LC_ALL": "C"}
    return subprocess.run([*prefix, BASH, "-c", f'. "{PRIVILEGE}"; {script}'], env=env, capture_output=True,
                          text=True, timeout=30)


def test_without_sudo_a_privileged_step_stops_set_up_naming_the_command_to_run_as_root(bin_dir):
    marker = bin_dir / "ran"
    out = _as_normal_user(bin_dir, f'as_root touch "{marker}"; echo "went on"')
    assert out.returncode == 1
    assert f"    touch {marker}" in out.stderr and "As root, run:" in out.stderr
    assert "went on" not in out.stdout
    assert not marker.exists()


def test_without_sudo_a_package_install_names_the_apt_get_commands(bin_dir):
    out = _as_normal_user(bin_dir, "apt_install postgresql rabbitmq-server")
    assert out.returncode == 1
    assert "apt-get update && apt-get install -y postgresql rabbitmq-server" in out.stderr
    assert "apt-get install sudo" in out.stderr  # and how to get sudo instead


def test_a_privileged_step_as_the_postgres_user_is_named_with_runuser(bin_dir):
    out = _as_normal_user(bin_dir, "as_postgres psql -c 'SELECT 1'")
    assert out.returncode == 1
    assert "runuser -u postgres -- psql -c SELECT 1" in out.stderr


def test_with_sudo_a_privileged_step_goes_through_sudo(bin_dir):
    calls = Path(tempfile.mkdtemp(prefix="confide-sudo-calls-"))
    calls.chmod(0o777)
    try:
        _fake(bin_dir, "sudo", f'echo "$@" >> "{calls}/log"')
        out = _as_normal_user(bin_dir, "as_root pg_ctlcluster 15 main start; as_postgres psql -c x; echo done")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "done"
        assert (calls / "log").read_text().splitlines() == ["pg_ctlcluster 15 main start", "-u postgres psql -c x"]
    finally:
        shutil.rmtree(calls)


def test_as_root_a_privileged_step_runs_directly_without_sudo(bin_dir):
    _fake(bin_dir, "id", 'case "$1" in -u) echo 0;; -un) echo root;; *) exit 2;; esac')
    out = subprocess.run([BASH, "-c", f'. "{PRIVILEGE}"; as_root echo "ran as root"; can_root && echo can'],
                         env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["ran as root", "can"]


def test_set_up_runs_every_privileged_command_through_the_helpers():
    """No bare sudo, runuser or apt-get left in setup.sh: each goes through as_root, as_postgres or
    apt_install, so none can fail with `sudo: command not found`."""
    setup = (REPO / "deploy" / "setup.sh").read_text()
    code = [line for line in setup.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert any(line.strip() == ". deploy/privilege.sh" for line in code)
    for line in code:
        words = line.replace("(", " ").replace(";", " ").split()
        for bare in ("sudo", "$SUDO", "runuser", "apt-get"):
            assert bare not in words or "log" in words, line

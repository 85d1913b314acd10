"""deploy/install-systemd.sh: the units it installs pass `systemd-analyze verify`; as root it makes the
system user (no login shell), /etc/confide/confide.env (0640 root:user) and the state directories
(0700 user), idempotently, keeping an edited environment file; as anyone else it refuses, naming the
command to run as root. (Run here with a throwaway user and temporary directories, then removed.)"""
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
INSTALL = REPO / "deploy" / "install-systemd.sh"
UNITS = sorted(p.name for p in (REPO / "deploy" / "systemd").glob("confide*.*") if p.suffix in (".service", ".target"))


def _run(*args, env=None, prefix=()):
    return subprocess.run([*prefix, "bash", str(INSTALL), *args], env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def layout():
    folder = Path(tempfile.mkdtemp(prefix="confide-install-"))
    folder.chmod(0o755)
    user = f"confide-t{uuid.uuid4().hex[:6]}"
    env = {"CONFIDE_USER": user, "CONFIDE_ETC_DIR": str(folder / "etc"), "CONFIDE_STATE_DIR": str(folder / "state"),
           "CONFIDE_UNIT_DIR": str(folder / "units")}
    yield folder, user, env
    if subprocess.run(["getent", "passwd", user], capture_output=True).returncode == 0:
        subprocess.run(["userdel", user], check=True)
    shutil.rmtree(folder)


def test_the_rendered_units_pass_systemd_analyze_verify(layout):
    folder, _, env = layout
    (folder / "etc").mkdir()
    shutil.copy(REPO / "deploy" / "systemd" / "confide.env", folder / "etc" / "confide.env")
    out = _run("--render-units", str(folder / "rendered"), env=env)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (folder / "rendered").iterdir()) == UNITS
    for name in UNITS:
        text = (folder / "rendered" / name).read_text()
        assert "/opt/confide" not in text and "/etc/confide/" not in text
        if name.endswith(".service"):
            assert f"ExecStart={REPO}/.venv/bin/confide serve " in text
            assert f"EnvironmentFile={folder}/etc/confide.env" in text
            assert f"ReadWritePaths={folder}/state" in text
            # A worktree has no venv of its own: verify against the one running these tests.
            confide = Path(sys.executable).parent / "confide"
            assert confide.exists()
            (folder / "rendered" / name).write_text(text.replace(f"{REPO}/.venv/bin/confide", str(confide)))
    verify = subprocess.run(["systemd-analyze", "verify", "--man=no", *UNITS], cwd=folder / "rendered",
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    # The check has teeth: an unknown setting or a missing command is reported.
    broken = folder / "rendered" / "confide-notes.service"
    broken.write_text(broken.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    bad = subprocess.run(["systemd-analyze", "verify", "--man=no", broken.name], cwd=broken.parent,
                         capture_output=True, text=True, timeout=120)
    assert "restart specifier" in bad.stderr


def test_as_root_it_installs_user_directories_and_units_idempotently(layout):
    folder, user, env = layout
    assert os.geteuid() == 0, "this test installs a system user: run the suite as root (as CI does)"
    first = _run("--skip-setup", env=env)
    assert first.returncode == 0, first.stderr
    account = pwd.getpwnam(user)
    assert account.pw_uid < 1000 and account.pw_shell.endswith("nologin")  # a system user, no login
    assert account.pw_dir == str(folder / "state")

    def mode_owner(path: Path):
        st = path.stat()
        return stat.S_IMODE(st.st_mode), pwd.getpwuid(st.st_uid).pw_name

    assert mode_owner(folder / "state" / "keys") == (0o700, user)
    assert mode_owner(folder / "state" / "checkpoints") == (0o700, user)
    env_file = folder / "etc" / "confide.env"
    assert mode_owner(env_file) == (0o640, "root")
    assert env_file.stat().st_gid == account.pw_gid
    assert f"CONFIDE_KEY_DIR={folder}/state/keys" in env_file.read_text()
    assert sorted(p.name for p in (folder / "units").iterdir()) == UNITS
    web = (folder / "units" / "confide-web.service").read_text()
    assert f"User={user}\n" in web and f"Group={user}\n" in web
    assert "nothing started" in first.stdout  # the units went to a temporary directory, not systemd's

    # The user reads the checkout it runs from, and nothing of the state directory is left to root.
    (folder / "state" / "keys" / "made-by-root").write_text("x")
    env_file.write_text(env_file.read_text() + "CONFIDE_WEB_ALLOWED_HOSTS=confide.example.org\n")
    again = _run("--skip-setup", env=env)
    assert again.returncode == 0, again.stderr
    assert "creating system user" not in again.stdout
    assert "CONFIDE_WEB_ALLOWED_HOSTS=confide.example.org" in env_file.read_text()  # kept
    assert mode_owner(folder / "state" / "keys" / "made-by-root")[1] == user


def test_as_a_normal_user_it_refuses_naming_the_command_to_run_as_root(layout):
    _, _, env = layout
    prefix = [shutil.which("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--"] \
        if os.geteuid() == 0 else []
    out = _run("--skip-setup", env=env, prefix=prefix)
    assert out.returncode == 1
    assert "needs root" in out.stderr
    assert f"{INSTALL} --skip-setup" in out.stderr  # with sudo, or with su -c when there is none
    assert not (Path(env["CONFIDE_ETC_DIR"])).exists()

"""The supervisor restarts a killed child after its backoff while the other keeps running, and
SIGTERM stops everything promptly."""
import os
import signal
import subprocess
import sys
import textwrap

from confide.testing.polling import wait_for

CHILD = "import os, time; print('up', os.getpid(), flush=True); time.sleep(3600)"

SUPERVISOR = textwrap.dedent("""
    import sys
    from confide_app.supervisor import Backoff, supervise
    child = [sys.executable, "-c", {child!r}]
    supervise({{"alpha": child, "beta": child}},
              backoff=lambda: Backoff(base=0.2, cap=1, stable_after=30, loop_after=3), poll=0.05)
""").format(child=CHILD)


def _pids(lines, name):
    return [int(line.split()[-1]) for line in lines if line.startswith(name) and " up " in line]


def test_a_killed_child_comes_back_and_the_other_stays_up(tmp_path):
    log = tmp_path / "supervisor.log"
    with open(log, "w") as out:
        sup = subprocess.Popen([sys.executable, "-c", SUPERVISOR], stdout=out, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        def lines():
            return log.read_text().splitlines()

        wait_for(lambda: _pids(lines(), "alpha") and _pids(lines(), "beta"), timeout=20)
        alpha, beta = _pids(lines(), "alpha")[0], _pids(lines(), "beta")[0]

        os.kill(alpha, signal.SIGKILL)
        wait_for(lambda: len(_pids(lines(), "alpha")) == 2, timeout=20)
        text = log.read_text()
        assert "alpha exited with code -9; restarting it in 0.2s" in text
        assert _pids(lines(), "alpha")[1] != alpha
        os.kill(beta, 0)  # the other never stopped
        assert _pids(lines(), "beta") == [beta]

        # three quick crashes in a row: reported loudly, still restarted, beta untouched
        for n in range(2):
            os.kill(_pids(lines(), "alpha")[-1], signal.SIGKILL)
            wait_for(lambda n=n: len(_pids(lines(), "alpha")) == 3 + n, timeout=20)
        assert "alpha is crash-looping: exited with code -9, 3 times in a row" in log.read_text()
        os.kill(beta, 0)

        children = _pids(lines(), "alpha")[-1:] + [beta]
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(timeout=15) == 0
        for pid in children:
            assert not _alive(pid)
    finally:
        if sup.poll() is None:
            sup.kill()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie not yet reaped by init still answers kill(0): look at its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False

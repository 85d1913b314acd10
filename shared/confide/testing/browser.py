"""Processes the browser tests start: a free port, a log's tail, stopping a process group, and one
browser journey run by a driver script in a plain Python process.

The test suites monkey-patch eventlet first, and Playwright's sync API does not run under that; so
a journey runs in its own process (``python DRIVER SPEC.json RESULT.json``, no eventlet imported),
bounded by a timeout, and writes ``{"ok": true, "data": ...}`` or ``{"ok": false, "error",
"traceback"}`` to RESULT.json. :func:`run_journey` raises :class:`JourneyFailed` (with the driver's
output and the server's log tail) on a failure, a timeout or no result; the fixtures turn it into
``pytest.fail``.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path


class JourneyFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 6000) -> str:
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except FileNotFoundError:
        return "(no log)"


def stop(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds; then SIGKILL whatever of the
    group is left (a browser's children outlive the driver that started them)."""
    try:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass


def run_journey(driver: Path, spec: dict, folder: Path, *, env: dict[str, str], cwd: Path, timeout: float,
                server_log: Path, server_name: str = "web server") -> dict:
    """Run ``spec["journey"]`` with ``driver``; its data, or JourneyFailed naming what went wrong."""
    name = str(spec["journey"]).replace(".", "-")
    spec_path, result_path = folder / f"{name}.spec.json", folder / f"{name}.result.json"
    spec_path.write_text(json.dumps(spec))
    driver_log = folder / f"{name}.driver.log"

    def failed(what: str) -> JourneyFailed:
        return JourneyFailed(f"journey {spec['journey']} {what}\n--- driver:\n{tail(driver_log)}"
                             f"\n--- {server_name}:\n{tail(server_log)}")

    with open(driver_log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(driver), str(spec_path), str(result_path)], env=env,
                                cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise failed(f"did not finish within {timeout} s") from None
    finally:
        stop(proc)
    if not result_path.exists():
        raise failed(f"wrote no result (exit {proc.returncode})")
    result = json.loads(result_path.read_text())
    if not result["ok"]:
        raise failed(f": {result['error']}\n{result['traceback']}")
    return result["data"]


def drive(spec_path: str, result_path: str, journey, timeout_ms: int = 15_000) -> int:
    """A driver script's main: read SPEC.json, launch Debian's Chromium with Playwright (imported
    here, never under eventlet), run ``journey(spec, browser) -> data`` and write RESULT.json
    (``{"ok": true, "data"}`` or ``{"ok": false, "error", "traceback"}``). -> the exit status."""
    import traceback

    result: dict
    try:
        spec = json.loads(Path(spec_path).read_text())
        from playwright.sync_api import expect, sync_playwright

        expect.set_options(timeout=timeout_ms)
        Path(spec["shots"]).mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=spec.get("chromium", "/usr/bin/chromium"),
                                         args=["--no-sandbox"])
            try:
                result = {"ok": True, "data": journey(spec, browser)}
            finally:
                browser.close()
    except BaseException as exc:  # noqa: BLE001  (every failure goes back to pytest, named)
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    Path(result_path).write_text(json.dumps(result))
    return 0 if result["ok"] else 1

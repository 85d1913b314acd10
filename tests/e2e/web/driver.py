"""Runs one browser journey in a plain Python process: ``python driver.py SPEC.json RESULT.json``.

The test suite monkey-patches eventlet before anything else, and Playwright's sync API does not run
under that; so pytest starts the stack, then runs this script (no eventlet imported here), bounded by
a subprocess timeout. SPEC.json: ``{"journey": "module.function", "base_url", "web_env", "chromium",
"axe", "shots", "params"}``. The journey is ``journeys/<module>.py::<function>(session)`` with
``session`` a :class:`journeys.common.Session`; what it returns is written to RESULT.json as
``{"ok": true, "data": ...}``, a failure as ``{"ok": false, "error", "traceback"}``.
"""
from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT_MS = 15_000


def main(spec_path: str, result_path: str) -> int:
    result: dict
    try:
        spec = json.loads(Path(spec_path).read_text())
        sys.path.insert(0, str(HERE))
        from journeys.common import Session
        from playwright.sync_api import expect, sync_playwright

        expect.set_options(timeout=TIMEOUT_MS)
        Path(spec["shots"]).mkdir(parents=True, exist_ok=True)
        module_name, function = spec["journey"].rsplit(".", 1)
        module = importlib.import_module(f"journeys.{module_name}")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=spec["chromium"], args=["--no-sandbox"])
            try:
                result = {"ok": True, "data": getattr(module, function)(Session(spec, browser))}
            finally:
                browser.close()
    except BaseException as exc:  # noqa: BLE001  (every failure goes back to pytest, named)
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    Path(result_path).write_text(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

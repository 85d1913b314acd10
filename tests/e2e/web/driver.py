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
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT_MS = 15_000


def main(spec_path: str, result_path: str) -> int:
    from confide.testing.browser import drive

    sys.path.insert(0, str(HERE))

    def journey(spec, browser):
        from journeys.common import Session

        module_name, function = spec["journey"].rsplit(".", 1)
        return getattr(importlib.import_module(f"journeys.{module_name}"), function)(Session(spec, browser))

    return drive(spec_path, result_path, journey, TIMEOUT_MS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

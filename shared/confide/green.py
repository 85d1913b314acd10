"""psycopg 3 under eventlet.

nameko runs every worker in an eventlet green thread. psycopg's default wait
function (the compiled ``wait_c`` of psycopg-binary, which we use for its
speed, or ``wait_poll``) blocks in a way eventlet's hub cannot see, so one slow
query would stall every worker of the service (measured: a 1 s query held a
50 ms ticker for 1.46 s). After ``eventlet.monkey_patch()``, ``select.select``
is green, and psycopg looks ``waiting.wait`` up at call time, so routing it to
``wait_select`` yields to the hub while the server works (ticker done at 0.46 s).
"""
from __future__ import annotations

import psycopg.waiting


def use_green_wait() -> None:
    """Route psycopg's waits through (patched) ``select.select``. Idempotent.

    Raises RuntimeError if eventlet has not patched ``select`` yet: calling this
    too early would silently keep the blocking wait.
    """
    import eventlet.patcher

    if not eventlet.patcher.is_monkey_patched("select"):
        raise RuntimeError("eventlet.monkey_patch() must run before use_green_wait()")
    psycopg.waiting.wait = psycopg.waiting.wait_select


def is_green_wait() -> bool:
    """True when psycopg waits through ``wait_select``."""
    return psycopg.waiting.wait is psycopg.waiting.wait_select

"""``GET /health`` of the web front door: each dependency ok / degraded / down (:mod:`confide.health`).

Public (a load balancer or systemd watchdog asks it signed out): it names dependencies and short
reasons only, never a URI, a credential, a person or a record; ``no-store`` like every answer.

- ``broker``: a fresh connection as the ``web`` broker user; required.
- ``web_database``: the web's own database (accounts, sessions); required: nobody signs in without it.
- ``database``: the event store, as the audit service's ``health`` RPC finds it (asked as the
  service ``web``); required; down when the audit service cannot be asked.
- ``directory``: required (every signed-in request's session policy asks it);
  ``notes``, ``disclosures``, ``audit``: optional (their pages answer 503 while the rest works).
"""
from __future__ import annotations

import time
from typing import Optional

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from confide import config, health
from web.rpc import BROKER_USER, service_rpc

SERVICES = {"directory": True, "notes": False, "disclosures": False, "audit": False}


def _web_database() -> Optional[str]:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return type(exc).__name__
    return None


def _event_store() -> Optional[str]:
    try:
        with service_rpc(timeout=health.PROBE_TIMEOUT) as rpc:
            reply = rpc.audit.health()
    except Exception as exc:  # UnknownService, RpcTimeout, a refused connection
        return type(exc).__name__
    return health.event_store_reason(reply)


def _timed(name: str, probe) -> health.Check:
    started = time.monotonic()
    reason = probe()
    return health.timed(name, time.monotonic() - started, reason)


def checks() -> list[health.Check]:
    try:
        uri = config.amqp_uri(BROKER_USER)
    except RuntimeError:  # no broker password on file: nothing can be asked
        found = [health.Check("broker", health.DOWN, "not configured")] + [
            health.Check(name, health.DOWN, "broker not configured", required) for name, required in SERVICES.items()]
    else:
        found = health.probe_broker(uri, SERVICES, ssl=config.amqp_ssl())
    return found[:1] + [_timed("web_database", _web_database), _timed("database", _event_store)] + found[1:]


@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    status, body = health.summarise(checks(), instance=config.instance("web"))
    return JsonResponse(body, status=status)

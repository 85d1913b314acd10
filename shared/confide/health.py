"""Health per dependency: ``ok``, ``degraded`` or ``down``, and what the whole adds up to.

A front door (the gateway's ``GET /health``, the web app's ``/health``) lists each thing it needs:
the broker, the database (as the audit service finds it), each service it calls. A service counts
as up when its RPC queue ``rpc-<name>`` has a consumer (a durable queue with none holds requests
that nobody answers); degraded when requests pile up there or an answer was slow; down when the
queue has no consumer or does not exist. :func:`summarise` gives HTTP 503 when a required
dependency is down, else 200 with ``status`` ``ok`` or ``degraded``. Details are short reasons
(an exception's type name), never a URI, a credential or any clinical content.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

OK, DEGRADED, DOWN = "ok", "degraded", "down"
#: requests waiting on a service's RPC queue beyond which it counts as degraded (it is not keeping up)
BACKLOG = 20
#: seconds beyond which a probe's answer counts as slow (degraded)
SLOW = 1.0
PROBE_TIMEOUT = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: Optional[str] = None
    required: bool = True

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "required": self.required}
        if self.detail:
            body["detail"] = self.detail
        return body


def summarise(checks: list[Check], instance: Optional[str] = None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): ``down``/503 when a required dependency is down; ``degraded``/200 when
    anything is not ok (an optional one down included); ``ok``/200 when all are ok. ``instance``:
    which replica answers (``CONFIDE_INSTANCE``, :func:`confide.config.instance`), in the body."""
    if any(c.required and c.status == DOWN for c in checks):
        overall = DOWN
    elif any(c.status != OK for c in checks):
        overall = DEGRADED
    else:
        overall = OK
    body: dict[str, Any] = {"status": overall, "dependencies": {c.name: c.as_dict() for c in checks}}
    if instance:
        body["instance"] = instance
    return 503 if overall == DOWN else 200, body


def event_store_reason(reply: Any) -> Optional[str]:
    """What the audit service's ``health()`` reply says of the event store: None when its database is
    ok, else why not (its own reason after ``unreachable: ``, or that the reply was not understood)."""
    status = reply.get("database") if isinstance(reply, dict) else None
    if status == "ok":
        return None
    if isinstance(status, str) and status.startswith("unreachable: "):
        return status[len("unreachable: "):]
    return "unexpected reply from the audit service"


def sealer_lease_reason(reply: Any) -> Optional[str]:
    """What the audit service's ``health()`` reply says of the sealer/relay lease: None when nothing
    is wrong, else who holds it instead of the audit service (sealing and relaying have stopped)."""
    usurped = reply.get("sealer_lease") if isinstance(reply, dict) else None
    return f"usurped: {usurped}" if isinstance(usurped, str) and usurped else None


def relay_reason(reply: Any) -> Optional[str]:
    """What the audit service's ``health()`` reply says of its sealing/relaying: None when its last
    pass completed, else ``halted: <error type>`` (nothing newer reaches the chain or the broker)."""
    halted = reply.get("relay") if isinstance(reply, dict) else None
    return halted if isinstance(halted, str) and halted else None


def timed(name: str, elapsed: float, reason: Optional[str], required: bool = True) -> Check:
    """A probe's outcome: down with ``reason``, degraded when it took longer than SLOW, else ok."""
    if reason:
        return Check(name, DOWN, reason, required)
    if elapsed > SLOW:
        return Check(name, DEGRADED, f"slow: {elapsed:.1f}s", required)
    return Check(name, OK, None, required)


def queue_check(name: str, consumers: int, waiting: int, required: bool = True) -> Check:
    """A service from its RPC queue's counts."""
    if consumers < 1:
        return Check(name, DOWN, "not running (no consumer on its queue)", required)
    if waiting > BACKLOG:
        return Check(name, DEGRADED, f"{waiting} requests waiting", required)
    return Check(name, OK, None, required)


def probe_broker(amqp_uri: str, services: dict[str, bool], ssl: Any = None,
                 timeout: float = PROBE_TIMEOUT) -> list[Check]:
    """The broker itself (a fresh, short-lived connection), then each of ``services`` (name →
    required) from its RPC queue. All services are down when the broker is."""
    from kombu import Connection

    started = time.monotonic()
    try:
        conn = Connection(amqp_uri, connect_timeout=timeout, ssl=ssl)
        # one try per node of a failover list (a cluster): a dead node is refused at once
        conn.ensure_connection(max_retries=max(1, amqp_uri.count(";")), timeout=timeout)
    except Exception as exc:
        reason = type(exc).__name__
        return [Check("broker", DOWN, reason)] + [
            Check(name, DOWN, f"broker unreachable: {reason}", req) for name, req in services.items()]
    try:
        checks = [timed("broker", time.monotonic() - started, None)]
        for name, required in services.items():
            channel = conn.channel()  # a failed passive declare closes its channel: one each
            try:
                _, waiting, consumers = channel.queue_declare(queue=f"rpc-{name}", passive=True)
            except Exception as exc:
                checks.append(Check(name, DOWN, f"not running ({type(exc).__name__})", required))
                continue
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
            checks.append(queue_check(name, consumers, waiting, required))
        return checks
    finally:
        conn.release()

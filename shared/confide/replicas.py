"""Several instances of each service on one machine: who they are, where they listen, and the
HAProxy configuration that keeps the gateway's and the web's usual addresses as the front doors.

``confide run --replicas N`` (or ``CONFIDE_REPLICAS=N``) starts N instances of each of
:data:`REPLICATED`. The RPC services need nothing more: every instance consumes the same RabbitMQ
queues (``rpc-notes``, ``audit.events``), so the broker hands each message to one of them
(competing consumers) and gives an unacknowledged one to another when its instance dies. The
directory stays one instance (the practice's membership, asked rarely; it restarts in seconds).

The two HTTP front doors cannot share a port, so with N > 1:

- replica ``i`` (0-based) of a front door whose address is ``host:P`` listens on
  ``host:P + offset + i`` (:func:`backend_address`; ``offset`` is ``CONFIDE_REPLICA_PORT_OFFSET``,
  default 100: the gateway's replicas on 8100, 8101, …, the web's on 8180, 8181, …);
- HAProxy listens on ``host:P`` itself (:func:`haproxy_config`) and balances round-robin over the
  replicas that answer ``GET /health``, every ``CHECK_INTERVAL``; a replica that stops answering
  (killed, hung) is out after ``FALL`` checks and a request refused by a dead replica is tried on
  another (``retries``, ``option redispatch``). ``/health`` answering 503 (a dependency every
  replica shares is down) keeps a replica in: it is alive, and its own answer says what is wrong.
- each replica is told the front door's URL, not its own: the gateway's ``CONFIDE_GATEWAY_URL``
  (client assertions name ``<front door>/oauth/token`` as their audience) and the web's
  ``CONFIDE_WEB_BASE_URL`` (CSRF's trusted origin), unless set already.

Each replica has a name (:attr:`Replica.name`: ``notes-1``, ``notes-2``; the service's name alone
when N is 1), given to it as ``CONFIDE_INSTANCE``: its log prefix under ``confide run``, its
health answer's ``instance``, the holder named when it takes the sealer's lease.

State that must not live in one process (a replay cache, a rate limit, a session) lives in the
database; see docs/replicas.md for what was moved and why.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

#: The services ``confide run --replicas N`` starts N of (the directory stays one).
REPLICATED = ("notes", "disclosures", "audit", "gateway", "web")
#: The front doors: service -> (environment variable of its address, default address).
FRONT_DOORS = {"gateway": ("CONFIDE_GATEWAY_ADDRESS", "127.0.0.1:8000"),
               "web": ("CONFIDE_WEB_ADDRESS", "127.0.0.1:8080")}
#: Each front door's environment variable for the public URL its replicas must name.
PUBLIC_URL_KEYS = {"gateway": "CONFIDE_GATEWAY_URL", "web": "CONFIDE_WEB_BASE_URL"}
PORT_OFFSET_KEY = "CONFIDE_REPLICA_PORT_OFFSET"
DEFAULT_PORT_OFFSET = 100
MAX_REPLICAS = 16
#: HAProxy's health checks: every CHECK_INTERVAL, out after FALL failures, back after RISE passes.
CHECK_INTERVAL, FALL, RISE = "2s", 2, 1


@dataclass(frozen=True)
class Replica:
    """One instance: ``service`` (its nameko name, or ``web``), ``index`` (0-based), ``name`` (its
    ``CONFIDE_INSTANCE``), ``address`` (where a front door's replica listens; None for the others)."""

    service: str
    index: int
    name: str
    address: str | None = None


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` -> (host, port). Raises ValueError for anything else."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a host:port address: {address!r}")
    return host, int(port)


def backend_address(front: str, index: int, offset: int = DEFAULT_PORT_OFFSET) -> str:
    """Where replica ``index`` of the front door on ``front`` listens: ``host:port + offset + index``.
    Raises ValueError for a bad address or a port past 65535."""
    host, port = split_address(front)
    backend = port + offset + index
    if not 0 < backend < 65536 or offset < 1:
        raise ValueError(f"replica {index} of {front} would listen on port {backend}")
    return f"{host}:{backend}"


def port_offset(env: Mapping[str, str]) -> int:
    """``CONFIDE_REPLICA_PORT_OFFSET`` (default 100). Raises ValueError naming it when not a positive number."""
    raw = (env.get(PORT_OFFSET_KEY) or "").strip() or str(DEFAULT_PORT_OFFSET)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{PORT_OFFSET_KEY}: expected a positive whole number, got {raw!r}")
    return int(raw)


def plan(services: Sequence[str], replicas: int, env: Mapping[str, str]) -> list[Replica]:
    """The instances to start: N of each of ``services`` in :data:`REPLICATED`, one of any other.
    With N == 1 every instance keeps its service's name and a front door its own address. Raises
    ValueError for N outside 1..16 or a bad address or offset."""
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"replicas: expected 1 to {MAX_REPLICAS}, got {replicas}")
    offset = port_offset(env)
    out: list[Replica] = []
    for service in services:
        count = replicas if service in REPLICATED else 1
        for i in range(count):
            name = service if count == 1 else f"{service}-{i + 1}"
            address = None
            if service in FRONT_DOORS and count > 1:
                address = backend_address(front_address(service, env), i, offset)
            out.append(Replica(service, i, name, address))
    return out


def front_address(service: str, env: Mapping[str, str]) -> str:
    """The front door's address (its environment variable, else its default)."""
    key, default = FRONT_DOORS[service]
    return env.get(key) or default


def replica_env(replica: Replica, base: Mapping[str, str], replicas: int, tls: bool = False) -> dict[str, str]:
    """``base`` plus what makes ``replica`` itself: ``CONFIDE_INSTANCE``, ``CONFIDE_REPLICAS`` and,
    for a front door's replica behind HAProxy, its own address and the front door's public URL
    (unless the operator set that URL). ``tls``: the front door serves HTTPS."""
    env = {**base, "CONFIDE_INSTANCE": replica.name, "CONFIDE_REPLICAS": str(replicas)}
    if replica.address is not None:
        key, _ = FRONT_DOORS[replica.service]
        front = front_address(replica.service, base)
        env[key] = replica.address
        url_key = PUBLIC_URL_KEYS[replica.service]
        if not env.get(url_key):
            env[url_key] = f"{'https' if tls else 'http'}://{front}"
    return env


def haproxy_config(fronts: Mapping[str, tuple[str, Sequence[Replica]]], tls: Mapping[str, bool] | None = None,
                   stats_socket: str | None = None) -> str:
    """HAProxy's configuration for ``fronts`` (service -> (front address, its replicas)).

    Plain HTTP front doors are balanced in ``mode http`` (a request at a time, round-robin); one
    serving HTTPS (``tls[service]``) in ``mode tcp``, the TLS passing through to the replicas, which
    hold the certificate, and checked over TLS without verifying it (loopback). Raises ValueError
    for a front door without replicas or with a bad address."""
    tls = tls or {}
    lines = [
        "# Rendered by confide (confide.replicas.haproxy_config); edits are overwritten.",
        "global",
        "    maxconn 4096",
    ]
    if stats_socket:
        lines.append(f"    stats socket {stats_socket} mode 600 level admin")
    lines += [
        "",
        "defaults",
        "    timeout connect 2s",
        "    timeout client 120s",
        "    timeout server 120s",
        "    timeout check 5s",
        "    retries 3",
        "    option redispatch",
        "",
    ]
    for service, (front, replicas) in fronts.items():
        if not replicas:
            raise ValueError(f"front door {service} has no replicas")
        host, port = split_address(front)
        secure = bool(tls.get(service))
        mode = "tcp" if secure else "http"
        lines += [
            f"frontend {service}",
            f"    mode {mode}",
            f"    bind {host}:{port}",
            f"    default_backend {service}_replicas",
            "",
            f"backend {service}_replicas",
            f"    mode {mode}",
            "    balance roundrobin",
            "    option httpchk",
            f"    http-check send meth GET uri /health ver HTTP/1.1 hdr Host {host}",
            # Alive and answering: 200, or 503 naming a dependency every replica shares.
            "    http-check expect rstatus ^(200|503)$",
            f"    default-server inter {CHECK_INTERVAL} fall {FALL} rise {RISE}"
            + (" check-ssl verify none" if secure else ""),
        ]
        for r in replicas:
            if r.address is None:
                raise ValueError(f"replica {r.name} has no address")
            split_address(r.address)
            lines.append(f"    server {r.name} {r.address} check")
        lines.append("")
    return "\n".join(lines) + "\n"

"""Calling the services from a request: nameko RPC with the person's assertion in context data.

    with rpc_for(request) as rpc:
        rpc.notes.read_note(...)

Every proxy is :class:`confide.rpc.ClusterRpcProxy` connecting to RabbitMQ as the broker user
``web`` (``confide.config.amqp_uri("web")``) and carries the web's own service assertion
(``confide_service``, :func:`confide.identity.provider.mint_service_assertion` with
``service-keys/web.key``). :func:`rpc_for` adds the signed-in person's assertion
(``confide_identity``, :func:`web.identity.assertion_for`), minted fresh for each ``with``;
:func:`service_rpc` calls on the web's own account (``record_sign_in_event``), optionally with a
member's assertion where the directory wants one (a SessionRevoked names who revoked).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest

from confide import config
from confide.identity.provider import identity_context
from web.identity import assertion_for, service_assertion

BROKER_USER = "web"


def nameko_config() -> dict[str, Any]:
    cfg: dict[str, Any] = {"AMQP_URI": config.amqp_uri(BROKER_USER), "serializer": "json"}
    ssl = config.amqp_ssl()
    if ssl is not None:
        cfg["AMQP_SSL"] = ssl
    return cfg


@contextmanager
def cluster(context_data: dict[str, str], timeout: float = 10.0) -> Iterator[Any]:
    from confide.rpc import ClusterRpcProxy

    with ClusterRpcProxy(nameko_config(), client=BROKER_USER, context_data=context_data, timeout=timeout) as rpc:
        yield rpc


@contextmanager
def rpc_for(request: HttpRequest, timeout: float = 10.0) -> Iterator[Any]:
    """A cluster proxy whose every call carries the signed-in person's assertion and the web's own."""
    with cluster(identity_context(assertion_for(request), service_assertion()), timeout) as rpc:
        yield rpc


@contextmanager
def service_rpc(timeout: float = 10.0, *, assertion: str | None = None) -> Iterator[Any]:
    """A cluster proxy calling as the service ``web`` (and as the person of ``assertion``, if given)."""
    with cluster(identity_context(assertion, service_assertion()), timeout) as rpc:
        yield rpc

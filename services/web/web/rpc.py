"""Calling the services from a request: nameko RPC with the person's assertion in context data.

    with rpc_for(request) as rpc:
        rpc.notes.read_note(...)

Each ``with`` mints a fresh assertion (:func:`web.identity.assertion_for`) and passes it as
``{"confide_identity": token}`` context data, which nameko carries on every call made while the
services handle the call. :func:`service_rpc` is the same with the web's own service credential
(``{"confide_service": token}``), for the directory look-ups it makes on its own account.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from web.identity import assertion_for, service_assertion

IDENTITY_KEY = "confide_identity"
SERVICE_KEY = "confide_service"


def nameko_config() -> dict[str, Any]:
    return {"AMQP_URI": settings.AMQP_URI, "serializer": "json"}


@contextmanager
def cluster(context_data: dict[str, str], timeout: float = 10.0) -> Iterator[Any]:
    from nameko.standalone.rpc import ClusterRpcProxy

    with ClusterRpcProxy(nameko_config(), context_data=context_data, timeout=timeout) as rpc:
        yield rpc


@contextmanager
def rpc_for(request: HttpRequest, timeout: float = 10.0) -> Iterator[Any]:
    """A nameko cluster proxy whose every call carries the signed-in person's assertion."""
    with cluster({IDENTITY_KEY: assertion_for(request), SERVICE_KEY: service_assertion()}, timeout) as rpc:
        yield rpc


@contextmanager
def service_rpc(timeout: float = 10.0) -> Iterator[Any]:
    """A nameko cluster proxy calling as the service ``web`` itself."""
    with cluster({SERVICE_KEY: service_assertion()}, timeout) as rpc:
        yield rpc

"""What every page shares: who may open it, one way to call a service, and how a refusal shows.

``call(request, "notes", "read_note", note_id, purpose="treatment")`` calls the service as the
signed-in person (their assertion and the web's own ride the call, :func:`web.rpc.rpc_for`) and
returns the result, or raises one of:

- :class:`ServiceRefused` (403): the service refused the caller (NotAuthenticatedError,
  NotAuthorizedError, AccessDeniedError) or a rule denied; ``reason`` is the service's own message.
- :class:`InvalidInput` (400): the service rejected the input (a ValidationError or another domain
  error: the message names the field); nothing was written.
- :class:`ServiceUnavailable` (503): the broker or the service could not be reached or did not answer.

:func:`service_errors` turns those into a page (``web/service_error.html``) with that status, so a
view may simply let them rise. Fail closed: an unknown failure is a 503, never an empty page.
"""
from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from web.identity import SESSION_ROLES

log = logging.getLogger(__name__)

#: Seconds to wait for a service's answer before the page says it cannot be reached.
RPC_TIMEOUT = 15.0
REFUSALS = frozenset({"NotAuthenticatedError", "NotAuthorizedError", "AccessDeniedError",
                      "NotAuthorError"})  # notes: only a note's author may revise or sign it


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: tuple[str, ...]
    id: str = ""


class ServiceError(Exception):
    status = 503

    def __init__(self, reason: str, exc_type: str = "") -> None:
        super().__init__(reason)
        self.reason, self.exc_type = reason, exc_type


class ServiceRefused(ServiceError):
    status = 403


class InvalidInput(ServiceError):
    status = 400


class ServiceUnavailable(ServiceError):
    status = 503


def session_roles(request: HttpRequest) -> list[str]:
    return list(request.session.get(SESSION_ROLES) or [])


def has_role(request: HttpRequest, *roles: str) -> bool:
    return bool(set(session_roles(request)) & set(roles))


def roles_required(*roles: str) -> Callable:
    """Sign-in required, and one of ``roles`` held in this session (else 403). The services check
    again: this only keeps people off pages that would be refused anyway."""

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request, *roles):
                raise PermissionDenied(f"this page is for {', '.join(roles)}")
            return service_errors(view)(request, *args, **kwargs)

        return inner

    return wrap


def _remote_message(exc: Any) -> str:
    value = getattr(exc, "value", None) or str(exc)
    return str(value)[:500]


def call(request: HttpRequest, service: str, method: str, *args: Any, timeout: float = RPC_TIMEOUT,
         **kwargs: Any) -> Any:
    """``service.method(*args, **kwargs)`` as the signed-in person. Raises ServiceRefused,
    InvalidInput or ServiceUnavailable (module docstring)."""
    from nameko.exceptions import RemoteError

    from web.rpc import rpc_for

    try:
        with rpc_for(request, timeout=timeout) as rpc:
            return getattr(getattr(rpc, service), method)(*args, **kwargs)
    except RemoteError as exc:
        kind = exc.exc_type or "RemoteError"
        if kind in REFUSALS:
            log.info("%s.%s refused: %s", service, method, kind)
            raise ServiceRefused(_remote_message(exc), kind) from None
        if kind.endswith("Error") and kind not in ("UnexpectedError", "RemoteError"):
            log.info("%s.%s rejected the input: %s", service, method, kind)
            raise InvalidInput(_remote_message(exc), kind) from None
        log.error("%s.%s failed: %s", service, method, kind)
        raise ServiceUnavailable(f"the {service} service failed ({kind})", kind) from None
    except ServiceError:
        raise
    except Exception as exc:  # the broker or the service cannot be reached, or no answer in time
        log.error("%s.%s unreachable: %s", service, method, type(exc).__name__)
        raise ServiceUnavailable(f"the {service} service cannot be reached just now", type(exc).__name__) from None


def read_request_id() -> str:
    """A fresh id for one logical read (one page request): ``notes.read_note`` takes it as its
    idempotency key, so a redelivered or retried RPC message returns the decision already recorded
    instead of recording a second AccessDecided (issue 12, effects happen once)."""
    return str(uuid.uuid4())


def service_errors(view: Callable) -> Callable:
    """Render a ServiceError raised by ``view`` as ``web/service_error.html`` with its status."""

    @functools.wraps(view)
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ServiceError as exc:
            return render(request, "web/service_error.html",
                          {"status": exc.status, "reason": exc.reason, "kind": exc.exc_type}, status=exc.status)

    return inner

"""Who is asking, checked on every call: verify the assertions, then the directory (pure: no framework).

:class:`IdentityVerifier` holds what a service trusts (the front doors' assertion keys, the services'
own keys), the store it reads the directory from and records refusals in, and a short TTL cache of
directory look-ups. :meth:`IdentityVerifier.for_call` gives one call's :class:`CallIdentity`, which
verifies lazily when the handler asks (so a refusal is raised inside the entrypoint and reaches the
caller as an expected exception):

- :meth:`CallIdentity.principal`: the user's assertion (``confide_identity``) verified (signature
  by a trusted front-door key, audience ``confide-services``, an accepted issuer, lifetime), the
  calling service's assertion (``confide_service``) verified too when present, then the directory:
  a workforce subject enrolled, active and holding every role it claims now; a patient registered;
  a payer (``insurer``) registered and active.
- :meth:`CallIdentity.require`: the principal, holding one of the given roles.
- :meth:`CallIdentity.calling_service`: the calling service's verified identity, one of the names given.
- :meth:`CallIdentity.service_alone`: whether the call carries only a service's assertion (unverified),
  for the few entrypoints that answer a named service asking as itself as well as a person.

Every refusal appends ``AccessAttemptRefused`` (reason and ids, no content) to
``accessAttempt-<day>`` and then raises NotAuthenticatedError / NotAuthorizedError. The nameko
wiring is :mod:`confide.identity.provider`.

Replay: an assertion is *meant* to be presented more than once (nameko propagates it on every call
made while handling the call, and one page may make several), so no replay cache is used here; the
lifetime (<= 300 s, default 120 s) bounds reuse.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, Sequence

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from confide.contracts.directory import (
    AccessAttemptRefused,
    access_attempt_stream,
    member_as_of,
    patient_as_of,
    payer_as_of,
)
from confide.envelope import NewEvent
from confide.identity.assertions import AssertionRejectedError, Principal, verify
from confide.identity.errors import (
    IdentityError,
    NotAuthenticatedError,
    NotAuthorizedError,
    refuse_requester_in_payload,
    require,
)
from confide.identity.roles import WORKFORCE_ROLES
from confide.timestamps import format_ts

log = logging.getLogger(__name__)

AUDIENCE = "confide-services"
USER_ISSUERS = ("confide-web", "confide-gateway")
DEFAULT_TTL_SECONDS = 2.0
MAX_TTL_SECONDS = 5.0
IDENTITY_KEY = "confide_identity"
SERVICE_KEY = "confide_service"


class DirectoryStore(Protocol):
    """What the gate needs of the event store: read a stream, append a refusal."""

    def read_stream(self, stream_name: str, from_version: int = 0) -> list[Any]: ...

    def append(self, stream_name: str, events: Sequence[NewEvent], expected_version: int | None = None) -> Any: ...


class TtlCache:
    """``get(key, load)``: ``load()``'s value, reused for ``ttl`` seconds (monotonic clock)."""

    def __init__(self, ttl: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= ttl <= MAX_TTL_SECONDS:
            raise ValueError(f"directory cache TTL must be in 0..{MAX_TTL_SECONDS} s (a deactivation must bite fast)")
        self.ttl, self._monotonic = ttl, monotonic
        self._entries: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, load: Callable[[], Any]) -> Any:
        now = self._monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit and hit[0] > now:
                return hit[1]
        value = load()
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[key] = (now + self.ttl, value)
        return value


class IdentityVerifier:
    """A service's trust: ``user_keys`` ``{kid: key}`` (front doors), ``service_keys``
    ``{kid: (service name, key)}``, the ``store``, a ``clock`` (-> aware datetime) and the directory
    cache TTL (<= 5 s)."""

    def __init__(self, *, service: str, user_keys: Mapping[str, Ed25519PublicKey],
                 service_keys: Mapping[str, tuple[str, Ed25519PublicKey]], store: DirectoryStore,
                 clock: Callable[[], datetime], ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 issuers: Sequence[str] = USER_ISSUERS, audience: str = AUDIENCE,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.service, self.user_keys, self.service_keys = service, dict(user_keys), dict(service_keys)
        self.store, self.clock, self.issuers, self.audience = store, clock, tuple(issuers), audience
        self.cache = TtlCache(ttl_seconds, monotonic)

    def for_call(self, method: str, user_token: object = None, service_token: object = None) -> CallIdentity:
        return CallIdentity(self, method, user_token, service_token)

    # -- verification (raising AssertionRejectedError or IdentityError) ------------------------

    def verify_user(self, token: object, now: datetime) -> Principal:
        # Any of the front doors: one signature check, not one per issuer tried.
        return verify(token, public_keys=self.user_keys, audience=self.audience, issuer=self.issuers, now=now)

    def verify_service(self, token: object, now: datetime) -> Principal:
        try:
            kid = jwt.get_unverified_header(token).get("kid") if isinstance(token, str) else None
        except jwt.PyJWTError:
            kid = None  # verify() below names what is wrong
        if not isinstance(kid, str) or kid not in self.service_keys:
            raise NotAuthenticatedError("service assertion: signed by no known service key")
        name, key = self.service_keys[kid]
        principal = verify(token, public_keys={kid: key}, audience=self.audience, issuer=name, now=now)
        if principal.subject != name or principal.roles != ("service",):
            raise NotAuthenticatedError(f"service assertion: a {name} key may assert only {name} as a service")
        return principal

    def check_directory(self, p: Principal) -> None:
        """Raise NotAuthorizedError unless the directory backs every role ``p`` claims now."""
        if "service" in p.roles:
            raise NotAuthorizedError("a person's assertion may not carry the service role")
        workforce = [r for r in p.roles if r in WORKFORCE_ROLES]
        if workforce:
            member = self.cache.get(("member", p.subject), lambda: member_as_of(self.store, p.subject))
            if member is None:
                raise NotAuthorizedError(f"member {p.subject} is not enrolled in the directory")
            if not member.active:
                raise NotAuthorizedError(f"member {p.subject} is deactivated")
            missing = [r for r in workforce if r not in member.roles]
            if missing:
                raise NotAuthorizedError(f"role {', '.join(missing)} not granted to {p.subject} now")
        if "patient" in p.roles and self.cache.get(("patient", p.subject),
                                                   lambda: patient_as_of(self.store, p.subject)) is None:
            raise NotAuthorizedError(f"patient {p.subject} is not registered")
        if "insurer" in p.roles:
            payer = self.cache.get(("payer", p.org), lambda: payer_as_of(self.store, p.org))
            if payer is None:
                raise NotAuthorizedError(f"payer {p.org} is not registered")
            if not payer.active:
                raise NotAuthorizedError(f"payer {p.org} is deactivated")

    def record_refusal(self, method: str, reason: str, principal: Principal | None) -> None:
        """Append AccessAttemptRefused; a store failure is logged, never turned into a permit."""
        at = format_ts(self.clock())
        event = AccessAttemptRefused(service=self.service, method=method, reason=reason, at=at,
                                     subject=principal.subject if principal else None,
                                     session_id=principal.session_id if principal else None)
        try:
            self.store.append(access_attempt_stream(at), [NewEvent(event.type, event.to_data(), event_id=uuid.uuid4())])
        except Exception:
            log.exception("could not record AccessAttemptRefused for %s.%s", self.service, method)
        log.warning("refused %s.%s: %s", self.service, method, reason)


class CallIdentity:
    """One call's identity, verified on first use (see the module docstring). Refusals are recorded once."""

    def __init__(self, verifier: IdentityVerifier, method: str, user_token: object, service_token: object) -> None:
        self._v, self.method = verifier, method
        self._user_token, self._service_token = user_token, service_token
        self._principal: Principal | None = None
        self._service: Principal | None = None
        self._now: datetime | None = None

    def _refuse(self, error: IdentityError, principal: Principal | None = None) -> IdentityError:
        self._v.record_refusal(self.method, error.reason, principal)
        return error

    def _at(self) -> datetime:
        if self._now is None:
            self._now = self._v.clock()
        return self._now

    def _verified_service(self) -> Principal | None:
        if self._service is None and self._service_token is not None:
            try:
                self._service = self._v.verify_service(self._service_token, self._at())
            except AssertionRejectedError as exc:
                raise self._refuse(NotAuthenticatedError(f"service assertion: {exc.reason}")) from None
            except IdentityError as exc:
                raise self._refuse(exc) from None
        return self._service

    def principal(self) -> Principal:
        """The verified, directory-backed person or payer asking. Raises NotAuthenticatedError /
        NotAuthorizedError (recorded)."""
        if self._principal is not None:
            return self._principal
        service = self._verified_service()
        if self._user_token is None:
            raise self._refuse(NotAuthenticatedError(f"no identity assertion ({IDENTITY_KEY}) on the call"))
        try:
            p = self._v.verify_user(self._user_token, self._at())
        except AssertionRejectedError as exc:
            raise self._refuse(NotAuthenticatedError(f"identity assertion: {exc.reason}")) from None
        if p.acting_service and (service is None or service.subject != p.acting_service):
            raise self._refuse(NotAuthenticatedError(
                f"identity assertion names acting service {p.acting_service}, not the verified caller"), p)
        try:
            self._v.check_directory(p)
        except NotAuthorizedError as exc:
            raise self._refuse(exc, p) from None
        self._principal = p
        return p

    def require(self, *roles: str) -> Principal:
        """The principal, holding one of ``roles``. Raises NotAuthenticatedError / NotAuthorizedError (recorded)."""
        p = self.principal()
        try:
            return require(p, *roles)
        except NotAuthorizedError as exc:
            raise self._refuse(exc, p) from None

    def calling_service(self, *names: str) -> Principal:
        """The calling service's verified identity, one of ``names`` (any service when none are given)."""
        service = self._verified_service()
        if service is None:
            raise self._refuse(NotAuthenticatedError(f"no service assertion ({SERVICE_KEY}) on the call"))
        if names and service.subject not in names:
            raise self._refuse(NotAuthorizedError(
                f"service {service.subject} may not call this (only {', '.join(names)})"), service)
        return service

    def service_alone(self) -> bool:
        """True when the call carries a service's assertion and no user's: a service asking as itself.
        Nothing is verified here; the handler then asks :meth:`calling_service` for the names it allows."""
        return self._user_token is None and self._service_token is not None

    def refuse(self, reason: str) -> NotAuthorizedError:
        """A NotAuthorizedError for a refusal the service itself decides (e.g. "not the note's author"),
        recorded like the gate's own; the caller raises it."""
        return self._refuse(NotAuthorizedError(reason), self._principal)  # type: ignore[return-value]

    def refuse_requester_in_payload(self, payload: Any) -> None:
        """Raise NotAuthorizedError (recorded) when ``payload`` names a requester."""
        try:
            refuse_requester_in_payload(payload)
        except NotAuthorizedError as exc:
            raise self._refuse(exc, self._principal) from None

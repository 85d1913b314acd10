"""Identity assertions the front door mints for the services (``confide.identity.assertions``).

:func:`assertion_for` vouches for the signed-in person of a request: subject = their member or
patient id, roles = the session's roles (from the directory, narrowed by SSO groups), ``sid`` = a
digest of the session, ``auth_time`` and ``amr`` from how they signed in. :func:`service_assertion`
is the web's own credential (``sub`` ``web``, roles ``service``, the service key ``service-keys/web.key``).
A fresh assertion is minted per outgoing call; each lives at most ``ASSERTION_TTL_SECONDS`` (<= 300).
"""
from __future__ import annotations

import functools
from datetime import datetime, timezone

from django.conf import settings
from django.http import HttpRequest

from confide.identity.assertions import mint
from confide.identity.keys import ensure_assertion_keys, load_assertion_signing_key

SESSION_ROLES = "confide_roles"
SESSION_AUTH_TIME = "confide_auth_time"
SESSION_AMR = "confide_amr"


class NotSignedInError(Exception):
    """No signed-in person (with their second factor, for the workforce) to vouch for."""


@functools.lru_cache(maxsize=1)
def _signing_key(key_dir: str):
    ensure_assertion_keys(key_dir)
    return load_assertion_signing_key(key_dir)


def signing_key():
    return _signing_key(str(settings.KEY_DIR))


def amr_for(records: list[dict], idp_amr: list[str] | None = None) -> list[str]:
    """RFC 8176 methods from allauth's authentication records of this session: a password is
    ``pwd``, a TOTP or recovery code ``otp``, a security key ``hwk``; an SSO sign-in contributes the
    IdP's own ``amr`` (when it sends one). Two factors add ``mfa``; nothing known gives ``user``."""
    from confide.identity.assertions import AMR_VALUES

    out: list[str] = []
    for record in records:
        method = record.get("method")
        if method == "password":
            out.append("pwd")
        elif method == "mfa":
            out.append("hwk" if record.get("type") == "webauthn" else "otp")
        elif method == "socialaccount":
            out.extend(m for m in (idp_amr or []) if m in AMR_VALUES)
    out = list(dict.fromkeys(out))
    if "mfa" not in out and len(set(out) & {"pwd", "otp", "hwk", "swk", "sms"}) >= 2:
        out.append("mfa")
    return out or ["user"]


def assertion_for(request: HttpRequest, *, audience: str | None = None) -> str:
    """A fresh assertion for the person signed in on ``request``; raises NotSignedInError."""
    from web.middleware import session_is_complete

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not session_is_complete(request):
        raise NotSignedInError("no signed-in person with a complete sign-in on this request")
    roles = request.session.get(SESSION_ROLES) or []
    if not roles:
        raise NotSignedInError("the directory grants this person no role")
    now = datetime.now(timezone.utc)
    from web.directory import session_digest

    return mint(
        signing_key(),
        subject=user.get_username(),
        roles=roles,
        org=settings.ORG,
        session_id=session_digest(request.session.session_key) or "none",
        auth_time=datetime.fromtimestamp(request.session.get(SESSION_AUTH_TIME, now.timestamp()), timezone.utc),
        amr=request.session.get(SESSION_AMR) or ["pwd"],
        audience=audience or settings.ASSERTION_AUDIENCE,
        issuer=settings.ASSERTION_ISSUER,
        now=now,
        ttl_seconds=settings.ASSERTION_TTL_SECONDS,
    )


def service_assertion() -> str:
    """The web's own credential (``sub`` ``web``, roles ``service``, signed with ``service-keys/web.key``)
    for every call it makes; short-lived (``SERVICE_ASSERTION_TTL_SECONDS``)."""
    from confide.identity.provider import mint_service_assertion

    return mint_service_assertion(settings.KEY_DIR, "web")

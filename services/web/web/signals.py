"""Sign-in events to the directory (``directory.record_sign_in_event``), from Django's, allauth's
and django-axes' signals: signed in, failed, locked out, signed out, idle timeout, expired,
revoked. Never a password; an unrecognised username only as a digest."""
from __future__ import annotations

import logging
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils import timezone

from confide.identity.ids import InvalidIdentifierError, normalise_id
from web.directory import DirectoryUnavailableError, get_directory, sign_in_event
from web.identity import SESSION_AMR, SESSION_AUTH_TIME, SESSION_ROLES, amr_for
from web.middleware import (
    END_REASON_ATTR,
    SESSION_LAST_SEEN,
    SESSION_MFA_ENROLLED_HERE,
    SESSION_ROLES_AT,
    SESSION_STARTED,
)

log = logging.getLogger(__name__)
SESSION_IDP_AMR = "confide_idp_amr"


def _client(request: HttpRequest | None) -> dict[str, Any]:
    if request is None:
        return {}
    return {"ip_address": request.META.get("REMOTE_ADDR"), "user_agent": request.META.get("HTTP_USER_AGENT")}


def record(kind: str, request: HttpRequest | None = None, *, assertion: str | None = None, **fields: Any) -> None:
    """Send one sign-in event (``assertion``: the acting member's, for a revocation); a directory that
    cannot take it is logged as an error (the person's request still completes: refusing a sign-out
    because the recorder is down helps no one)."""
    try:
        get_directory().record_sign_in_event(sign_in_event(kind, **_client(request), **fields), assertion)
    except DirectoryUnavailableError as exc:
        log.error("sign-in event %s not recorded: %s", kind, exc)


def known_member(username: object) -> str | None:
    """The member id for a typed username when an account has it, else None (no enumeration in events)."""
    try:
        name = normalise_id(username, "username")
    except InvalidIdentifierError:
        return None
    return name if get_user_model().objects.filter(username=name).exists() else None


def on_logged_in(sender, request: HttpRequest, user, **kwargs) -> None:
    from allauth.account.authentication import get_authentication_records

    from web.models import SignedInSession

    now = time.time()
    records = get_authentication_records(request, user)
    amr = amr_for(records, request.session.get(SESSION_IDP_AMR))
    method = "sso" if any(r.get("method") == "socialaccount" for r in records) else "password"
    session = request.session
    session[SESSION_STARTED] = now
    session[SESSION_LAST_SEEN] = now
    session[SESSION_AUTH_TIME] = int(now)
    session[SESSION_AMR] = amr
    session[SESSION_ROLES_AT] = 0  # the next request asks the directory
    session.pop(SESSION_ROLES, None)
    session.save()
    SignedInSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={"user": user, "member_id": user.get_username(), "method": f"{method} ({'+'.join(amr)})",
                  "started_at": timezone.now(), "last_seen_at": timezone.now(),
                  "user_agent": (request.META.get("HTTP_USER_AGENT") or "")[:256],
                  "ip_address": request.META.get("REMOTE_ADDR") or None},
    )
    record("signed_in", request, member_id=user.get_username(), session_key=session.session_key,
           method=method, amr=amr)


def on_logged_out(sender, request: HttpRequest | None, user, **kwargs) -> None:
    from web.models import SignedInSession

    if user is None or request is None:
        return
    reason = getattr(request, END_REASON_ATTR, None) or "signed_out"
    key = request.session.session_key
    SignedInSession.objects.filter(session_key=key, ended_at__isnull=True).update(
        ended_at=timezone.now(), ended_reason=reason)
    kind = reason if reason in {"idle_timeout", "session_expired", "session_revoked", "deactivated_signed_out"} \
        else "signed_out"
    record(kind, request, member_id=user.get_username(), session_key=key,
           reason=None if kind == reason else reason)


def on_login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    typed = credentials.get("username") or credentials.get("login")
    member = known_member(typed)
    record("sign_in_failed", request, member_id=member, username=None if member else str(typed))


def on_locked_out(sender, request: HttpRequest | None = None, username: str | None = None, **kwargs) -> None:
    # axes' ``username`` is its counter's name, a keyed digest (web.lockout): the member is named from
    # what the form carried, as for a failed sign-in.
    posted = getattr(request, "POST", None) or {}
    typed = posted.get("login") or posted.get("username") or username
    member = known_member(typed)
    record("locked_out", request, member_id=member, username=None if member else str(typed))


def on_authenticator_added(sender, request: HttpRequest | None = None, user=None, **kwargs) -> None:
    if request is not None:
        # A valid code was just entered to activate it: this session has used the second factor.
        request.session[SESSION_MFA_ENROLLED_HERE] = True
        amr = [m for m in request.session.get(SESSION_AMR) or [] if m != "user"]
        request.session[SESSION_AMR] = list(dict.fromkeys([*amr, "otp", *(["mfa"] if amr else [])]))


def connect() -> None:
    from allauth.mfa.signals import authenticator_added
    from axes.signals import user_locked_out
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    user_logged_in.connect(on_logged_in, dispatch_uid="confide-web-logged-in")
    user_logged_out.connect(on_logged_out, dispatch_uid="confide-web-logged-out")
    user_login_failed.connect(on_login_failed, dispatch_uid="confide-web-login-failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="confide-web-locked-out")
    authenticator_added.connect(on_authenticator_added, dispatch_uid="confide-web-authenticator-added")

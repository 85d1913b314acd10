"""Session policy in one place: absolute lifetime, idle timeout, revocation, the directory's word
on who is still active and with which roles, the second factor a workforce account must have, and
``Cache-Control: no-store``."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from web.directory import DirectoryUnavailableError, get_directory
from web.identity import SESSION_AMR, SESSION_ROLES

log = logging.getLogger(__name__)

SESSION_STARTED = "confide_started"
SESSION_LAST_SEEN = "confide_last_seen"
SESSION_ROLES_AT = "confide_roles_at"
SESSION_SSO_ROLES = "confide_sso_roles"
SESSION_MFA_ENROLLED_HERE = "confide_mfa_enrolled_here"
END_REASON_ATTR = "_confide_end_reason"
ENDED_MESSAGES = {
    "idle_timeout": "You were signed out after {minutes} of inactivity.",
    "session_expired": "Your session reached its maximum length; please sign in again.",
    "session_revoked": "Your session was ended by a practice administrator.",
    "deactivated_signed_out": "Your account is not active in the practice directory.",
    "mfa_missing": "Please sign in again with your second factor.",
}


def _minutes(seconds: int) -> str:
    if seconds % 60:
        return f"{seconds} seconds"
    return "1 minute" if seconds == 60 else f"{seconds // 60} minutes"


def account_kind(user) -> str:
    from web.models import Account

    account = Account.objects.filter(user=user).first()
    return account.kind if account else Account.WORKFORCE  # unknown means the stricter rules


def has_second_factor(user) -> bool:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user, [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])


def session_is_complete(request: HttpRequest) -> bool:
    """Signed in, and for the workforce with a second factor used (or set up) in this session."""
    from web.models import Account

    user = request.user
    if not user.is_authenticated:
        return False
    if account_kind(user) == Account.PATIENT:
        return True
    if not has_second_factor(user):
        return False
    amr = request.session.get(SESSION_AMR) or []
    return bool({"otp", "hwk"} & set(amr)) or bool(request.session.get(SESSION_MFA_ENROLLED_HERE))


def end_session(request: HttpRequest, reason: str) -> HttpResponse:
    """Log the person out for ``reason`` (recorded by the logout signal) and send them to sign-in."""
    setattr(request, END_REASON_ATTR, reason)
    logout(request)
    text = ENDED_MESSAGES.get(reason, "You were signed out.").format(minutes=_minutes(settings.IDLE_TIMEOUT_SECONDS))
    messages.info(request, text)
    return redirect(f"{reverse('account_login')}?ended={reason}")


class SessionPolicyMiddleware:
    """Ends a session past its absolute lifetime or idle timeout, or whose member the directory no
    longer lists as active; refreshes the session's roles from the directory every
    ``ROLE_CACHE_SECONDS``. A directory that cannot be asked gets a 503, never a guess."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            response = self._check(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        from web.models import Account, SignedInSession

        session = request.session
        now = time.time()
        started = session.setdefault(SESSION_STARTED, now)
        last_seen = session.setdefault(SESSION_LAST_SEEN, now)
        if now - started > settings.SESSION_LIFETIME_SECONDS:
            return end_session(request, "session_expired")
        if now - last_seen > settings.IDLE_TIMEOUT_SECONDS:
            return end_session(request, "idle_timeout")
        record = SignedInSession.objects.filter(session_key=session.session_key).first()
        if record is not None and record.ended_at is not None:
            return end_session(request, "session_revoked")
        if now - session.get(SESSION_ROLES_AT, 0) > settings.ROLE_CACHE_SECONDS:
            if account_kind(request.user) == Account.PATIENT:
                session[SESSION_ROLES] = ["patient"]
            else:
                try:
                    member = get_directory().get_member(request.user.get_username())
                except DirectoryUnavailableError as exc:
                    log.error("directory unavailable; refusing the request: %s", exc)
                    return render(request, "web/refused.html", {
                        "title": "The practice directory cannot be reached",
                        "detail": "Nothing can be shown until it answers. Try again in a minute.",
                    }, status=503)
                if member is None or not member.get("active"):
                    return end_session(request, "deactivated_signed_out")
                roles = list(member.get("roles") or [])
                sso_roles = session.get(SESSION_SSO_ROLES)
                if sso_roles is not None:  # the IdP's groups narrow the directory's roles, never widen them
                    roles = [r for r in roles if r in sso_roles]
                session[SESSION_ROLES] = roles
                session["confide_member_name"] = member.get("name", "")
            session[SESSION_ROLES_AT] = now
        if request.path != reverse("web:idle_check"):  # the page's own timer is not activity
            session[SESSION_LAST_SEEN] = now
            if record is not None:
                SignedInSession.objects.filter(pk=record.pk).update(last_seen_at=timezone.now())
        return None


class RequireSecondFactorMiddleware:
    """A workforce account reaches nothing but setting up its second factor (and signing out) until
    it has one; one that has one but did not use it in this session is signed out."""

    ALLOWED_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/", "/session/idle-check")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from web.models import Account

        user = request.user
        if user.is_authenticated and account_kind(user) != Account.PATIENT and not session_is_complete(request):
            if has_second_factor(user):
                return end_session(request, "mfa_missing")
            if not request.path.startswith(self.ALLOWED_PREFIXES):
                return redirect("mfa_activate_totp")
        return self.get_response(request)


class NoStoreMiddleware:
    """Nothing the front door serves may be kept by a browser or proxy cache (PHI, CSRF tokens)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["Cache-Control"] = "no-store, max-age=0"
        response["Pragma"] = "no-cache"
        return response

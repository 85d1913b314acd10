"""Thin views: home, the enrolment page, the idle check, the practice admin's sessions page, and a
note author's "who has seen my notes" page (``audit.decisions_on_my_notes`` over RPC)."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from web.enrolment import EnrolmentError, complete_enrolment, find_enrolment
from web.forms import SetPasswordForm
from web.identity import SESSION_AMR, SESSION_ROLES, assertion_for
from web.models import SignedInSession
from web.signals import record

log = logging.getLogger(__name__)
#: Who writes notes, and so may ask who has seen them (the audit service checks again).
NOTE_AUTHOR_ROLES = ("clinician", "trainee", "supervisor")
SEEN_LIMIT = 200
#: Seconds to wait for the audit service before saying it cannot be reached.
AUDIT_TIMEOUT = 10.0


def _is_note_author(request: HttpRequest) -> bool:
    return bool(set(request.session.get(SESSION_ROLES) or []) & set(NOTE_AUTHOR_ROLES))


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html", {
        "member": {"member_id": request.user.get_username(), "name": request.session.get("confide_member_name", "")},
        "session_roles": request.session.get(SESSION_ROLES) or [],
        "amr": request.session.get(SESSION_AMR) or [],
        "is_note_author": _is_note_author(request),
    })


def _seen_row(row: dict) -> dict:
    """One decision for the page: its time parsed, and ``note_ids`` the author's own notes it
    concerned (the audit service names only hers; an older reply without them: its one ``note_id``)."""
    mine = row.get("note_ids")
    if not isinstance(mine, list):
        mine = [row["note_id"]] if row.get("note_id") else []
    return {**row, "note_ids": [str(n) for n in mine],
            "recorded_at": parse_datetime(row.get("recorded_at") or "") or row.get("recorded_at")}


@login_required
def notes_seen(request: HttpRequest) -> HttpResponse:
    """Every recorded access decision on the notes the signed-in author wrote, newest first: a read
    of one note, and a decision on several at once (a disclosure request, a patient's copy) naming
    the notes of hers it concerned, never anyone else's.

    The audit service decides whose notes they are from the person's assertion (never a parameter
    of this page). Fails closed: if the audit service cannot be asked or refuses, the page says so
    (503 or 403) and shows no table, never an empty one.
    """
    from nameko.exceptions import RemoteError

    from web.rpc import rpc_for

    if not _is_note_author(request):
        raise PermissionDenied("clinician, trainee or supervisor only")
    try:
        with rpc_for(request, timeout=AUDIT_TIMEOUT) as rpc:
            rows = rpc.audit.decisions_on_my_notes(limit=SEEN_LIMIT)
    except RemoteError as exc:
        if exc.exc_type in ("NotAuthenticatedError", "NotAuthorizedError"):
            log.warning("audit refused decisions_on_my_notes: %s", exc.exc_type)
            return render(request, "web/notes_seen.html", {"refused": True}, status=403)
        log.error("audit failed on decisions_on_my_notes: %s", exc.exc_type)
        return render(request, "web/notes_seen.html", {"unavailable": True}, status=503)
    except Exception as exc:  # the broker or the audit service cannot be reached, or no answer in time
        log.error("audit unreachable for decisions_on_my_notes: %s", type(exc).__name__)
        return render(request, "web/notes_seen.html", {"unavailable": True}, status=503)
    return render(request, "web/notes_seen.html", {"rows": [_seen_row(r) for r in rows], "limit": SEEN_LIMIT})


@login_required
def cli_assertion(request: HttpRequest) -> HttpResponse:
    """A signed-in member's identity assertion for the ``confide`` command (``--as-assertion-file``):
    minted only on a POST (CSRF-checked) from a complete sign-in (second factor for the workforce),
    valid a few minutes, never stored, shown with ``Cache-Control: no-store`` (the middleware)."""
    if request.method != "POST":
        return render(request, "web/cli_assertion.html", {"assertion": None})
    try:
        token = assertion_for(request)
    except Exception as exc:  # NotSignedInError and the like: no assertion, say why
        return render(request, "web/cli_assertion.html", {"assertion": None, "error": str(exc)}, status=403)
    return render(request, "web/cli_assertion.html",
                  {"assertion": token, "ttl_minutes": max(1, settings.ASSERTION_TTL_SECONDS // 60)})


def idle_check(request: HttpRequest) -> HttpResponse:
    """Where a page's idle timer leads: the session policy has signed the person out if the idle
    timeout has passed; otherwise (active in another tab) back home."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    return redirect("web:home")


#: The bench's baseline (bench/web_pages.py): a fixed page, no template, database or service behind it.
STATIC_BASELINE = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Confide</title></head>'
                   '<body><main><h1>Confide</h1><p>The practice\'s front door.</p></main></body></html>')


def static_baseline(request: HttpRequest) -> HttpResponse:
    """What this server and its middleware cost on their own (public: it says nothing), so a page's
    time can be read as a ratio to it. Same headers as every response (no-store, CSP)."""
    return HttpResponse(STATIC_BASELINE, content_type="text/html; charset=utf-8")


def password_reset(request: HttpRequest) -> HttpResponse:
    """In place of allauth's reset by email (every path under it): accounts have no email address;
    a practice administrator issues a new enrolment link instead."""
    return render(request, "web/password_reset.html")


def enrol(request: HttpRequest, token: str) -> HttpResponse:
    enrolment = find_enrolment(token)
    if enrolment is None:
        return render(request, "web/enrol.html", {"invalid": True}, status=404)
    from django.contrib.auth import get_user_model

    probe = get_user_model()(username=enrolment.member_id)
    form = SetPasswordForm(request.POST or None, user=probe)
    if request.method == "POST" and form.is_valid():
        try:
            complete_enrolment(token, form.cleaned_data["password1"])
        except EnrolmentError:
            return render(request, "web/enrol.html", {"invalid": True}, status=404)
        messages.info(request, "Your password is set. Sign in with it; next you will set up your second factor.")
        return redirect(f"{reverse('account_login')}?enrolled=1")
    return render(request, "web/enrol.html", {"enrolment": enrolment, "form": form})


def _require_admin(request: HttpRequest) -> None:
    if "practice_admin" not in (request.session.get(SESSION_ROLES) or []):
        raise PermissionDenied("practice_admin only")


def _active_sessions():
    """Sessions that can still be used: not ended, not past the idle timeout or the absolute
    lifetime (the session policy ends those on their next request), and still stored."""
    now = timezone.now()
    live = set(Session.objects.filter(expire_date__gt=now).values_list("session_key", flat=True))
    rows = SignedInSession.objects.filter(
        ended_at__isnull=True,
        last_seen_at__gt=now - timedelta(seconds=settings.IDLE_TIMEOUT_SECONDS),
        started_at__gt=now - timedelta(seconds=settings.SESSION_LIFETIME_SECONDS),
    ).order_by("-last_seen_at")
    return [s for s in rows if s.session_key in live]


@login_required
def sessions(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    return render(request, "web/sessions.html", {"sessions": _active_sessions(),
                                                  "current_key": request.session.session_key})


@login_required
@require_POST
def revoke_session(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    target = get_object_or_404(SignedInSession, pk=pk, ended_at__isnull=True)
    if target.session_key == request.session.session_key:
        messages.error(request, "Use Sign out to end your own session.")
        return redirect("web:sessions")
    Session.objects.filter(session_key=target.session_key).delete()
    SignedInSession.objects.filter(pk=target.pk).update(ended_at=timezone.now(), ended_reason="session_revoked",
                                                        ended_by=request.user.get_username())
    # The directory takes who revoked from the admin's own assertion, never from the payload.
    record("session_revoked", request, member_id=target.member_id, session_key=target.session_key,
           by=request.user.get_username(), assertion=assertion_for(request))
    messages.info(request, f"Session of {target.member_id} revoked.")
    return redirect("web:sessions")

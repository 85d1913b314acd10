"""Template context: the idle timer every signed-in page shows (warning, then the idle check)."""
from __future__ import annotations

import math
import time

from django.conf import settings
from django.http import HttpRequest

from web.identity import SESSION_ROLES
from web.middleware import SESSION_LAST_SEEN, session_is_complete
from web.pages import nav_for


def session_policy(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    last_seen = request.session.get(SESSION_LAST_SEEN, time.time())
    remaining = max(1, math.ceil(settings.IDLE_TIMEOUT_SECONDS - (time.time() - last_seen)))
    return {
        "idle_timeout_seconds": remaining,
        "idle_warning_seconds": settings.IDLE_WARNING_SECONDS,
        "idle_refresh_seconds": remaining + 1,
        "is_practice_admin": "practice_admin" in (request.session.get(SESSION_ROLES) or []),
        # No role links before the sign-in is complete (a workforce member still setting up TOTP
        # can open nothing else, so links would only lead back to the TOTP page).
        "nav_items": nav_for(request.session.get(SESSION_ROLES) or []) if session_is_complete(request) else [],
    }

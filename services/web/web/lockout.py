"""The username django-axes counts failures against.

allauth's sign-in form posts the username as ``login`` but authenticates with
``authenticate(request, username=..., password=...)``; axes reads ``credentials`` first, with one
field name for both. So the name is taken from the credentials' ``username`` when axes has them (the
backend check, the failed-sign-in signal) and from the form's ``login`` otherwise, in the canonical form every id in Confide has (the same visible name is the same
account's failures), kept only as its keyed digest (it may be a password typed in the wrong box)."""
from __future__ import annotations

from typing import Any, Optional

from confide.identity.ids import InvalidIdentifierError, normalise_id
from web.directory import username_digest


def username_of(request: Any, credentials: Optional[dict] = None) -> Optional[str]:
    raw: object = None
    if credentials:
        raw = credentials.get("username") or credentials.get("login")
    if raw is None and request is not None:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        raw = data.get("login") or data.get("username")
    if raw is None:
        return None
    try:
        name = normalise_id(raw, "username")
    except InvalidIdentifierError:
        name = str(raw)[:255]  # still counted: an invalid name is failures against that name
    # axes keeps this name in the web's database (AccessAttempt.username): what was typed may be a
    # password in the wrong box, so only its keyed digest (web.directory.username_digest) is kept.
    return "sha256:" + username_digest(name)

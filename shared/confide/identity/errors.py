"""The two refusals every service gives a caller, and the checks that raise them (pure).

Both carry ``reason`` naming what failed (which check, which role, which id); services list them in
``expected_exceptions`` so the caller gets them back as RemoteError ``exc_type``
``NotAuthenticatedError`` / ``NotAuthorizedError``. Neither ever carries request content.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from confide.identity.assertions import Principal

__all__ = ["IdentityError", "NotAuthenticatedError", "NotAuthorizedError", "REQUESTER_KEYS", "require",
           "refuse_requester_in_payload"]


class IdentityError(Exception):
    """Base of the identity refusals. ``reason`` says what failed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NotAuthenticatedError(IdentityError):
    """Who is asking is not proven: no assertion, or one that does not verify (forged, expired,
    wrong audience or issuer, unknown key) -- 45 CFR 164.312(d)."""


class NotAuthorizedError(IdentityError):
    """The caller is proven but may not do this: deactivated, a role not granted now, a role the
    method does not accept, or a payload naming a requester."""


#: Payload members that would let a caller name who is asking or acting (identity rides the call, never
#: the payload): docs/identity.md, "The RPC surface once every service verifies who is asking".
REQUESTER_KEYS = frozenset({"requester", "requester_id", "requested_by", "requester_role", "acting_as",
                            "on_behalf_of", "principal", "caller", "user", "user_id", "as_user",
                            "author", "author_id", "signed_by", "revised_by", "cosigned_by", "decided_by",
                            "verified_by", "revoked_by"})


def require(principal: Principal, *roles: str) -> Principal:
    """``principal`` if it holds at least one of ``roles``; raises NotAuthorizedError naming them otherwise."""
    if not roles:
        raise ValueError("require() needs at least one role")
    if not set(principal.roles) & set(roles):
        raise NotAuthorizedError(
            f"{principal.subject} holds {', '.join(sorted(principal.roles))}; this needs one of {', '.join(roles)}")
    return principal


def _requester_paths(value: Any, path: str = "") -> Iterable[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and key.lower() in REQUESTER_KEYS:
                yield name
            yield from _requester_paths(inner, name)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _requester_paths(inner, f"{path}.{i}" if path else str(i))


def refuse_requester_in_payload(payload: Any) -> None:
    """Raise NotAuthorizedError naming the first member of ``payload`` (at any depth) that names a
    requester (:data:`REQUESTER_KEYS`): who is asking comes from the verified assertion alone."""
    for found in _requester_paths(payload):
        raise NotAuthorizedError(f"payload names a requester ({found}); who is asking comes from the assertion")

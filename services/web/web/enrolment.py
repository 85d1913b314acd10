"""One-time enrolment links: how a person gets their first password (no default password exists).

:func:`create_enrolment_link` stores only the SHA-256 of a 256-bit random token, valid for
``ENROLMENT_TTL_SECONDS`` (24 h) and once. ``/enrol/<token>`` lets the person choose a password;
they then sign in and are taken to set up TOTP (a workforce account can do nothing else first).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from confide.identity.ids import normalise_id
from confide.identity.roles import check_roles


class EnrolmentError(Exception):
    """The link cannot be used: unknown, used, expired, or the account exists already."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_enrolment_link(member_id: str, roles: Iterable[str], *, check_directory: bool = True) -> str:
    """A one-time URL at which ``member_id`` sets their password; printed once, stored hashed.

    ``roles`` are what the enrolling admin intends (``["patient"]`` makes a patient account); the
    roles a session carries still come from the directory. With ``check_directory`` a workforce
    member must be listed there and active. Raises ValueError for a bad id or role, EnrolmentError
    when the directory does not list the member as active or an account exists already.
    """
    from web.models import Account, Enrolment

    member_id = normalise_id(member_id, "member_id")
    roles = list(check_roles(roles))
    kind = Account.PATIENT if roles == ["patient"] else Account.WORKFORCE
    if kind == Account.WORKFORCE and "patient" in roles:
        raise ValueError("a workforce account cannot also hold the patient role")
    if get_user_model().objects.filter(username=member_id).exists():
        raise EnrolmentError(f"{member_id} already has an account")
    if check_directory and kind == Account.WORKFORCE:
        from web.directory import get_directory

        member = get_directory().get_member(member_id)
        if member is None or not member.get("active"):
            raise EnrolmentError(f"the directory does not list {member_id} as an active member")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    Enrolment.objects.create(member_id=member_id, token_sha256=_digest(token), roles=roles, kind=kind,
                             created_at=now, expires_at=now + timedelta(seconds=settings.ENROLMENT_TTL_SECONDS))
    return f"{settings.BASE_URL}/enrol/{token}"


def withdraw_unused_links(member_id: str) -> int:
    """End every link of ``member_id`` not used yet (a new one replaces them); -> how many."""
    from web.models import Enrolment

    member_id = normalise_id(member_id, "member_id")
    now = timezone.now()
    return Enrolment.objects.filter(member_id=member_id, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now)


def has_account(member_id: str) -> bool:
    """Whether ``member_id`` has set a password already (an enrolment link cannot be issued then)."""
    return get_user_model().objects.filter(username=normalise_id(member_id, "member_id")).exists()


def find_enrolment(token: str):
    """The usable enrolment for ``token``, or None (unknown, used, or expired)."""
    from web.models import Enrolment

    enrolment = Enrolment.objects.filter(token_sha256=_digest(token)).first()
    if enrolment is None or enrolment.used_at is not None or enrolment.expires_at <= timezone.now():
        return None
    return enrolment


def complete_enrolment(token: str, password: str):
    """Create the account with ``password`` and spend the token; returns the user."""
    from web.models import Account, Enrolment

    with transaction.atomic():
        enrolment = Enrolment.objects.select_for_update().filter(token_sha256=_digest(token)).first()
        if enrolment is None or enrolment.used_at is not None or enrolment.expires_at <= timezone.now():
            raise EnrolmentError("this enrolment link cannot be used")
        User = get_user_model()
        if User.objects.filter(username=enrolment.member_id).exists():
            raise EnrolmentError(f"{enrolment.member_id} already has an account")
        user = User.objects.create_user(username=enrolment.member_id, password=password)
        Account.objects.create(user=user, kind=enrolment.kind, enrolled_roles=enrolment.roles)
        Enrolment.objects.filter(pk=enrolment.pk).update(used_at=timezone.now())
    return user

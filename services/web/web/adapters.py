"""allauth adapters: no self sign-up; SSO only for people already enrolled (unless an admin turned
on auto-provisioning), with the IdP's groups mapped to Confide roles."""
from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import render

from confide.identity.ids import InvalidIdentifierError, normalise_id
from confide.identity.roles import UnknownRoleError, check_roles


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        return False  # accounts come from enrolment links only

    def pre_authenticate(self, request, **credentials) -> None:
        """No allauth counter on the password form: django-axes counts and locks those failures
        (ACCOUNT_RATE_LIMITS['login_failed'] is on for the second-factor step only)."""
        return None

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """Setting up the *first* second factor right after signing in asks for nothing again (the
        workforce can reach nothing else until it is done, and the password was just typed); changing
        or removing an existing factor still needs a fresh reauthentication."""
        if app == "allauth.mfa":
            from allauth.core import context

            from web.middleware import has_second_factor

            user = getattr(context.request, "user", None)
            if user is not None and user.is_authenticated and not has_second_factor(user):
                return False
        return super().is_reauthentication_required(app=app, **kwargs)


def roles_from_groups(groups: object, mapping: dict[str, list[str]]) -> list[str]:
    """The Confide roles an IdP's groups claim maps to (unknown groups map to nothing)."""
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return []
    roles: list[str] = []
    for group in groups:
        for role in mapping.get(str(group), []):
            if role not in roles:
                roles.append(role)
    return list(check_roles(roles)) if roles else []


def _claims(sociallogin) -> dict:
    data = sociallogin.account.extra_data or {}
    merged: dict = {}
    for part in ("id_token", "userinfo"):
        if isinstance(data.get(part), dict):
            merged.update(data[part])
    return merged or dict(data)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return settings.OIDC_AUTO_PROVISION

    def _refuse(self, request, title: str, detail: str, username: str | None) -> None:
        from web.signals import known_member, record

        member = known_member(username) if username else None
        record("sso_refused", request, member_id=member, username=None if member else (username or "?"),
               reason=title)
        raise ImmediateHttpResponse(render(request, "web/refused.html", {"title": title, "detail": detail}, status=403))

    def pre_social_login(self, request, sociallogin) -> None:
        from web.middleware import SESSION_SSO_ROLES
        from web.signals import SESSION_IDP_AMR

        claims = _claims(sociallogin)
        raw = claims.get(settings.OIDC_USERNAME_CLAIM)
        try:
            username = normalise_id(raw, "username")
        except InvalidIdentifierError:
            self._refuse(request, "Your sign-in service did not say who you are",
                         f"The claim {settings.OIDC_USERNAME_CLAIM!r} is missing or not a valid id.", None)
            return
        try:
            roles = roles_from_groups(claims.get(settings.OIDC_GROUPS_CLAIM), settings.OIDC_ROLE_MAP)
        except UnknownRoleError as exc:
            self._refuse(request, "The group mapping names an unknown role", str(exc), username)
            return
        if not roles:
            self._refuse(request, "No Confide role for your groups",
                         "Your sign-in service's groups map to no role here. Ask a practice administrator.", username)
        user = get_user_model().objects.filter(username=username).first()
        if user is None and not settings.OIDC_AUTO_PROVISION:
            self._refuse(request, "You are not enrolled here",
                         "Signing in through your organisation works once a practice administrator has enrolled you.",
                         username)
        request.session[SESSION_SSO_ROLES] = roles
        amr = claims.get("amr")
        request.session[SESSION_IDP_AMR] = [m for m in amr if isinstance(m, str)] if isinstance(amr, list) else []
        if user is not None and not sociallogin.is_existing:
            # The first link of an IdP identity to an account needs the member's own proof: only an
            # account that already has its second factor is linked, so allauth's TOTP step (which runs
            # after SSO) asks for *their* code. Otherwise whoever the IdP calls by the member's id
            # (preferred_username is neither stable nor unique) could bind their own authenticator.
            if not _has_second_factor(user):
                self._refuse(request, "Set up your second factor first",
                             "Finish your enrolment link (password, then second factor) before signing in "
                             "through your organisation.", username)
            sociallogin.connect(request, user)

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        user.username = normalise_id(_claims(sociallogin).get(settings.OIDC_USERNAME_CLAIM), "username")
        return user


def _has_second_factor(user) -> bool:
    """Whether ``user`` has an authenticator of their own (TOTP) on file."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

"""allauth's authentication backend with the username matched exactly.

allauth's backend looks a username up case-insensitively (``__iexact``, because
``ACCOUNT_PRESERVE_USERNAME_CASING``), so ``ALICE`` signed in as ``alice`` while django-axes counted
its failures against ``ALICE``: every case variant of an id had its own five guesses. Ids in
Confide are case-sensitive (``normalise_id`` never folds case), so only the exact id is the account.
"""
from __future__ import annotations

from allauth.account.auth_backends import AuthenticationBackend
from django.contrib.auth import get_user_model


class ExactUsernameBackend(AuthenticationBackend):
    def _authenticate_by_username(self, username: str, password: str):
        if not username:
            return None
        user = get_user_model()._default_manager.filter(username=username).first()
        return self._check_password(user, password)

"""Forms: allauth's sign-in with the username normalised like every id in Confide, and the
enrolment page's password form."""
from __future__ import annotations

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms
from django.contrib.auth import password_validation

from confide.identity.ids import InvalidIdentifierError, normalise_id


class LoginForm(AllauthLoginForm):
    def clean_login(self) -> str:
        raw = self.cleaned_data["login"]
        try:
            return normalise_id(raw, "username")
        except InvalidIdentifierError:
            # The same answer as a wrong password: an invalid id tells an attacker nothing new.
            raise forms.ValidationError("The username and/or password you specified are not correct.") from None


class SetPasswordForm(forms.Form):
    password1 = forms.CharField(label="Password", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Password (again)", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            raise forms.ValidationError("The two passwords differ.")
        if p1:
            password_validation.validate_password(p1, self.user)
        return data

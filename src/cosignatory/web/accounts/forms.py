"""The accounts' forms: sign-in with a lockout, and a one-time code."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cosignatory.web.accounts import lockout


class LoginForm(AuthenticationForm):
    """Django's sign-in form, refusing a username locked by too many failed attempts."""

    error_messages = {  # noqa: RUF012 - Django reads it from the class
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed sign-in attempts for this username. Try again in 15 minutes."),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and lockout.locked_until(username) is not None:
            raise ValidationError(self.error_messages["locked"], code="locked")
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if username and error.code == "invalid_login" and lockout.record_failure(username):
                raise ValidationError(self.error_messages["locked"], code="locked") from None
            raise
        if username:
            lockout.clear(username)
        return cleaned


class CodeForm(forms.Form):
    """A six-digit code from the registrar's authenticator app."""

    code = forms.CharField(
        label=_("Code from your authenticator app"),
        min_length=6,
        max_length=8,
        help_text=_("Six digits; a new code appears every 30 seconds."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"}
        ),
    )

    def clean_code(self) -> str:
        code: str = self.cleaned_data["code"].replace(" ", "")
        if not code.isdigit():
            raise ValidationError(_("The code is made of digits only."), code="digits")
        return code

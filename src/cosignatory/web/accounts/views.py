"""Signing in and out, the second factor (TOTP), the password, and the account page.

Registrars must pass a second factor in every session before the desk lets them do
anything (:func:`cosignatory.web.accounts.roles.registrar_required`). The first time,
the two-factor page makes a TOTP device and shows its otpauth URI as a QR code (an SVG
``data:`` image, which the Content Security Policy allows) and the secret as text; a
code from the app confirms it. After that, a code verifies the session.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from cosignatory.web.accounts.forms import CodeForm, LoginForm
from cosignatory.web.accounts.models import RepresentativeAccount
from cosignatory.web.accounts.roles import REGISTRAR, ROLES, SIGNATORY, has_role


class LoginView(auth_views.LoginView):
    """Django's sign-in page with our template, and a limit on failed attempts."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        # A registrar goes straight on to the second factor the desk will ask for.
        if has_role(self.request.user, REGISTRAR):
            return reverse("accounts:two-factor") + "?next=" + reverse("desk:home")
        return str(super().get_default_redirect_url())


class LogoutView(auth_views.LogoutView):
    """Sign out (POST only, as Django requires), then back to the home page."""


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:home")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, _("Your password was changed."))
        return response


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in user's account: roles, representative, second factor, where to go."""
    user: Any = request.user
    link = RepresentativeAccount.objects.select_related("representative").filter(user=user).first()
    return render(
        request,
        "accounts/home.html",
        {
            "roles": [role for role in ROLES if has_role(user, role)],
            "registrar": has_role(user, REGISTRAR),
            "signatory": has_role(user, SIGNATORY),
            "representative": link.representative if link else None,
            "has_device": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
            "verified": user.is_verified(),
        },
    )


def _next_url(request: HttpRequest) -> str:
    """The safe place to go after the second factor: ``next`` if it is on this site."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("accounts:home")


def qr_data_uri(uri: str) -> str:
    """Return ``uri`` as a QR code in an SVG ``data:`` URI, for an ``<img src>``."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=4))


@never_cache  # the set-up page shows the TOTP secret
@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up the TOTP device (the first time), or verify this session with a code."""
    user: Any = request.user
    next_url = _next_url(request)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    setting_up = device is None
    if device is None:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            allowed, details = device.verify_is_allowed()
            if not allowed:
                wait = max(1, int((details or {}).get("locked_until", time.time()) - time.time()))
                form.add_error(
                    "code",
                    ngettext(
                        "Too many wrong codes: wait %(n)d second, then try again.",
                        "Too many wrong codes: wait %(n)d seconds, then try again.",
                        wait,
                    )
                    % {"n": wait},
                )
            elif device.verify_token(form.cleaned_data["code"]):
                if setting_up:
                    device.confirmed = True
                    device.save(update_fields=["confirmed"])
                otp_login(request, device)
                messages.success(
                    request,
                    _("Two-factor authentication is set up and this session is verified.")
                    if setting_up
                    else _("This session is verified."),
                )
                return redirect(next_url)
            else:
                form.add_error(
                    "code",
                    _(
                        "That code is not right or has expired. Check your device's clock "
                        "and enter the code shown now."
                    ),
                )
    context: dict[str, Any] = {
        "form": form,
        "next": next_url,
        "setting_up": setting_up,
        "verified": user.is_verified(),
    }
    if setting_up:
        context["qr"] = qr_data_uri(device.config_url)
        context["secret"] = base64.b32encode(device.bin_key).decode()
        context["otpauth"] = device.config_url
    return render(request, "accounts/two_factor.html", context, status=status)

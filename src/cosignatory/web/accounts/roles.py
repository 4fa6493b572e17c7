"""The roles of signed-in users, as Django groups, and the checks views use.

* ``registrar``: runs the register from the registrar's desk; must have passed a
  second factor (TOTP) in this session.
* ``signatory``: a representative signing, acceding and withdrawing in the browser
  for the parties they hold a current mandate for.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

REGISTRAR = "registrar"
SIGNATORY = "signatory"
ROLES = (REGISTRAR, SIGNATORY)

View = Callable[..., HttpResponse]


def has_role(user: AbstractBaseUser | AnonymousUser, role: str) -> bool:
    return bool(
        user.is_authenticated and user.groups.filter(name=role).exists()  # type: ignore[attr-defined]
    )


def grant_role(user: Any, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)


def _requires(role: str, second_factor: bool) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(user, role):
                raise PermissionDenied(f"this page is for the {role} role")
            if second_factor and not user.is_verified():  # type: ignore[attr-defined]
                from django.shortcuts import redirect
                from django.urls import reverse

                return redirect(f"{reverse('accounts:two-factor')}?next={request.get_full_path()}")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


registrar_required = _requires(REGISTRAR, second_factor=True)
"""For the registrar's desk: signed in, role ``registrar``, second factor passed."""

signatory_required = _requires(SIGNATORY, second_factor=False)
"""For browser signing: signed in with role ``signatory``."""

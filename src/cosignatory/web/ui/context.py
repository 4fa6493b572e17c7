"""What every page's template knows: the reader's language and its direction."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from cosignatory.web.accounts.roles import REGISTRAR, SIGNATORY, has_role
from cosignatory.web.ui.locale import direction, register_language


def site(request: HttpRequest) -> dict[str, Any]:
    lang = register_language()
    return {
        "register_lang": lang,
        "text_direction": direction(lang),
        "site_languages": settings.LANGUAGES,
        "is_registrar": has_role(request.user, REGISTRAR) if hasattr(request, "user") else False,
        "is_signatory": has_role(request.user, SIGNATORY) if hasattr(request, "user") else False,
    }

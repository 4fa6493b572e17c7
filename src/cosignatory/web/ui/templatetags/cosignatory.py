"""Template filters for every page: ``{% load cosignatory %}``.

* ``names|loc``: a name dictionary (``{"en": ..., "fr": ...}``) in the reader's language.
* ``value|day`` / ``value|moment`` / ``n|number``: dates, times and numbers per locale.
* ``text|markdown``: a letter's Markdown as sanitised HTML.
* ``code|langdir``: ``rtl`` or ``ltr`` for a register language code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from django import template
from django.utils.safestring import SafeString, mark_safe

from cosignatory.web.ui import locale
from cosignatory.web.ui.text import render_markdown

register = template.Library()


@register.filter
def loc(names: Mapping[str, str] | None) -> str:
    return locale.localised(names)


@register.filter
def loclang(names: Mapping[str, str] | None) -> str:
    """The language code of the name ``loc`` shows (for a ``lang`` attribute)."""
    return locale.language_of(names)


@register.filter
def day(value: date | datetime | None, fmt: str = "long") -> str:
    return locale.format_day(value, fmt=fmt)


@register.filter
def moment(value: datetime | None, fmt: str = "medium") -> str:
    return locale.format_moment(value, fmt=fmt)


@register.filter
def number(value: int | float | None) -> str:
    return "" if value is None else locale.format_number(value)


@register.filter
def markdown(text: str | None) -> SafeString:
    return mark_safe(render_markdown(text or ""))  # noqa: S308 - sanitised by nh3


@register.filter
def langdir(code: str) -> str:
    return locale.direction(code)


@register.filter
def langname(code: str) -> str:
    return locale.language_name(code)

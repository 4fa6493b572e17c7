"""The reader's language: register language codes, Babel locales, text direction.

The register stores names and texts under the six UN language codes of
:data:`cosignatory.core.events.LANGUAGES` (``zh`` for Chinese); Django's interface uses
``zh-hans``. Everything that turns one into the other lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from django.utils import translation

from cosignatory.core.events import LANGUAGES

RTL = frozenset({"ar"})


def register_language(django_code: str | None = None) -> str:
    """The register's code (``ar``, ``zh``, ``en``...) for a Django language code
    (default: the active one); English if it is not a UN language."""
    code = (django_code or translation.get_language() or "en").lower()
    base = code.split("-")[0]
    return base if base in LANGUAGES else "en"


def babel_locale(lang: str | None = None) -> Locale:
    """The Babel locale for a register language code (default: the active language)."""
    lang = lang or register_language()
    return Locale.parse("zh_Hans" if lang == "zh" else lang)


def direction(lang: str | None = None) -> str:
    """``rtl`` or ``ltr``: the direction text in ``lang`` runs."""
    return "rtl" if (lang or register_language()) in RTL else "ltr"


def localised(names: Mapping[str, str] | None, lang: str | None = None) -> str:
    """The name in the reader's language, else English, else the first UN language."""
    if not names:
        return ""
    lang = lang or register_language()
    for code in (lang, "en", *LANGUAGES):
        if names.get(code):
            return names[code]
    return next(iter(names.values()))


def language_of(names: Mapping[str, str] | None, lang: str | None = None) -> str:
    """The language code :func:`localised` picks from ``names``."""
    lang = lang or register_language()
    for code in (lang, "en", *LANGUAGES):
        if names and names.get(code):
            return code
    return lang


def format_day(value: date | datetime | None, lang: str | None = None, fmt: str = "long") -> str:
    """A date written the way the reader's locale writes it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, format=fmt, locale=babel_locale(lang))


def format_moment(value: datetime | None, lang: str | None = None, fmt: str = "medium") -> str:
    """A date and time (UTC) written the way the reader's locale writes them."""
    if value is None:
        return ""
    return format_datetime(value, format=fmt, tzinfo=UTC, locale=babel_locale(lang)) + " UTC"


def format_number(value: int | float, lang: str | None = None) -> str:
    """A number with the reader's locale's digits grouping."""
    return format_decimal(value, locale=babel_locale(lang))


def language_name(code: str, in_lang: str | None = None) -> str:
    """A register language's own name in the reader's language (e.g. "arabe")."""
    return babel_locale(code).get_display_name(babel_locale(in_lang)) or code

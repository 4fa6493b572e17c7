"""The interface's message catalogues (src/cosignatory/web/locale): complete, faithful to
the English placeholders, compiled from the current .po files, and used by the pages."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.test import Client
from django.utils.translation import to_locale

from cosignatory.web.register import demo

LOCALE = Path(__file__).resolve().parents[2] / "src" / "cosignatory" / "web" / "locale"

# Catalogue folder -> (Language header, number of plural forms).
LANGUAGES = {
    "ar": ("ar", 6),
    "zh_Hans": ("zh_Hans", 1),
    "fr": ("fr", 2),
    "ru": ("ru", 3),
    "es": ("es", 2),
}

PYTHON_FORMAT = re.compile(r"%(?:\([^)]+\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
BRACE_FORMAT = re.compile(r"\{[^{}]*\}")
TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def catalogue(folder: str) -> Catalog:
    with (LOCALE / folder / "LC_MESSAGES" / "django.po").open("rb") as f:
        return read_po(f)


def messages(folder: str) -> list[Message]:
    return [m for m in catalogue(folder) if m.id]


def forms(message: Message) -> list[str]:
    string = message.string
    if isinstance(string, str):
        return [string]
    return list(string or ())


def placeholders(text: str, flags: set[str]) -> Counter[str]:
    found: Counter[str] = Counter()
    if "python-format" in flags:
        found.update(p for p in PYTHON_FORMAT.findall(text) if p != "%%")
    if "python-brace-format" in flags:
        found.update(BRACE_FORMAT.findall(text))
    return found


def key(message: Message) -> tuple[str, ...]:
    return (message.id,) if isinstance(message.id, str) else tuple(message.id)


def label(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


# -- the files ------------------------------------------------------------------------------


def test_a_catalogue_for_every_language_but_english() -> None:
    codes = {to_locale(code) for code, _ in settings.LANGUAGES} - {"en"}
    assert codes == set(LANGUAGES)


@pytest.mark.parametrize("folder", LANGUAGES)
def test_header(folder: str) -> None:
    language, nplurals = LANGUAGES[folder]
    cat = catalogue(folder)
    headers = dict(cat.mime_headers)
    assert headers["Language"] == language
    # Babel lower-cases the charset; the file itself says UTF-8.
    raw = (LOCALE / folder / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    assert '"Content-Type: text/plain; charset=UTF-8\\n"' in raw
    assert cat.num_plurals == nplurals
    assert not cat.fuzzy


@pytest.mark.parametrize("folder", LANGUAGES)
def test_every_entry_translated_and_checked(folder: str) -> None:
    nplurals = LANGUAGES[folder][1]
    untranslated = [label(m) for m in messages(folder) if not all(forms(m))]
    fuzzy = [label(m) for m in messages(folder) if m.fuzzy]
    assert not untranslated, f"{folder}: untranslated: {untranslated[:5]}"
    assert not fuzzy, f"{folder}: fuzzy: {fuzzy[:5]}"
    wrong = [label(m) for m in messages(folder) if m.pluralizable and len(forms(m)) != nplurals]
    assert not wrong, f"{folder}: not {nplurals} plural forms: {wrong[:5]}"


@pytest.mark.parametrize("folder", LANGUAGES)
def test_translations_keep_the_placeholders(folder: str) -> None:
    bad = []
    for m in messages(folder):
        flags = set(m.flags)
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        # A plural form may follow the singular's placeholders (a form used for one
        # only, e.g. "in its one language") or the plural's.
        allowed = [placeholders(i, flags) for i in ids]
        tags = Counter(TAG.findall(ids[-1]))
        for form in forms(m):
            if placeholders(form, flags) not in allowed:
                bad.append((label(m), form))
            if Counter(TAG.findall(form)) != tags:
                bad.append((label(m), form))
    assert not bad, f"{folder}: {bad[:5]}"


@pytest.mark.parametrize("folder", LANGUAGES)
def test_mo_is_compiled_from_the_current_po(folder: str) -> None:
    with (LOCALE / folder / "LC_MESSAGES" / "django.mo").open("rb") as f:
        compiled = {key(m): tuple(forms(m)) for m in read_mo(f) if m.id}
    source = {key(m): tuple(forms(m)) for m in messages(folder) if not m.fuzzy}
    assert compiled == source, "run scripts/messages (or django-admin compilemessages)"


# -- the pages ------------------------------------------------------------------------------


def get(path: str, language: str) -> str:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(path)
    assert response.status_code == 200
    return str(response.content.decode())


@pytest.mark.parametrize(
    ("language", "html_tag", "words"),
    [
        ("fr", '<html lang="fr" dir="ltr">', ["Accueil", "Organes", "Parties", "Rechercher"]),
        ("es", '<html lang="es" dir="ltr">', ["Inicio", "Órganos", "Partes", "Buscar"]),
        ("ru", '<html lang="ru" dir="ltr">', ["Главная", "Органы", "Стороны", "Поиск"]),
        ("zh-hans", '<html lang="zh-hans" dir="ltr">', ["首页", "机构", "当事方", "检索"]),
        ("ar", '<html lang="ar" dir="rtl">', ["الصفحة الرئيسية", "الهيئات", "الأطراف"]),
    ],
)
def test_home_in_each_language(log: Any, language: str, html_tag: str, words: list[str]) -> None:
    html = get("/", language)
    assert html_tag in html
    for word in words:
        assert word in html, f"{language}: {word!r} missing"
    assert "Skip to content" not in html


@pytest.fixture
def demo_register(log: Any) -> Any:
    demo.load_demo()
    return log


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ["Signataires", "Téléchargements et vérifications", "Vérifier cette lettre"]),
        ("es", ["Signatarios", "Descargas y verificaciones", "Verificar esta carta"]),
        ("ru", ["Подписавшие стороны", "Загрузки и проверки", "Проверить это письмо"]),
        ("zh-hans", ["签署方", "下载和核查", "核查本信函"]),
        ("ar", ["الجهات الموقِّعة", "التنزيلات وعمليات التحقق", "التحقق من هذه الرسالة"]),
    ],
)
def test_letter_page_in_each_language(demo_register: Any, language: str, words: list[str]) -> None:
    html = get("/letters/demo-heritage/", language)
    for word in words:
        assert word in html, f"{language}: {word!r} missing"
    assert "Downloads and checks" not in html


def test_plural_forms_follow_the_language(demo_register: Any) -> None:
    # The demo's heritage letter has a handful of signatories: Russian and Arabic pick
    # their own form of the count, not the English one.
    html = get("/letters/demo-heritage/", "ru")
    assert re.search(r"\d+ подпис(?:авшая сторона|авшие стороны|авших сторон)", html)
    html = get("/letters/demo-heritage/", "ar")
    assert "عدد الجهات الموقِّعة:" in html

"""The UN's member and observer states, with names from CLDR (through Babel).

The expected names below were read from Babel 2.19.0's CLDR data; the counts and
statuses from the UN's lists of Member States and non-member States.
"""

from __future__ import annotations

import dataclasses
import unicodedata

import pytest

from cosignatory.core.states import LANGUAGES, State, UnknownStateError, all_states, state
from cosignatory.errors import CosignatoryError

BIDI_CONTROLS = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def test_193_members_and_2_observers() -> None:
    states = all_states()
    assert len(states) == 195
    assert sum(s.status == "member" for s in states) == 193
    assert {s.code for s in states if s.status == "observer"} == {"PSE", "VAT"}


def test_codes_are_unique_alpha3_and_sorted() -> None:
    codes = [s.code for s in all_states()]
    assert codes == sorted(set(codes))
    for code in codes:
        assert len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()


def test_alpha2_codes_are_unique() -> None:
    alpha2 = [s.alpha2 for s in all_states()]
    assert len(set(alpha2)) == len(alpha2)
    assert all(len(a) == 2 and a.isascii() and a.isupper() for a in alpha2)


def test_every_state_is_named_in_all_six_languages() -> None:
    assert LANGUAGES == ("ar", "zh", "en", "fr", "ru", "es")
    for s in all_states():
        assert tuple(s.names) == LANGUAGES
        assert all(name and name == name.strip() for name in s.names.values()), s.code


def test_names_hold_no_control_or_bidi_characters() -> None:
    for s in all_states():
        for name in s.names.values():
            assert not BIDI_CONTROLS.intersection(name), (s.code, name)
            assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in name), name
            assert unicodedata.is_normalized("NFC", name)


def test_france_in_six_languages() -> None:
    assert state("FRA") == State(
        code="FRA",
        alpha2="FR",
        status="member",
        names={
            "ar": "فرنسا",
            "zh": "法国",
            "en": "France",
            "fr": "France",
            "ru": "Франция",
            "es": "Francia",
        },
    )


@pytest.mark.parametrize(
    ("code", "alpha2", "en", "fr", "zh"),
    [
        ("CHN", "CN", "China", "Chine", "中国"),
        ("RUS", "RU", "Russia", "Russie", "俄罗斯"),
        ("GBR", "GB", "United Kingdom", "Royaume-Uni", "英国"),
        ("USA", "US", "United States", "États-Unis", "美国"),
        ("CIV", "CI", "Côte d’Ivoire", "Côte d’Ivoire", "科特迪瓦"),
        ("PRK", "KP", "North Korea", "Corée du Nord", "朝鲜"),
        ("KOR", "KR", "South Korea", "Corée du Sud", "韩国"),
        ("VAT", "VA", "Vatican City", "État de la Cité du Vatican", "梵蒂冈"),
        ("PSE", "PS", "Palestinian Territories", "Territoires palestiniens", "巴勒斯坦领土"),
    ],
)
def test_cldr_names(code: str, alpha2: str, en: str, fr: str, zh: str) -> None:
    s = state(code)
    assert (s.code, s.alpha2) == (code, alpha2)
    assert (s.names["en"], s.names["fr"], s.names["zh"]) == (en, fr, zh)


def test_other_spot_checks() -> None:
    assert state("PRK").names["ru"] == "КНДР"
    assert state("KOR").names["es"] == "Corea del Sur"
    assert state("CIV").names["ar"] == "ساحل العاج"
    assert state("SSD").status == "member"
    assert state("VAT").status == state("PSE").status == "observer"


@pytest.mark.parametrize("code", ["XXX", "fra", "FR", "", "TWN", "XKX", "ESH", "FRA\n"])
def test_unknown_code_raises(code: str) -> None:
    with pytest.raises(UnknownStateError) as info:
        state(code)
    assert info.value.code == "E_STATE_UNKNOWN"
    assert isinstance(info.value, CosignatoryError)
    assert isinstance(info.value, KeyError)
    assert "\n" not in str(info.value)


def test_all_states_is_cached() -> None:
    assert all_states() is all_states()
    assert state("FRA") is state("FRA")


def test_state_is_immutable_and_hashable() -> None:
    s = state("FRA")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.code = "DEU"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.names["en"] = "Gaul"  # type: ignore[index]
    assert {s, state("FRA")} == {s}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", "fra"),
        ("code", "FRAN"),
        ("alpha2", "F"),
        ("status", "candidate"),
        ("names", {"en": "France"}),
        ("names", {lang: "France" for lang in reversed(LANGUAGES)}),
        ("names", {lang: "" for lang in LANGUAGES}),
        ("names", {lang: "\u202eecnarF" for lang in LANGUAGES}),
        ("names", {lang: "Fr\nance" for lang in LANGUAGES}),
    ],
)
def test_state_checks_its_invariants(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(state("FRA"), **{field: value})  # type: ignore[arg-type]


def test_bidi_controls_would_be_stripped() -> None:
    # CLDR's names carry none today (see above); this checks the guard against a
    # release that adds some, e.g. a right-to-left mark in an Arabic name.
    from cosignatory.core.states import _clean

    assert _clean("\u200fفرنسا\u200e") == "فرنسا"
    assert _clean("\u2067France\u2069 ") == "France"

"""Names: hidden characters are refused with their position, look-alikes are found.

The core rules (:mod:`cosignatory.core.names` and the events that carry names) first,
then the registrar's warning on the desk, the JSON API and the command line, and the
escaping of hostile names on the public pages.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from cosignatory.core.errors import InvalidEventError
from cosignatory.core.events import Event
from cosignatory.core.names import (
    NameCharacterError,
    check_name,
    confusable_with,
    hidden_characters,
    mixed_scripts,
    skeleton,
)

AT = datetime(2019, 7, 8, 9, 30, tzinfo=UTC)
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
INVISIBLE = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad"
# Refused now, though the event schema let them into a log before (they must replay).
NEWLY_REFUSED = "\u180e\ufe0f\u3164\u034f\U000e0041\u2028\ue000"

# Letters of the six UN languages' scripts, and spaces: what names are made of.
letters = st.characters(
    categories=("Lu", "Ll", "Lo"),
    max_codepoint=0x9FFF,
    exclude_characters="\u3164\u115f\u1160\uffa0",
)
clean_names = st.text(letters, min_size=1, max_size=40).map(
    lambda text: unicodedata.normalize("NFC", text)
)
hidden = st.sampled_from(BIDI + INVISIBLE + NEWLY_REFUSED + "\x00\x1b\x7f\x85")


@pytest.mark.parametrize("char", BIDI + INVISIBLE)
def test_each_bidi_control_and_invisible_character_is_named_with_its_position(
    char: str,
) -> None:
    with pytest.raises(NameCharacterError) as caught:
        check_name(f"Fran{char}ce", "party name (en)")
    assert caught.value.code == "E_NAME_CHARACTER"
    assert f"U+{ord(char):04X}" in str(caught.value)
    assert "at position 5" in str(caught.value)


@given(clean_names, clean_names, hidden)
def test_a_hidden_character_anywhere_is_refused_and_located(
    before: str, after: str, char: str
) -> None:
    assert check_name(before) == before
    with pytest.raises(NameCharacterError) as caught:
        check_name(before + char + after)
    assert f"U+{ord(char):04X}" in str(caught.value)
    assert f"at position {len(before) + 1}" in str(caught.value)


@given(st.text(min_size=1, max_size=60))
def test_check_name_accepts_exactly_what_has_no_hidden_character(text: str) -> None:
    try:
        result = check_name(text)
    except NameCharacterError:
        assert hidden_characters(text)
    else:
        assert result == unicodedata.normalize("NFC", text)
        assert not hidden_characters(text)


def test_joiners_are_allowed_only_inside_words_of_scripts_that_need_them() -> None:
    persian = "\u0645\u06cc\u200c\u0631\u0632\u0627"  # ZWNJ inside a Persian word
    sinhala = "\u0dc1\u0dca\u200d\u0dbb\u0dd3"  # ZWJ for a Sinhala conjunct (Sri Lanka)
    assert check_name(persian) == persian
    assert check_name(sinhala) == sinhala
    for refused in ("Fran\u200dce", "\u200c\u0645\u06cc", "\u0645\u06cc\u200c", "a\u200c\u0645"):
        with pytest.raises(NameCharacterError):
            check_name(refused)


def test_names_are_normalised_to_nfc() -> None:
    decomposed = "Co\u0302te d'Ivoire"
    assert check_name(decomposed) == "Côte d'Ivoire"
    event = Event.make("representative.registered", AT, {"id": "r", "name": decomposed})
    assert event.data["name"] == "Côte d'Ivoire"


@pytest.mark.parametrize("char", NEWLY_REFUSED)
def test_new_events_meet_the_new_rule_but_logged_events_still_replay(char: str) -> None:
    name = f"Fran{char}ce"
    with pytest.raises(NameCharacterError):
        Event.make("representative.registered", AT, {"id": "r", "name": name})
    # An event the schema accepted before the rule, as it sits in a log:
    old = Event._checked("representative.registered", AT, {"id": "r", "name": name})
    key = Ed25519PrivateKey.generate()
    entry = old.sealed("registrar", key.sign(old.signed_bytes())).to_bytes()
    assert Event.from_bytes(entry).data["name"] == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize(
    ("type", "data"),
    [
        ("party.registered", {"id": "P", "kind": "person", "names": {"ru": "Анна\u202e"}}),
        ("body.created", {"id": "B", "names": {"en": "Coun\ufe0fcil"}, "symbol_root": "A"}),
        (
            "letter.created",
            {
                "id": "L",
                "title": {"en": "Letter"},
                "addressees": ["The President", "High\u2028Commissioner"],
                "lead_party": "P",
                "date": "2019-07-08",
            },
        ),
    ],
)
def test_every_name_field_of_a_new_event_is_checked(type: str, data: dict[str, object]) -> None:
    with pytest.raises(InvalidEventError) as caught:
        Event.make(type, AT, data)
    assert caught.value.code in ("E_NAME_CHARACTER", "E_EVENT_INVALID")
    assert "U+" in str(caught.value)


# -- look-alikes ---------------------------------------------------------------------------

CYRILLIC_FOR_LATIN = str.maketrans("aceopxyACEHKMOPTX", "асеорхуАСЕНКМОРТХ")


def test_a_cyrillic_a_in_france_is_confusable_with_france() -> None:
    existing = ["Germany", "France", "Frankreich", "Франция"]
    assert confusable_with("Fr\u0430nce", existing) == ["France"]
    assert confusable_with("FRANCE", existing) == ["France"]
    assert confusable_with("Fr ance", existing) == []
    assert confusable_with("Spain", existing) == []
    assert mixed_scripts("Fr\u0430nce") == ["CYRILLIC", "LATIN"]


@given(st.text(st.sampled_from("aceopxyACEHKMOPTXbdfgn "), min_size=1, max_size=30))
def test_latin_names_spelt_with_cyrillic_look_alikes_are_found(name: str) -> None:
    if not name.strip():
        return
    spoof = name.translate(CYRILLIC_FOR_LATIN)
    assert skeleton(spoof) == skeleton(name)
    assert confusable_with(spoof, ["Someone else", name]) == [name]


@given(clean_names)
def test_a_name_is_confusable_with_itself(name: str) -> None:
    assert confusable_with(name, ["Someone else", name, name]) == [name]


@pytest.mark.parametrize(
    "name", ["Côte d'Ivoire", "中国 China", "Российская Федерация", "المملكة العربية السعودية"]
)
def test_names_in_one_script_are_not_mixed(name: str) -> None:
    assert mixed_scripts(name) == []


def test_no_two_un_states_look_alike_and_none_has_a_hidden_character() -> None:
    from cosignatory.core.states import all_states

    seen: dict[str, str] = {}
    for state in all_states():
        for name in state.names.values():
            assert check_name(name) == name
            owner = seen.setdefault(skeleton(name), state.code)
            assert owner == state.code, f"{name} ({state.code}) looks like {owner}'s name"

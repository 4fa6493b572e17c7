"""Canonical JSON (RFC 8785 over NFC text) and the text hash a signature binds to."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator, Mapping

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from cosignatory.core.canonical import canonical_json, normalise, text_hash
from cosignatory.core.errors import InvalidEventError

# RFC 8785 §3.2.3 ("Sorting of Object Properties"): the input object and the expected
# output. The spec's U+FB33 key is left out here because NFC rewrites it (see below).
RFC8785_SORT_INPUT = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}
RFC8785_SORT_OUTPUT = (
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
    '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
    '"\U0001f600":"Emoji: Grinning Face"}'
).encode()

# RFC 8785 §3.2.2.2 (serialisation of strings) and §3.2.2.1 (literals), from the
# example in §3.2.2: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/".
RFC8785_STRING_INPUT = {
    "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
    "literals": [None, True, False],
}
RFC8785_STRING_OUTPUT = (
    '{"literals":[null,true,false],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
).encode()

SIX = {
    "ar": "نحن الموقعين أدناه",
    "zh": "我们，下列签署人",
    "en": "We, the undersigned",
    "fr": "Nous, soussignés",
    "ru": "Мы, нижеподписавшиеся",
    "es": "Nosotros, los abajo firmantes",
}


def test_rfc8785_property_sorting() -> None:
    assert canonical_json(RFC8785_SORT_INPUT) == RFC8785_SORT_OUTPUT


def test_rfc8785_sorts_by_utf16_code_units() -> None:
    # U+FF21 is above the surrogates in UTF-16, below U+1F600 in code points.
    assert canonical_json({"\uff21": 1, "\U0001f600": 2}) == '{"😀":2,"Ａ":1}'.encode()


def test_rfc8785_strings_and_literals() -> None:
    assert canonical_json(RFC8785_STRING_INPUT) == RFC8785_STRING_OUTPUT


def test_no_whitespace_and_nested_sorting() -> None:
    value = {"b": [3, {"z": 1, "a": None}], "a": {"d": True, "c": "x"}}
    assert canonical_json(value) == b'{"a":{"c":"x","d":true},"b":[3,{"a":null,"z":1}]}'


@pytest.mark.parametrize(
    ("number", "text"),
    [(0, b"0"), (-1, b"-1"), (10**15, b"1000000000000000"), (2**53 - 1, b"9007199254740991")],
)
def test_integers_are_written_in_full(number: int, text: bytes) -> None:
    assert canonical_json({"n": number}) == b'{"n":' + text + b"}"


@pytest.mark.parametrize("value", [2**53, -(2**53), 1.5, float("nan"), b"bytes", {1: "x"}, {"a"}])
def test_values_outside_the_signed_domain_are_refused(value: object) -> None:
    with pytest.raises(InvalidEventError):
        canonical_json({"n": value})


def test_keys_and_values_are_nfc_normalised() -> None:
    nfd = unicodedata.normalize("NFD", "soussignés")
    assert nfd != "soussignés"
    assert canonical_json({nfd: [nfd]}) == canonical_json({"soussignés": ["soussignés"]})
    assert normalise({"k": (nfd,)}) == {"k": ["soussignés"]}


def test_nfc_rewrites_the_rfc_example_composition_exclusion() -> None:
    # RFC 8785's U+FB33 key is not NFC: it becomes U+05D3 U+05BC and sorts there.
    out = canonical_json({**RFC8785_SORT_INPUT, "\ufb33": "Hebrew Letter Dalet With Dagesh"})
    text = out.decode()
    assert "\ufb33" not in text
    assert text.index("\u00f6") < text.index("\u05d3\u05bc") < text.index("\u20ac")


def test_text_hash_is_sha256_of_the_canonical_texts() -> None:
    expected = hashlib.sha256(b'{"en":"Hello","fr":"Bonjour"}').hexdigest()
    assert text_hash({"fr": "Bonjour", "en": "Hello"}) == expected


def test_text_hash_is_the_same_for_nfc_and_nfd() -> None:
    nfc = {lang: unicodedata.normalize("NFC", text) for lang, text in SIX.items()}
    nfd = {lang: unicodedata.normalize("NFD", text) for lang, text in SIX.items()}
    assert nfc != nfd
    assert text_hash(nfc) == text_hash(nfd)


def test_text_hash_normalises_line_endings() -> None:
    assert text_hash({"en": "a\r\nb\rc\n"}) == text_hash({"en": "a\nb\nc\n"})


@pytest.mark.parametrize("lang", sorted(SIX))
def test_text_hash_covers_every_language(lang: str) -> None:
    changed = {**SIX, lang: SIX[lang] + "."}
    assert text_hash(changed) != text_hash(SIX)
    without = {k: v for k, v in SIX.items() if k != lang}
    assert text_hash(without) != text_hash(SIX)


def test_text_hash_binds_each_text_to_its_language() -> None:
    assert text_hash({"en": "A", "fr": "B"}) != text_hash({"en": "B", "fr": "A"})


# -- the fast encoder against the reference ------------------------------------------------

# Text that reaches every case the two encoders could disagree on: control characters
# and escapes, characters on both sides of the surrogates (U+E000..U+FFFF sort after a
# surrogate pair in UTF-16, before it by code point), astral characters, lone
# surrogates (not UTF-8), and text that NFC rewrites.
_CHARS = st.one_of(
    st.characters(codec=None, max_codepoint=0x7F),
    st.sampled_from(["\x7f", "\u2028", "\ud800", "\udfff", "\ue000", "\uff21", "\ufb33"]),
    st.sampled_from(["e\u0301", "\U0001f600", "\U00010000", "\U0010ffff"]),
    st.characters(),
)
_TEXT = st.lists(_CHARS, max_size=6).map("".join)
_INTEGERS = st.one_of(
    st.integers(), st.sampled_from([2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 0, -1])
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), _INTEGERS, _TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=5)),
    max_leaves=20,
)


def _nfc(value: object) -> object:
    """Every string of ``value`` in NFC, the plainest way (the reference for normalise)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(key): _nfc(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_nfc(item) for item in value]
    return value


def _reference(value: object) -> bytes | str:
    """What the rfc8785 package makes of the normalised value, or that it refuses it."""
    try:
        return bytes(rfc8785.dumps(_nfc(value)))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return "refused"  # rfc8785 refuses a lone surrogate in a key with UnicodeEncodeError


@given(_JSON)
def test_normalise_is_nfc_of_every_string(value: object) -> None:
    assert normalise(value) == _nfc(value)


class _Text(str):
    """A str subclass, as a library's string type may be."""


class _Pairs(Mapping[str, object]):
    """A mapping that is not a dict."""

    def __init__(self, items: dict[str, object]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> object:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def test_normalise_takes_subclasses_and_other_containers() -> None:
    nfd = unicodedata.normalize("NFD", "é")
    value = _Pairs({_Text(nfd): (_Text(nfd), True, None, 3, [_Text("a")])})
    assert normalise(value) == {"é": ["é", True, None, 3, ["a"]]}
    assert canonical_json(value) == '{"é":["é",true,null,3,["a"]]}'.encode()


@given(_JSON)
def test_canonical_json_is_the_rfc8785_reference(value: object) -> None:
    try:
        found: bytes | str = canonical_json(value)
    except InvalidEventError:
        found = "refused"
    assert found == _reference(value)


def test_astral_keys_are_sorted_by_utf16_in_nested_objects() -> None:
    value = {"outer": [{"\U0001f600": 1, "\uff21": 2, "a": 3}]}
    assert canonical_json(value) == bytes(rfc8785.dumps(value))
    assert canonical_json(value).decode().index("\U0001f600") < canonical_json(
        value
    ).decode().index("\uff21")


@pytest.mark.parametrize(
    "value", [{"a": ["\ud800"]}, {"\udfff": 1}, {"a": [[2**53]]}, {"a": {"b": -(2**53)}}]
)
def test_nested_values_outside_the_domain_are_refused(value: object) -> None:
    with pytest.raises(InvalidEventError):
        canonical_json(value)

"""Safe names: no hidden characters, and a warning when one name looks like another.

A signatory list is read by people. A name that hides a right-to-left override can
show its letters in another order than they are stored, an invisible character can make
two stored names differ while they look the same, and "France" spelt with a Cyrillic
``U+0430`` for its "a" makes a second "France". So:

* :func:`check_name` refuses, in a new name, every character that is invisible or
  changes the direction of text (Unicode ``Cc``, ``Cf``, ``Co``, ``Cs``, ``Cn``, line
  and paragraph separators, and the Default_Ignorable code points of UAX #44 such as
  variation selectors and Hangul fillers), naming the character and its position.
  The one exception: ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER (U+200C, U+200D)
  between two letters of a script whose spelling needs them (Arabic, Syriac, Thaana,
  N'Ko, Mongolian and the Brahmic scripts of South and Southeast Asia), e.g. a Persian
  or Urdu name written in Arabic script, or a Sinhala name. Anywhere else they are
  refused. Names are normalised to NFC.
* :func:`confusable_with` returns the existing names that a new name could be mistaken
  for: the same "skeleton" per Unicode TR39 (section 4, confusable detection), as
  written, in capitals or in small letters, with runs of spaces as one.
  :func:`mixed_scripts` says when one word mixes scripts (Latin with Cyrillic). These
  are warnings for the registrar, never refusals of an event: two persons may rightly
  have the same name.

The confusable data is Unicode's ``confusables.txt`` as shipped in the
``confusable-homoglyphs`` package (no download at run time).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from cosignatory.core.errors import InvalidEventError, RegisterError

ZWNJ, ZWJ = "\u200c", "\u200d"

# UAX #44 Default_Ignorable_Code_Point ranges that are not already Cf or Cn: they
# render as nothing (variation selectors, Hangul fillers, Mongolian free variation
# selectors, the combining grapheme joiner, Khmer inherent vowels).
_IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
# Blocks of the scripts whose spelling uses ZWNJ/ZWJ between letters (Unicode
# chapter 23.2, "Layout Controls"): Arabic, Syriac, Thaana, N'Ko, the Indic blocks
# (Devanagari to Sinhala), Myanmar, Khmer, Mongolian, Arabic supplements and forms.
_JOINING_BLOCKS = (
    (0x0600, 0x07FF),
    (0x0860, 0x08FF),
    (0x0900, 0x0DFF),
    (0x1000, 0x109F),
    (0x1780, 0x18AF),
    (0xA8E0, 0xA8FF),
    (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFF),
)


class NameCharacterError(InvalidEventError):
    """A name holds a hidden or direction-changing character; nothing was recorded."""

    code = "E_NAME_CHARACTER"


class ConfusableNameError(RegisterError):
    """A new name looks like an existing one and the registrar did not confirm it."""

    code = "E_NAME_CONFUSABLE"


def _in(ranges: Iterable[tuple[int, int]], char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in ranges)


def _joins(before: str, after: str) -> bool:
    """Whether a joiner between ``before`` and ``after`` is spelling, not disguise."""
    return all(
        unicodedata.category(c)[0] in "LM" and _in(_JOINING_BLOCKS, c) for c in (before, after)
    )


def describe(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: how an error names a character."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"


def hidden_characters(name: str) -> list[tuple[int, str]]:
    """Return the (1-based position, character) of every character :func:`check_name`
    refuses in ``name`` (after NFC), in order."""
    text = unicodedata.normalize("NFC", name)
    found = []
    for index, char in enumerate(text):
        between = 0 < index < len(text) - 1
        if char in (ZWNJ, ZWJ) and between and _joins(text[index - 1], text[index + 1]):
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES or _in(_IGNORABLE, char):
            found.append((index + 1, char))
    return found


def check_name(value: str, what: str = "name") -> str:
    """Return ``value`` in NFC if it holds no hidden or direction-changing character.

    Raises NameCharacterError naming the first such character and its position.
    """
    bad = hidden_characters(value)
    if bad:
        position, char = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise NameCharacterError(
            f"{what} contains {describe(char)} at position {position}{more}: "
            "names may not hold invisible or text-direction characters"
        )
    return unicodedata.normalize("NFC", value)


# -- confusables (Unicode TR39) ----------------------------------------------------------


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Each confusable character's prototype: one member of its class of homoglyphs.

    ``confusable-homoglyphs`` lists, per character, the characters it is confusable
    with; the classes are their transitive closure (union-find), and each class's
    prototype is its smallest member that is ASCII if it has one (so U+0430 maps to "a").
    """
    from confusable_homoglyphs import confusables  # type: ignore[import-untyped]

    parent: dict[str, str] = {}

    def find(char: str) -> str:
        while parent.setdefault(char, char) != char:
            parent[char] = parent[parent[char]]
            char = parent[char]
        return char

    for char, glyphs in confusables.confusables_data.items():
        for glyph in glyphs:
            other = glyph["c"].replace("\u200e", "")  # the data wraps RTL glyphs in LRMs
            if len(char) == 1 and len(other) == 1:
                parent[find(other)] = find(char)
    classes: dict[str, list[str]] = {}
    for char in parent:
        classes.setdefault(find(char), []).append(char)
    table = {}
    for members in classes.values():
        prototype = min(members, key=lambda c: (not c.isascii(), ord(c)))
        for member in members:
            table[member] = prototype
    return table


def skeleton(name: str) -> str:
    """The TR39 skeleton of ``name`` (runs of spaces as one): two names with the same
    skeleton can be mistaken for each other.

    TR39 section 4: NFD, each character to its prototype, NFD again.
    """
    table = _prototypes()
    text = unicodedata.normalize("NFD", " ".join(name.split()))
    return unicodedata.normalize("NFD", "".join(table.get(char, char) for char in text))


def _skeletons(name: str) -> tuple[str, str, str]:
    """The skeletons of ``name`` as written, in capitals and in small letters.

    TR39 is case-sensitive, but a reader compares "DUP0NT" with "Dupont" too: the
    capitals' skeleton finds O/0, the small letters' finds l/I.
    """
    return skeleton(name), skeleton(name.upper()), skeleton(name.casefold())


def confusable_with(name: str, existing: Iterable[str]) -> list[str]:
    """Return the names in ``existing`` that ``name`` could be mistaken for (its own
    spelling included): one of their skeletons as written, in capitals or in small
    letters is the same. In their order, without repeats."""
    target = _skeletons(name)
    found: list[str] = []
    for other in existing:
        if other not in found and any(
            a == b for a, b in zip(target, _skeletons(other), strict=True)
        ):
            found.append(other)
    return found


# Scripts written together in one word for good reason (TR39 "Highly Restrictive").
_CJK = frozenset({"HAN", "HIRAGANA", "KATAKANA", "BOPOMOFO", "HANGUL"})
_NEUTRAL = frozenset({"COMMON", "INHERITED"})


def mixed_scripts(name: str) -> list[str]:
    """Return the scripts mixed in one word of ``name`` (e.g. ``["CYRILLIC", "LATIN"]``
    for "France" spelt with a Cyrillic U+0430), or an empty list.

    Latin with Chinese, Japanese or Korean scripts is not mixing (TR39 section 5.2).
    """
    from confusable_homoglyphs import categories

    for word in name.split():
        scripts = {categories.alias(char) for char in word} - _NEUTRAL
        if len(scripts) > 1 and not scripts <= _CJK | {"LATIN"}:
            return sorted(scripts)
    return []

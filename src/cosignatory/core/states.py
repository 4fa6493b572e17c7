"""The states that can be parties: the UN's 193 members and its two observer states.

A state is identified by its ISO 3166-1 alpha-3 code. Which codes are states is
written down here; everything else comes from Unicode CLDR through Babel: the
alpha-3 → alpha-2 mapping (CLDR's "overlong" territory aliases) and every name, in
the six official UN languages. No name is typed by hand, so a name is CLDR's
standard territory name even where the UN uses another form (CLDR's English name
for PS is "Palestinian Territories", for VA "Vatican City").

The data is built on first use and cached: reading six locales takes about a tenth
of a second.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from babel import Locale
from babel.core import get_global

from cosignatory.errors import CosignatoryError

__all__ = ["LANGUAGES", "State", "Status", "UnknownStateError", "all_states", "state"]

Status = Literal["member", "observer"]

#: The six official languages of the UN, in the UN's order, as language codes.
LANGUAGES: Final = ("ar", "zh", "en", "fr", "ru", "es")

# The CLDR locale each language's names are read from: Chinese as the UN writes it,
# in simplified characters.
_LOCALES: Final[Mapping[str, str]] = MappingProxyType(
    {"ar": "ar", "zh": "zh_Hans", "en": "en", "fr": "fr", "ru": "ru", "es": "es"}
)

# The 193 Member States, from the UN's list "Member States"
# (https://www.un.org/en/about-us/member-states), unchanged since South Sudan was
# admitted on 14 July 2011 (A/RES/65/308). Written as text, one line per initial
# letter, because a list literal would be formatted as 193 lines.
_MEMBER_CODES: Final = """
    AFG AGO ALB AND ARE ARG ARM ATG AUS AUT AZE
    BDI BEL BEN BFA BGD BGR BHR BHS BIH BLR BLZ BOL BRA BRB BRN BTN BWA
    CAF CAN CHE CHL CHN CIV CMR COD COG COL COM CPV CRI CUB CYP CZE
    DEU DJI DMA DNK DOM DZA
    ECU EGY ERI ESP EST ETH
    FIN FJI FRA FSM
    GAB GBR GEO GHA GIN GMB GNB GNQ GRC GRD GTM GUY
    HND HRV HTI HUN
    IDN IND IRL IRN IRQ ISL ISR ITA
    JAM JOR JPN
    KAZ KEN KGZ KHM KIR KNA KOR KWT
    LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA
    MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MOZ MRT MUS MWI MYS
    NAM NER NGA NIC NLD NOR NPL NRU NZL
    OMN
    PAK PAN PER PHL PLW PNG POL PRK PRT PRY
    QAT
    ROU RUS RWA
    SAU SDN SEN SGP SLB SLE SLV SMR SOM SRB SSD STP SUR SVK SVN SWE SWZ SYC SYR
    TCD TGO THA TJK TKM TLS TON TTO TUN TUR TUV TZA
    UGA UKR URY USA UZB
    VCT VEN VNM VUT
    WSM
    YEM
    ZAF ZMB ZWE
"""
_MEMBERS: Final = frozenset(_MEMBER_CODES.split())

# The two non-member observer States, from the UN's list "Non-member States"
# (https://www.un.org/en/about-us/non-member-states): the Holy See, and the State of
# Palestine (A/RES/67/19, 29 November 2012).
_OBSERVERS: Final = frozenset({"VAT", "PSE"})

# Bidirectional formatting characters (Unicode UAX #9): marks, embeddings, overrides
# and isolates. A name carrying one could reorder the text around it on a page.
_BIDI_CONTROLS: Final = frozenset(
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


class UnknownStateError(CosignatoryError, KeyError):
    """No state has this code. Also a :class:`KeyError`, as a failed look-up."""

    code = "E_STATE_UNKNOWN"


@dataclass(frozen=True, slots=True)
class State:
    """A state: its alpha-3 ``code``, its ``alpha2`` code, its UN ``status`` and ``names``.

    ``names`` maps each of :data:`LANGUAGES` to CLDR's name for the state in that
    language. Building a ``State`` checks these invariants and raises
    :class:`ValueError` if one fails.
    """

    code: str
    alpha2: str
    status: Status
    names: Mapping[str, str] = field(hash=False)

    def __post_init__(self) -> None:
        if not _is_upper_ascii(self.code, 3):
            raise ValueError(f"not an alpha-3 code: {self.code!r}")
        if not _is_upper_ascii(self.alpha2, 2):
            raise ValueError(f"not an alpha-2 code: {self.alpha2!r}")
        if self.status not in ("member", "observer"):
            raise ValueError(f"not a status: {self.status!r}")
        if tuple(self.names) != LANGUAGES:
            raise ValueError(f"names must be in exactly {LANGUAGES}, in that order")
        for name in self.names.values():
            if not name or not name.isprintable() or _BIDI_CONTROLS.intersection(name):
                raise ValueError(f"not a clean name: {name!r}")
        # A read-only copy, so that a frozen State cannot change through its names.
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))


@functools.cache
def all_states() -> tuple[State, ...]:
    """Return every state, members and observers, sorted by code."""
    return tuple(_by_code().values())


def state(code: str) -> State:
    """Return the state whose ISO 3166-1 alpha-3 code is ``code`` (upper case, exactly).

    Raises :class:`UnknownStateError` if no UN member or observer state has that code.
    """
    try:
        return _by_code()[code]
    except KeyError:
        raise UnknownStateError(f"no state has the code {code[:16]!r}") from None


@functools.cache
def _by_code() -> Mapping[str, State]:
    territories = {lang: Locale.parse(tag).territories for lang, tag in _LOCALES.items()}
    aliases = get_global("territory_aliases")
    states: dict[str, State] = {}
    for code in sorted(_MEMBERS | _OBSERVERS):
        # CLDR lists each alpha-3 code as an "overlong" alias of its alpha-2 code.
        (alpha2,) = aliases[code]
        states[code] = State(
            code=code,
            alpha2=alpha2,
            status="member" if code in _MEMBERS else "observer",
            names={lang: _clean(territories[lang][alpha2]) for lang in LANGUAGES},
        )
    return MappingProxyType(states)


def _clean(name: str) -> str:
    # CLDR names carry no bidi controls today; strip any a later release adds, so
    # that a name never reorders the text it is shown in.
    return "".join(c for c in name if c not in _BIDI_CONTROLS).strip()


def _is_upper_ascii(text: str, length: int) -> bool:
    return len(text) == length and text.isascii() and text.isalpha() and text.isupper()

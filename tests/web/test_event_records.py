"""The event index behind histories and feeds names the letter of every letter event."""

from __future__ import annotations

from typing import Any

from django.test import Client

from cosignatory.web.register import models as m
from cosignatory.web.register.demo import load_demo


def test_a_filed_dispute_is_in_its_letter_s_history(log: Any, client: Client) -> None:
    load_demo()
    dispute = m.Dispute.objects.get()
    record = m.EventRecord.objects.get(type="dispute.filed")
    assert record.letter_id == dispute.letter_id

    page = client.get(f"/letters/{dispute.letter_id}/history")
    assert page.status_code == 200
    assert "Signature disputed" in page.content.decode()

"""``cosignatory notices send`` delivers what is due, retries included."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from cosignatory.cli.main import main
from cosignatory.web.notices.models import OutboxMessage
from cosignatory.web.notices.services import enqueue


@pytest.mark.django_db(transaction=True)
def test_send_delivers_a_notice_whose_first_try_failed(
    capsys: pytest.CaptureFixture[str], smtp_server: Any
) -> None:
    smtp_server.stop()
    with transaction.atomic():
        enqueue(
            to="mission@example.org",
            subject="A notice",
            body="Body.",
            reference="log:1",
            kind="test",
        )
    message = OutboxMessage.objects.get()
    assert message.status == "pending"
    assert message.attempts == 1
    smtp_server.start()
    # Nothing is due yet: the retry waits for its time.
    assert main(["notices", "send", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 0
    OutboxMessage.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert main(["notices", "send", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 1
    assert [m["To"] for m in smtp_server.messages] == ["mission@example.org"]
    assert OutboxMessage.objects.get().status == "sent"


def test_send_refuses_a_bad_interval(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notices", "send", "--every", "0"]) == 1
    assert "--every" in capsys.readouterr().err

"""Email notices through the outbox, delivered to a real SMTP server on loopback:
sent after the commit, never when the transaction rolls back, retried with backoff when
the server is down, and never lost, doubled or blocking the event that caused them."""

from __future__ import annotations

import email
import threading
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from typing import Any

import pytest
from django.db import connections, transaction
from django.utils import timezone

from cosignatory.web.log.services import get_log
from cosignatory.web.notices.models import OutboxMessage
from cosignatory.web.notices.services import (
    LEASE,
    MAX_ATTEMPTS,
    DeliveryReport,
    _claim,
    deliver_pending,
    enqueue,
)
from tests.web.conftest import SMTPServer

pytestmark = pytest.mark.django_db(transaction=True)  # so on_commit hooks really run

SENDER = "register@cosignatory.example"


@pytest.fixture
def server(smtp_server: SMTPServer, settings: Any) -> SMTPServer:
    settings.DEFAULT_FROM_EMAIL = SENDER
    return smtp_server


def notice(n: int = 1, *, to: str = "mission@example.org", kind: str = "signature") -> Any:
    """Enqueue a notice of the event at log index ``n`` (the caller opens the transaction)."""
    return enqueue(
        to=to,
        subject=f"Signature recorded (event {n})",
        body=f"A signature for Côte d’Ivoire was recorded as event {n}.\n"
        "To dispute it: https://register.example/dispute/1\n",
        reference=f"log:{n}",
        kind=kind,
    )


def read(message: Message) -> EmailMessage:
    """Parse a received message with the modern policy (decoded headers and content)."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def row() -> OutboxMessage:
    return OutboxMessage.objects.get()


def test_a_notice_is_sent_after_the_commit(server: SMTPServer) -> None:
    with transaction.atomic():
        message = notice(7)
        assert message is not None
        assert server.messages == []  # nothing leaves before the commit
    assert len(server.messages) == 1
    received = read(server.messages[0])
    assert received["To"] == "mission@example.org"
    assert received["X-RcptTo"] == "mission@example.org"
    assert received["From"] == SENDER
    assert received["Subject"] == "Signature recorded (event 7)"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content() == (
        "A signature for Côte d’Ivoire was recorded as event 7.\n"
        "To dispute it: https://register.example/dispute/1\n"
    )
    sent = row()
    assert sent.status == OutboxMessage.Status.SENT
    assert sent.attempts == 1
    assert sent.sent_at is not None
    assert sent.last_error == ""
    assert received["Message-ID"].startswith(f"<notice.{sent.pk}.")


def test_all_notices_of_one_transaction_are_sent(server: SMTPServer) -> None:
    with transaction.atomic():
        for n, to in enumerate(["a@example.org", "b@example.org", "c@example.org"]):
            notice(n, to=to)
    assert sorted(read(m)["To"] for m in server.messages) == [
        "a@example.org",
        "b@example.org",
        "c@example.org",
    ]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_a_rolled_back_transaction_queues_and_sends_nothing(server: SMTPServer) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        notice()
        raise RuntimeError("the event failed after the notice was queued")
    with transaction.atomic():
        pass  # a later commit in this thread sends nothing either
    assert not OutboxMessage.objects.exists()
    assert server.messages == []
    assert deliver_pending(timezone.now() + timedelta(days=1)) == DeliveryReport()
    assert server.messages == []


def test_a_notice_in_a_rolled_back_savepoint_is_dropped(server: SMTPServer) -> None:
    with transaction.atomic():
        notice(1, to="kept@example.org")
        with pytest.raises(RuntimeError), transaction.atomic():
            notice(2, to="dropped@example.org")
            raise RuntimeError("an inner step failed")
    assert [read(m)["To"] for m in server.messages] == ["kept@example.org"]
    assert list(OutboxMessage.objects.values_list("to", flat=True)) == ["kept@example.org"]


def test_a_mail_failure_neither_blocks_nor_loses_the_event(
    server: SMTPServer, log_settings: Any
) -> None:
    log = get_log()
    log.initialise()
    server.stop()
    before = timezone.now()
    with transaction.atomic():
        index = log.append(b'{"kind":"sign"}').first_index
        notice(index)
    # The event committed; the notice waits for its next try.
    assert log.size() == 1
    waiting = row()
    assert waiting.status == OutboxMessage.Status.PENDING
    assert waiting.reference == f"log:{index}"
    assert waiting.attempts == 1
    assert waiting.next_attempt_at > timezone.now()
    assert waiting.next_attempt_at >= before + timedelta(minutes=1)
    assert "Connection refused" in waiting.last_error or "Errno" in waiting.last_error

    server.start()
    # Not due yet: nothing is sent.
    assert deliver_pending() == DeliveryReport()
    later = timezone.now() + timedelta(minutes=2)
    assert deliver_pending(later) == DeliveryReport(sent=1)
    assert deliver_pending(later + timedelta(days=1)) == DeliveryReport()
    assert len(server.messages) == 1
    sent = row()
    assert (sent.status, sent.attempts, sent.sent_at) == (OutboxMessage.Status.SENT, 2, later)


def test_enqueue_is_idempotent(server: SMTPServer) -> None:
    with transaction.atomic():
        first = notice(5)
        again = notice(5)
    with transaction.atomic():
        retried = notice(5)  # e.g. the whole transaction retried after an error
    assert first is not None and again is not None and retried is not None
    assert first.pk == again.pk == retried.pk
    assert OutboxMessage.objects.count() == 1
    assert len(server.messages) == 1
    # Another kind of notice of the same event to the same party is a message of its own.
    with transaction.atomic():
        notice(5, kind="withdrawal")
    assert OutboxMessage.objects.count() == 2
    assert len(server.messages) == 2


def test_no_address_no_notice(server: SMTPServer) -> None:
    with transaction.atomic():
        assert notice(to="") is None
    assert not OutboxMessage.objects.exists()
    assert server.messages == []


def test_enqueue_belongs_in_the_events_transaction(server: SMTPServer) -> None:
    with pytest.raises(transaction.TransactionManagementError):
        notice()
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"to": "not an address"},
        {"to": "a@example.org\nBcc: b@example.org"},
        {"subject": "Line one\r\nBcc: b@example.org"},
        {"reference": ""},
        {"kind": "k" * 65},
    ],
)
def test_enqueue_refuses_malformed_notices(server: SMTPServer, changes: dict[str, str]) -> None:
    arguments = {
        "to": "a@example.org",
        "subject": "subject",
        "body": "body",
        "reference": "log:1",
        "kind": "signature",
    } | changes
    with pytest.raises(ValueError), transaction.atomic():
        enqueue(**arguments)
    assert not OutboxMessage.objects.exists()


def test_retries_back_off_then_give_up(server: SMTPServer) -> None:
    server.stop()
    with transaction.atomic():
        notice()
    waits = []
    reports = []
    for _ in range(2, MAX_ATTEMPTS):  # tries 2 … 11
        message = row()
        now = message.next_attempt_at
        reports.append(deliver_pending(now))
        waits.append((row().next_attempt_at - now) // timedelta(minutes=1))
    # The first try, after the commit, waited 1 minute; then 2, 4 … capped at 6 hours.
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 360, 360]
    assert reports == [DeliveryReport(retried=1)] * (MAX_ATTEMPTS - 2)
    last = row().next_attempt_at
    assert deliver_pending(last) == DeliveryReport(failed=1)
    failed = row()
    assert failed.status == OutboxMessage.Status.FAILED
    assert failed.attempts == MAX_ATTEMPTS
    assert failed.last_error
    server.start()
    assert deliver_pending(last + timedelta(days=30)) == DeliveryReport()
    assert server.messages == []


def test_a_refused_recipient_does_not_hold_up_the_others(server: SMTPServer) -> None:
    server.refuse.add("gone@example.org")
    with transaction.atomic():
        notice(1, to="a@example.org")
        notice(2, to="gone@example.org")
        notice(3, to="b@example.org")
    assert sorted(read(m)["To"] for m in server.messages) == ["a@example.org", "b@example.org"]
    refused = OutboxMessage.objects.get(to="gone@example.org")
    assert refused.status == OutboxMessage.Status.PENDING
    assert refused.attempts == 1
    assert "550" in refused.last_error
    assert OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count() == 2


def test_a_claim_abandoned_by_a_dead_run_is_taken_again(server: SMTPServer) -> None:
    server.stop()
    with transaction.atomic():
        notice()
    server.start()
    now = row().next_attempt_at
    # A run claims the message and dies before sending or recording anything.
    assert [m.pk for m in _claim(now, 10, None)] == [row().pk]
    assert deliver_pending(now) == DeliveryReport()
    assert deliver_pending(now + LEASE - timedelta(seconds=1)) == DeliveryReport()
    assert deliver_pending(now + LEASE) == DeliveryReport(sent=1)
    assert len(server.messages) == 1
    assert row().attempts == 3


def test_concurrent_runs_send_each_message_once(server: SMTPServer) -> None:
    server.stop()
    count = 40
    with transaction.atomic():
        for n in range(count):
            notice(n, to=f"party{n}@example.org")
    server.start()
    due: datetime = timezone.now() + timedelta(minutes=5)
    threads = 4
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work() -> None:
        try:
            start.wait()
            while (report := deliver_pending(due, limit=3)) != DeliveryReport():
                reports.append(report)
        except BaseException as error:  # reported to the main thread
            errors.append(error)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert sum(r.sent for r in reports) == count
    assert sum(r.retried + r.failed for r in reports) == 0
    received = sorted(read(m)["To"] for m in server.messages)
    assert received == sorted(f"party{n}@example.org" for n in range(count))
    assert OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count() == count

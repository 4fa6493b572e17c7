"""Email notices through an outbox: enqueued inside the event's transaction, sent after it.

``enqueue`` writes an :class:`OutboxMessage` in the caller's transaction and, once that
transaction commits, tries to send the messages it enqueued. ``deliver_pending`` sends
whatever is due: new messages whose first try failed or never ran, and retries.

Delivery is at least once. Each run *claims* due rows in a short transaction (on
PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent runs take disjoint rows;
on SQLite the IMMEDIATE transaction serialises the claims), pushing their
``next_attempt_at`` out by a lease; it then sends with no database lock held and
records each result in its own short transaction. A run that dies mid-send leaves its
rows to be claimed again when the lease runs out. Every copy of one message carries the
same Message-ID, so a receiver can tell a repeat.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.process
import smtplib
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cosignatory.web.notices.models import OutboxMessage

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
# Longer than a batch can take to send, so a live run never loses its claim.
LEASE = timedelta(minutes=15)
# Sent from the committing thread, so it waits for this batch: the rest wait for a run.
AFTER_COMMIT_LIMIT = 100
_MAX_ERROR = 2000
_MAX_ADDRESS = 254  # the model's field lengths
_MAX_NAME = 64


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery run did: messages sent, to be retried, and given up on."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent, self.retried + other.retried, self.failed + other.failed
        )


def enqueue(*, to: str, subject: str, body: str, reference: str, kind: str) -> OutboxMessage | None:
    """Queue an email notice in the caller's transaction; send it after the commit.

    Call it inside the ``transaction.atomic()`` block that records the event. ``to`` is
    the party's registered contact address; if it is empty there is no one to tell and
    nothing is queued. Queuing the same ``(reference, to, kind)`` again returns the
    message already queued. The send after the commit is best effort: its errors are
    logged, never raised, and the message stays queued for :func:`deliver_pending`.

    Returns the queued message, or None if ``to`` is empty.
    Raises ``TransactionManagementError`` outside a transaction, and ``ValueError`` for
    an invalid address, a subject with a line break, or an empty or over-long
    ``reference`` or ``kind`` (all mistakes of the caller, not of the mail system).
    """
    if not to:
        return None
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError(
            "enqueue must run inside the transaction that records the event"
        )
    _check(to=to, subject=subject, reference=reference, kind=kind)
    message, _ = OutboxMessage.objects.get_or_create(
        reference=reference,
        to=to,
        kind=kind,
        defaults={"subject": subject, "body": body, "next_attempt_at": timezone.now()},
    )
    if message.status == OutboxMessage.Status.PENDING:
        _after_commit.ids.add(message.pk)
        # One hook per call; the first to run after the commit sends the whole batch.
        transaction.on_commit(_deliver_after_commit)
    return message


def deliver_all_due(now: datetime | None = None) -> DeliveryReport:
    """Run :func:`deliver_pending` until nothing due is left; return the sum."""
    total = DeliveryReport()
    while True:
        report = deliver_pending(now)
        total += report
        if report.sent + report.retried + report.failed == 0:
            return total


def delivery_loop(every: float = 60.0) -> None:
    """Deliver due notices every ``every`` seconds, for ever (the server's courier)."""
    from django.db import connections

    while True:
        try:
            deliver_all_due()
        except Exception:  # a failing run must never stop the loop
            logger.exception("delivering notices failed; trying again later")
        finally:
            connections.close_all()
        time.sleep(every)


def start_background_delivery(every: float = 60.0) -> multiprocessing.process.BaseProcess:
    """Deliver due notices every ``every`` seconds in a separate process (for the server).

    A process started afresh ("spawn"), not a thread of the server's master: gunicorn
    forks its workers from the master, and a fork taken while a thread holds a database
    driver's lock leaves the worker waiting on that lock for ever. The process is a
    daemon, so it ends with the server.
    """
    from cosignatory.web.notices import courier

    process = multiprocessing.get_context("spawn").Process(
        target=courier.main, args=(every,), name="notices", daemon=True
    )
    process.start()
    return process


def deliver_pending(now: datetime | None = None, limit: int = 100) -> DeliveryReport:
    """Send up to ``limit`` messages that are due at ``now`` (default: the present).

    A failed message is tried again after 1, 2, 4 … minutes, at most 6 hours apart,
    and given up on after ``MAX_ATTEMPTS`` tries. Must not run inside a transaction:
    the claim has to commit before anything is sent.

    Returns counts of the messages sent, left for a retry, and given up on.
    Raises only if the database fails; mail errors are recorded on the messages.
    """
    return _deliver(now or timezone.now(), limit, ids=None)


class _AfterCommit(threading.local):
    """Messages this thread has enqueued and not yet tried to send."""

    def __init__(self) -> None:
        self.ids: set[int] = set()


_after_commit = _AfterCommit()


def _deliver_after_commit() -> None:
    # Ids left behind by a rolled-back transaction name no row (ids are never reused)
    # or a row that is pending anyway, so draining them here is harmless.
    ids, _after_commit.ids = _after_commit.ids, set()
    if not ids:
        return
    try:
        _deliver(timezone.now(), AFTER_COMMIT_LIMIT, ids=ids)
    except Exception:
        logger.exception("sending notices after commit failed; they stay in the outbox")


def _check(*, to: str, subject: str, reference: str, kind: str) -> None:
    try:
        validate_email(to)
    except ValidationError:
        raise ValueError(f"not an email address: {to!r}") from None
    if len(to) > _MAX_ADDRESS:
        raise ValueError("email address too long")
    if "\n" in subject or "\r" in subject:
        raise ValueError("a subject is one line")
    for name, value in (("reference", reference), ("kind", kind)):
        if not value or len(value) > _MAX_NAME:
            raise ValueError(f"{name} must be 1 to {_MAX_NAME} characters")


def _deliver(now: datetime, limit: int, ids: Collection[int] | None) -> DeliveryReport:
    claimed = _claim(now, limit, ids)
    if not claimed:
        return DeliveryReport()
    report = DeliveryReport()
    backend = get_connection(fail_silently=False)
    broken: Exception | None = None
    try:
        backend.open()
    except Exception as error:
        broken = error
    try:
        for message in claimed:
            if broken is not None:
                # The connection failed: the rest of the batch waits for the next try.
                report += _record(message, now, broken)
                continue
            try:
                if backend.send_messages([_email(message)]) != 1:
                    raise smtplib.SMTPException("the mail backend sent nothing")
            except Exception as error:
                if not isinstance(
                    error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
                ):
                    broken = error  # no reply from the server: the connection is gone
                report += _record(message, now, error)
            else:
                report += _record(message, now, None)
    finally:
        with contextlib.suppress(Exception):
            backend.close()
    return report


def _claim(now: datetime, limit: int, ids: Collection[int] | None) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this run and commit the claim."""
    with transaction.atomic(durable=True):
        due = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now
        )
        if ids is not None:
            due = due.filter(pk__in=ids)
        claimed = list(due.order_by("next_attempt_at", "pk")[:limit])
        if claimed:
            OutboxMessage.objects.filter(pk__in=[m.pk for m in claimed]).update(
                attempts=F("attempts") + 1, next_attempt_at=now + LEASE
            )
    for message in claimed:
        message.attempts += 1
    return claimed


def _record(message: OutboxMessage, now: datetime, error: Exception | None) -> DeliveryReport:
    """Store the outcome of one try; ``error`` is None if the message was sent."""
    if error is None:
        changes: dict[str, object] = {
            "status": OutboxMessage.Status.SENT,
            "sent_at": now,
            "last_error": "",
        }
        outcome = DeliveryReport(sent=1)
    else:
        logger.warning(
            "notice %s (%s, try %d) not sent: %s",
            message.pk,
            message.reference,
            message.attempts,
            error,
        )
        changes = {"last_error": f"{type(error).__name__}: {error}"[:_MAX_ERROR]}
        if message.attempts >= MAX_ATTEMPTS:
            changes["status"] = OutboxMessage.Status.FAILED
            outcome = DeliveryReport(failed=1)
        else:
            changes["next_attempt_at"] = now + _backoff(message.attempts)
            outcome = DeliveryReport(retried=1)
    with transaction.atomic(durable=True):
        # The attempt count fences the claim: if the lease ran out and another run took
        # the message, that run's result is the one kept.
        OutboxMessage.objects.filter(
            pk=message.pk, attempts=message.attempts, status=OutboxMessage.Status.PENDING
        ).update(**changes)
    return outcome


def _backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed try: 1, 2, 4 … minutes, at most 6 hours."""
    return min(FIRST_RETRY * (1 << min(attempts - 1, 20)), LONGEST_RETRY)


def _email(message: OutboxMessage) -> EmailMessage:
    sender = settings.DEFAULT_FROM_EMAIL
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=sender,
        to=[message.to],
        headers={
            # RFC 3834: an automatic message; auto-responders should not answer it.
            "Auto-Submitted": "auto-generated",
            # The same on every try, so a repeated delivery can be recognised.
            "Message-ID": f"<notice.{message.pk}.{int(message.created.timestamp())}@{domain}>",
        },
    )

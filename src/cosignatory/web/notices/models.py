"""The outbox: one row per email notice. Only :mod:`cosignatory.web.notices.services`
writes it.

A row is written in the same transaction as the event it tells of, so a notice exists
if and only if its event does; sending happens later, outside that transaction.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class OutboxMessage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"  # failed permanently: no more attempts

    created = models.DateTimeField(auto_now_add=True)
    to = models.EmailField(max_length=254)
    subject = models.TextField()
    body = models.TextField()
    # What the notice is about, e.g. "log:1234" for the event at log index 1234.
    reference = models.CharField(max_length=64)
    kind = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "notices_outbox"
        constraints = (
            # Enqueuing is idempotent: a retried transaction cannot send a notice twice.
            # Its index, led by reference, also serves look-ups by reference.
            models.UniqueConstraint(fields=["reference", "to", "kind"], name="notices_outbox_once"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed"]),
                name="notices_outbox_status",
            ),
        )
        indexes = (
            # The queue of work: only pending rows, so sent history never slows the scan.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="notices_outbox_due",
            ),
        )

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} to {self.to} ({self.status})"

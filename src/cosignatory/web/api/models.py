"""The API's own tables: tokens and stored responses for idempotent retries.

Neither is part of the register: they are not events, not in the log, and not rebuilt
by ``cosignatory rebuild``. Only :mod:`.tokens` and :mod:`.idempotency` write them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is kept: the token itself is shown once."""

    class Role(models.TextChoices):
        REGISTRAR = "registrar"
        SIGNATORY = "signatory"

    name = models.CharField(max_length=64, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)  # lowercase hex SHA-256
    role = models.CharField(max_length=16, choices=Role.choices)
    party = models.CharField(max_length=64, null=True)  # a signatory token acts for this party
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True)
    last_used_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "api_token"
        constraints = (
            models.CheckConstraint(
                condition=Q(role__in=["registrar", "signatory"]), name="api_token_role"
            ),
            # A signatory token names its party; a registrar token names none.
            models.CheckConstraint(
                condition=Q(role="registrar", party__isnull=True)
                | Q(role="signatory", party__isnull=False),
                name="api_token_party",
            ),
        )

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"


class IdempotencyRecord(models.Model):
    """The response to a write made with an ``Idempotency-Key``, replayed on retry."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)  # SHA-256 of method, path and body
    status = models.PositiveSmallIntegerField()
    body = models.BinaryField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "api_idempotency"
        constraints = (
            models.UniqueConstraint(fields=["token", "key"], name="api_idempotency_once"),
        )

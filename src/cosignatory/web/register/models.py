"""The register's tables: projections of the log, written only by ``projector.py``.

Every row here can be rebuilt from the log (``cosignatory rebuild``), and must come
out identical. Nothing in them is deleted or rewritten by a later event except the
fields that record later facts (a withdrawal's time, a key's revocation).
"""

from __future__ import annotations

from django.db import models


class RegistrarKey(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    public_key = models.BinaryField()
    name = models.CharField(max_length=300)
    added_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True)


class Body(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    names = models.JSONField()
    symbol_root = models.CharField(max_length=40)
    symbol_format = models.CharField(max_length=100, null=True)


class Session(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    body = models.ForeignKey(Body, on_delete=models.PROTECT, related_name="sessions")
    number = models.PositiveIntegerField()
    names = models.JSONField()
    start = models.DateField()
    end = models.DateField()
    symbol_prefix = models.CharField(max_length=60)


class SeriesCounter(models.Model):
    """The last number used in a session's series: a number is never used twice."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT)
    series = models.CharField(max_length=10)
    last_number = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "series"], name="one_counter_per_series")
        ]


class Party(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    kind = models.CharField(max_length=20)
    names = models.JSONField()
    code = models.CharField(max_length=10, null=True)
    contact = models.CharField(max_length=320, null=True)
    members = models.JSONField(default=list)


class Representative(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=300)
    contact = models.CharField(max_length=320, null=True)


class Mandate(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    representative = models.ForeignKey(Representative, on_delete=models.PROTECT)
    party = models.ForeignKey(Party, on_delete=models.PROTECT)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True)
    ended_at = models.DateTimeField(null=True)
    credential = models.JSONField()


class Key(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    representative = models.ForeignKey(Representative, on_delete=models.PROTECT)
    public_key = models.BinaryField(unique=True)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True)
    revoked_at = models.DateTimeField(null=True)


class Letter(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    title = models.JSONField()
    addressees = models.JSONField()
    lead_party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="led_letters")
    date = models.DateField()
    session = models.ForeignKey(Session, on_delete=models.PROTECT, null=True)
    status = models.CharField(max_length=20)
    accessions_open = models.BooleanField(default=False)
    current_version = models.PositiveIntegerField(default=0)
    transmitted_on = models.DateField(null=True)
    symbol = models.CharField(max_length=120, null=True)
    registered_session = models.ForeignKey(
        Session, on_delete=models.PROTECT, null=True, related_name="registered_letters"
    )
    created_at = models.DateTimeField()


class TextVersion(models.Model):
    letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    texts = models.JSONField()
    text_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["letter", "version"], name="one_text_per_version")
        ]


class Document(models.Model):
    """An official document: a registered letter, or an Add./Corr./Rev. referring to one."""

    symbol = models.CharField(primary_key=True, max_length=140)
    letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=10)  # "original", "Add", "Corr", "Rev"
    of = models.CharField(max_length=120, null=True)
    number = models.PositiveIntegerField()
    series = models.CharField(max_length=10, null=True)
    session = models.ForeignKey(Session, on_delete=models.PROTECT, null=True)
    version = models.PositiveIntegerField(null=True)
    note = models.TextField(null=True)
    issued_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True)


class Signature(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    # No index of its own: the three below start with the letter (one index less to
    # keep up on every signature recorded).
    letter = models.ForeignKey(
        Letter, on_delete=models.PROTECT, related_name="signatures", db_index=False
    )
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="signatures")
    action = models.CharField(max_length=10)  # sign, accede
    version = models.PositiveIntegerField()
    text_hash = models.CharField(max_length=64)
    at = models.DateTimeField()
    evidence_kind = models.CharField(max_length=20)
    evidence = models.JSONField()
    representative = models.ForeignKey(Representative, on_delete=models.PROTECT, null=True)
    log_index = models.BigIntegerField()
    withdrawn_at = models.DateTimeField(null=True)
    withdrawal = models.JSONField(null=True)  # the withdrawal's id, evidence and log index
    superseded_by = models.CharField(max_length=64, null=True)
    voided = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["letter", "party"]),
            models.Index(fields=["letter", "active"]),
            models.Index(fields=["letter", "at"]),
        ]


class Dispute(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="disputes")
    signature = models.ForeignKey(Signature, on_delete=models.PROTECT, related_name="disputes")
    party = models.ForeignKey(Party, on_delete=models.PROTECT)
    statement = models.TextField()
    evidence = models.JSONField()
    filed_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, null=True)
    note = models.TextField(null=True)
    resolved_at = models.DateTimeField(null=True)


class EventRecord(models.Model):
    """Where each event sits in the log, and what it is about (for timelines and feeds)."""

    log_index = models.BigIntegerField(primary_key=True)
    type = models.CharField(max_length=40)
    at = models.DateTimeField()
    # The letter's index is the one below that starts with it; the party's is its own.
    letter = models.ForeignKey(
        Letter, on_delete=models.PROTECT, null=True, db_constraint=False, db_index=False
    )
    party = models.ForeignKey(Party, on_delete=models.PROTECT, null=True, db_constraint=False)

    class Meta:
        indexes = [models.Index(fields=["letter", "log_index"])]


class PendingEmailSignature(models.Model):
    """A person's sign-on awaiting the click in their confirmation email (not yet an event)."""

    token_hash = models.CharField(primary_key=True, max_length=64)
    letter = models.ForeignKey(Letter, on_delete=models.PROTECT)
    name = models.CharField(max_length=300)
    email = models.CharField(max_length=320)
    created_at = models.DateTimeField()
    confirmed_signature = models.CharField(max_length=64, null=True)

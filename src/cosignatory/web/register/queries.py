"""Read the register's tables: the signatory list of a letter "as of" an instant.

The answers here are those :mod:`cosignatory.core.signatories` gives from a replay of
the log, computed from the projections with a fixed number of queries, whatever the
number of signatures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from django.db import connections
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Collate, Substr, TruncDate

from cosignatory.core.errors import UnknownEntityError
from cosignatory.core.events import LANGUAGES, format_time
from cosignatory.web.register import models as m


@dataclass(frozen=True)
class SignatoryRow:
    """One party's standing on a letter at the instant asked about (see
    :class:`cosignatory.core.signatories.SignatoryEntry`), with what a list shows of it."""

    signature: str
    log_index: int
    party: str
    party_kind: str
    party_code: str | None
    party_names: Mapping[str, str]
    action: str  # sign or accede
    version: int
    at: datetime
    evidence: str  # self-signed, attested or email-verified
    evidence_detail: str  # the instrument received, or the key that signed
    representative: str | None
    withdrawn_at: datetime | None
    on_earlier_version: bool
    voided: bool
    # When the key that made a self-signed signature was revoked (by the instant asked
    # about): the signature stands, made before the revocation (a revoked key signs
    # nothing later). Shown beside it, and in ``evidence_detail``.
    key_revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Counted as a signatory: not withdrawn and not voided."""
        return self.withdrawn_at is None and not self.voided

    def party_name(self, language: str = "en") -> str:
        """The party's name in ``language``, else in the first UN language it has."""
        for lang in (language, *LANGUAGES):
            if lang in self.party_names:
                return self.party_names[lang]
        return self.party


def signatory_json(row: SignatoryRow) -> dict[str, Any]:
    """One row of a signatory list as JSON, the same for the API and ``export``."""
    return {
        "party": row.party,
        "party_name": row.party_name("en"),
        "party_names": dict(row.party_names),
        "party_code": row.party_code,
        "kind": row.party_kind,
        "action": row.action,
        "version": row.version,
        "signed_at": format_time(row.at),
        "evidence": row.evidence,
        "evidence_detail": row.evidence_detail,
        "representative": row.representative,
        "withdrawn_at": format_time(row.withdrawn_at) if row.withdrawn_at else None,
        "on_earlier_version": row.on_earlier_version,
        "voided": row.voided,
        "active": row.active,
        "signature_id": row.signature,
        "log_index": row.log_index,
    }


def end_of_day(day: date) -> datetime:
    """The last instant of ``day`` in UTC: what "as of a date" means."""
    return datetime.combine(day, time.max, tzinfo=UTC)


def signatory_list(
    letter_id: str, as_of: datetime | date | None = None, using: str = "default"
) -> list[SignatoryRow]:
    """Return each party's latest signature on the letter made at or before ``as_of``.

    The semantics are those of :func:`cosignatory.core.signatories.signatory_list`:
    ordered by the time of that signature (then its id); a withdrawal counts only if
    made by ``as_of``; disputes apply as they stand now. ``as_of`` is an aware
    datetime, a date (meaning the end of that day, UTC) or None (now). Raises
    UnknownEntityError if there is no such letter.
    """
    as_of = _as_instant(as_of)
    current = (
        m.Letter.objects.using(using)
        .filter(pk=letter_id)
        .values_list("current_version", flat=True)
        .first()
    )
    if current is None:
        raise UnknownEntityError(f"no letter {letter_id!r}")

    rows = latest_signatures(letter_id, as_of, using)
    result = [_row(dict(row), current, as_of) for row in rows]
    # Sorted here, not in SQL: the database's collation need not order ids as Python does.
    result.sort(key=lambda r: (r.at, r.signature))
    return result


_ROW_FIELDS = (
    "id",
    "log_index",
    "party_id",
    "party__kind",
    "party__code",
    "party__names",
    "action",
    "version",
    "at",
    "evidence_kind",
    "evidence",
    "representative_id",
    "withdrawn_at",
    "voided",
    "key_revoked_at",
)


def _as_instant(as_of: datetime | date | None) -> datetime | None:
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        return as_of
    if isinstance(as_of, date):
        return end_of_day(as_of)
    return None


def latest_signatures(
    letter_id: str, as_of: datetime | date | None = None, using: str = "default"
) -> QuerySet[m.Signature, dict[str, Any]]:
    """The rows of :func:`signatory_list` as an unevaluated query (one dict per party),
    in log order, so that a page of it is one ``LIMIT``/``OFFSET`` query and its length
    one ``COUNT``. Turn each dict into a row with :func:`signatory_row`."""
    as_of = _as_instant(as_of)
    signatures = m.Signature.objects.using(using).filter(letter_id=letter_id)
    # Events are dated in log order (the rules refuse one dated before its predecessor),
    # so a party's latest signature by time, ties broken by log order, is the one with
    # the highest log index.
    later = signatures.filter(party_id=OuterRef("party_id"), log_index__gt=OuterRef("log_index"))
    if as_of is not None:
        signatures = signatures.filter(at__lte=as_of)
        # "Made by as_of" as a log index bound, not a time: the search for a later
        # signature then stays on the (letter, party) index.
        last = signatures.order_by("-at", "-log_index").values("log_index")[:1]
        later = later.filter(log_index__lte=Subquery(last))
    # A signature still active now has no later one at all, so it is its party's latest
    # at any instant after it was made: only the few inactive ones (withdrawn, voided,
    # replaced) need the search for a later signature. Ordered by time, then log order,
    # so that the (letter, at) index serves a page without sorting the whole list.
    signing_key = m.Key.objects.using(using).filter(pk=OuterRef("signing_key"))
    latest: QuerySet[m.Signature, dict[str, Any]] = (
        signatures.filter(Q(active=True) | ~Exists(later))
        .annotate(signing_key=KeyTextTransform("key", "evidence"))
        .annotate(key_revoked_at=Subquery(signing_key.values("revoked_at")[:1]))
        .order_by("at", "log_index")
        .values(*_ROW_FIELDS)
    )
    return latest


def _codepoint_collation(using: str) -> str:
    """The collation that orders text by code point, as Python's ``sorted`` does."""
    return "C" if connections[using].vendor == "postgresql" else "BINARY"


def ordered_by_time_then_id(
    rows: QuerySet[m.Signature, dict[str, Any]], using: str = "default"
) -> QuerySet[m.Signature, dict[str, Any]]:
    """:func:`latest_signatures` in :func:`signatory_list`'s order: time, then signature
    id by code point (whatever the database's collation), so pages agree with the list."""
    return rows.annotate(id_by_code=Collate("id", _codepoint_collation(using))).order_by(
        "at", "id_by_code"
    )


def after_in_time_then_id(
    rows: QuerySet[m.Signature, dict[str, Any]], at: datetime, id: str
) -> QuerySet[m.Signature, dict[str, Any]]:
    """The rows of :func:`ordered_by_time_then_id` that come after ``(at, id)``."""
    return rows.filter(Q(at__gt=at) | Q(at=at, id_by_code__gt=id))


def signatory_row(
    row: Mapping[str, Any], current_version: int, as_of: datetime | date | None = None
) -> SignatoryRow:
    """One dict of :func:`latest_signatures` as a :class:`SignatoryRow` seen at ``as_of``."""
    return _row(dict(row), current_version, _as_instant(as_of))


@dataclass(frozen=True)
class SignatoryCounts:
    """How many parties stand where on a letter at an instant."""

    active: int
    withdrawn: int
    voided: int

    @property
    def listed(self) -> int:
        """Every party the list names (struck-through ones included)."""
        return self.active + self.withdrawn + self.voided


def signatory_counts(
    letter_id: str, as_of: datetime | date | None = None, using: str = "default"
) -> SignatoryCounts:
    """Count the letter's list at ``as_of`` in two queries at most (nothing is loaded)."""
    instant = _as_instant(as_of)
    withdrawn = Q(withdrawn_at__isnull=False)
    if instant is not None:
        withdrawn &= Q(withdrawn_at__lte=instant)
    if instant is None:
        # Now, the active signatures are counted on their index alone; the rest are few.
        active = m.Signature.objects.using(using).filter(letter_id=letter_id, active=True).count()
        # "active IN (false)", not "NOT active": the (letter, active) index serves the first.
        inactive = m.Signature.objects.using(using).filter(letter_id=letter_id, active__in=[False])
        later = m.Signature.objects.using(using).filter(
            letter_id=letter_id,
            party_id=OuterRef("party_id"),
            log_index__gt=OuterRef("log_index"),
        )
        totals = inactive.filter(~Exists(later)).aggregate(
            n_voided=Count("id", filter=Q(voided=True)),
            n_withdrawn=Count("id", filter=withdrawn & Q(voided=False)),
        )
        totals["n_active"] = active
    else:
        totals = (
            latest_signatures(letter_id, as_of, using)
            .order_by()
            .aggregate(
                n_voided=Count("id", filter=Q(voided=True)),
                n_withdrawn=Count("id", filter=withdrawn & Q(voided=False)),
                n_active=Count("id", filter=~withdrawn & Q(voided=False)),
            )
        )
    return SignatoryCounts(totals["n_active"], totals["n_withdrawn"], totals["n_voided"])


def count_changes(letter_id: str, using: str = "default") -> list[tuple[date, int]]:
    """The change in the letter's signatory count on each day something changed, in
    date order (UTC days): +1 for each signature, -1 when it was withdrawn or replaced
    by the same party's later one. Signatures voided by an upheld dispute count for
    nothing, as in the list. Three grouped queries, whatever the number of signatures.
    """
    counted = m.Signature.objects.using(using).filter(letter_id=letter_id, voided=False)
    changes: dict[date, int] = {}

    def add(rows: QuerySet[Any, dict[str, Any]], sign: int) -> None:
        for row in rows:
            day = row["day"]
            day = date.fromisoformat(day) if isinstance(day, str) else day
            changes[day] = changes.get(day, 0) + sign * row["n"]

    def per_day(rows: QuerySet[Any, Any], field: str) -> QuerySet[Any, dict[str, Any]]:
        if connections[using].vendor == "sqlite":
            # SQLite keeps UTC times as text: its first ten characters are the UTC day,
            # cut in C, where TruncDate calls back into Python for every row.
            day: Any = Substr(field, 1, 10)
        else:
            day = TruncDate(field, tzinfo=UTC)
        grouped: QuerySet[Any, dict[str, Any]] = (
            rows.annotate(day=day)
            .values("day")
            .annotate(n=Count("id"))
            .order_by()
            .values("day", "n")
        )
        return grouped

    add(per_day(counted, "at"), 1)
    # Withdrawn and replaced signatures are inactive: the (letter, active) index finds them.
    inactive = counted.filter(active__in=[False])  # as in signatory_counts
    add(per_day(inactive.filter(withdrawn_at__isnull=False), "withdrawn_at"), -1)
    successor = m.Signature.objects.using(using).filter(pk=OuterRef("superseded_by"))
    replaced = inactive.filter(superseded_by__isnull=False).annotate(
        replaced_at=Subquery(successor.values("at")[:1])
    )
    add(per_day(replaced, "replaced_at"), -1)
    return sorted(changes.items())


def count_over_time(
    letter_id: str, as_of: date | None = None, using: str = "default"
) -> list[tuple[date, int]]:
    """The signatory count at the end of each day it changed, up to ``as_of``."""
    return cumulative(count_changes(letter_id, using), as_of)


def cumulative(
    changes: list[tuple[date, int]], as_of: date | None = None
) -> list[tuple[date, int]]:
    """The running total of :func:`count_changes`, day by day, up to ``as_of``."""
    series: list[tuple[date, int]] = []
    total = 0
    for day, change in changes:
        if as_of is not None and day > as_of:
            break
        total += change
        series.append((day, total))
    return series


def _row(row: dict[str, Any], current: int, as_of: datetime | None) -> SignatoryRow:
    withdrawn = row["withdrawn_at"]
    if withdrawn is not None and as_of is not None and withdrawn > as_of:
        withdrawn = None
    revoked = row["key_revoked_at"]
    if revoked is not None and as_of is not None and revoked > as_of:
        revoked = None
    return SignatoryRow(
        signature=row["id"],
        log_index=row["log_index"],
        party=row["party_id"],
        party_kind=row["party__kind"],
        party_code=row["party__code"],
        party_names=dict(row["party__names"]),
        action=row["action"],
        version=row["version"],
        at=row["at"],
        evidence=row["evidence_kind"],
        evidence_detail=evidence_detail(row["evidence"], revoked),
        representative=row["representative_id"],
        withdrawn_at=withdrawn,
        on_earlier_version=row["version"] < current,
        voided=row["voided"],
        key_revoked_at=revoked,
    )


def evidence_detail(evidence: Mapping[str, Any], key_revoked_at: datetime | None = None) -> str:
    """One line saying how a signature is known, e.g. ``note-verbale DEMO/NV/1, 2019-07-08``;
    for a self-signed signature whose key was revoked since (``key_revoked_at``),
    ``signed with key K, made before its revocation on TIME``."""
    kind = evidence.get("kind")
    if kind == "attested":
        instrument = evidence.get("instrument") or {}
        return (
            f"{instrument.get('kind', '')} {instrument.get('reference', '')}, "
            f"{instrument.get('date', '')}"
        )
    if kind == "self-signed":
        signed = f"signed with key {evidence.get('key', '')}"
        if key_revoked_at is not None:
            signed += f", made before its revocation on {format_time(key_revoked_at)}"
        return signed
    if kind == "email-verified":
        return f"email confirmed {evidence.get('confirmed_at', '')}"
    return str(kind or "")

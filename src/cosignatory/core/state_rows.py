"""The register's state as rows of a :class:`cosignatory.core.spill.SpillDict`.

How the offline verifier writes a party, a representative, a signature record, a
party's active signature and its last act to the temporary database, and reads them
back equal; and each party's latest signature, chosen and sorted there.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from cosignatory.core.spill import Codec, SpillDict
from cosignatory.core.state import Party, Representative, SignatureRecord

__all__ = ["IDS", "PARTIES", "REPRESENTATIVES", "SIGNATURES", "TIMES", "latest_signatures"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _maybe_micros(moment: datetime | None) -> int | None:
    return None if moment is None else _micros(moment)


def _maybe_moment(micros: int | None) -> datetime | None:
    return None if micros is None else _moment(micros)


IDS: Codec[str] = Codec(("value",), lambda value: (value,), lambda key, row: row[0])
"""Strings (a letter's active signature by party)."""

TIMES: Codec[datetime] = Codec(
    ("value",), lambda moment: (_micros(moment),), lambda key, row: _moment(row[0])
)
"""Aware UTC times, to the microsecond (a letter's last act by party)."""

PARTIES: Codec[Party] = Codec(
    ("kind", "names", "contact", "members"),
    lambda party: (
        party.kind,
        marshal.dumps(dict(party.names)),
        party.contact,
        marshal.dumps(party.members) if party.members else None,
    ),
    # marshal reads back only what this process wrote to its own temporary file.
    lambda key, row: Party(
        key,
        row[0],
        marshal.loads(row[1]),  # noqa: S302
        row[2],
        marshal.loads(row[3]) if row[3] else (),  # noqa: S302
    ),
)

REPRESENTATIVES: Codec[Representative] = Codec(
    ("name", "contact"),
    lambda representative: (representative.name, representative.contact),
    lambda key, row: Representative(key, row[0], row[1]),
)

SIGNATURES: Codec[SignatureRecord] = Codec(
    (
        "action",
        "party",
        "version",
        "at",
        "evidence",
        "representative",
        "log_index",
        "withdrawn_at",
        "withdrawn_by",
        "superseded_by",
        "voided",
        "signing_key",
    ),
    lambda r: (
        r.action,
        r.party,
        r.version,
        _micros(r.at),
        r.evidence,
        r.representative,
        r.log_index,
        _maybe_micros(r.withdrawn_at),
        r.withdrawn_by,
        r.superseded_by,
        int(r.voided),
        r.key,
    ),
    lambda key, row: SignatureRecord(
        key,
        row[0],
        row[1],
        row[2],
        _moment(row[3]),
        row[4],
        row[5],
        row[6],
        _maybe_moment(row[7]),
        row[8],
        row[9],
        bool(row[10]),
        row[11],
    ),
)

# Table and column names in SQL are ours (the codecs'), never data: hence the noqa S608.
_LATEST = (
    f"SELECT seq, key, {', '.join(SIGNATURES.columns)} FROM "  # noqa: S608
    "(SELECT *, row_number() OVER (PARTITION BY party ORDER BY at DESC, seq DESC) AS rank "
    "FROM {table} WHERE at <= ?) WHERE rank = 1 ORDER BY at, key"
)


def latest_signatures(
    records: SpillDict[SignatureRecord], as_of: datetime | None = None
) -> Iterator[SignatureRecord]:
    """Each party's latest record made at or before ``as_of`` (default: all), ordered by
    time and id: :func:`cosignatory.core.signatories.iter_signatories`'s choice, made
    by SQLite on disk rather than in a dict of every record. The latest of two at one
    instant is the one recorded later."""
    until = _micros(as_of) if as_of is not None else 2**63 - 1
    return records.select(_LATEST, until)

"""Who had signed a letter at a given instant: the signatory list "as of" a time.

A party appears once, with its latest signature (sign or accede) made by then. Its
entry says whether that signature was withdrawn by then, whether it was on an earlier
text version than the letter's current one, and whether a dispute against it was
upheld by then.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from cosignatory.core.spill import SpillDict
from cosignatory.core.state import Letter, SignatureRecord
from cosignatory.core.state_rows import latest_signatures


@dataclass(frozen=True, slots=True)
class SignatoryEntry:
    """One party's standing on a letter at the instant asked about."""

    signature: str
    party: str
    action: str
    version: int
    at: datetime
    evidence: str
    representative: str | None
    withdrawn_at: datetime | None
    on_earlier_version: bool
    voided: bool

    @property
    def active(self) -> bool:
        """Counted as a signatory: not withdrawn and not voided."""
        return self.withdrawn_at is None and not self.voided


def signatory_list(letter: Letter, as_of: datetime | None = None) -> list[SignatoryEntry]:
    """Return each party's latest signature made at or before ``as_of`` (default: now).

    Ordered by the time of that signature. Withdrawals after ``as_of`` are ignored.
    Disputes are applied as they stand now (their time is not in the record).
    """
    return list(iter_signatories(letter, as_of))


def iter_signatories(letter: Letter, as_of: datetime | None = None) -> Iterator[SignatoryEntry]:
    """:func:`signatory_list` one entry at a time (the offline verifier's million rows)."""
    current = letter.current_version
    for record in latest_records(letter, as_of):
        withdrawn = record.withdrawn_at
        if withdrawn is not None and as_of is not None and withdrawn > as_of:
            withdrawn = None
        yield SignatoryEntry(
            record.id,
            record.party,
            record.action,
            record.version,
            record.at,
            record.evidence,
            record.representative,
            withdrawn,
            record.version < current,
            record.voided,
        )


def latest_records(letter: Letter, as_of: datetime | None = None) -> Iterator[SignatureRecord]:
    """Each party's latest signature record made at or before ``as_of``, ordered by time
    and id: the records behind :func:`iter_signatories`' entries, as they stand now."""
    records = letter.signatures
    if isinstance(records, SpillDict) and records.spilled:
        # Chosen and sorted on disk: a dict of every record would undo the spilling.
        yield from latest_signatures(records, as_of)
        return
    latest: dict[str, SignatureRecord] = {}
    for record in records.values():
        if as_of is not None and record.at > as_of:
            continue
        held = latest.get(record.party)
        if held is None or record.at >= held.at:
            latest[record.party] = record
    ordered = sorted(latest.values(), key=lambda r: (r.at, r.id))
    del latest
    yield from ordered

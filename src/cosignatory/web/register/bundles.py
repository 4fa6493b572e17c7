"""Export a letter's bundle (``docs/bundle.md``), streamed line by line.

:func:`stream_bundle` reads the log's head once and proves every entry against that
one checkpoint. The entries are the events about the letter and the events they rely
on, in log order:

* every event whose ``letter`` is the letter (its creation, texts, lifecycle,
  documents, signatures and withdrawals, dispute resolutions), and the filing of each
  dispute about its signatures;
* the registrar's keys (every ``registrar.*`` event: they seal all the others);
* the letter's sessions and their bodies;
* the ``party.registered`` of the lead party, every signing party and the members of
  any group among them;
* for self-signed signatures and withdrawals: the representative, their mandates for
  that party (and the mandates' ends), their key (and its revocation); the
  representative named on any attested signature.

Signing parties are selected in SQL and streamed with the letter's events, so a letter
with a million signatures never has them in memory at once. The other reference
events are few (keys, mandates, sessions) and are found by reading the events of
their types. Entries and proofs are read in batches.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from django.db.models import Subquery

from cosignatory.core.bundle import MEDIA_TYPE, BundleWriter
from cosignatory.core.errors import EvidenceError, UnknownEntityError
from cosignatory.tlog.checkpoint import Checkpoint, open_checkpoint
from cosignatory.tlog.errors import LogStateError
from cosignatory.tlog.log import Log
from cosignatory.tlog.proofs import inclusion_proof
from cosignatory.tlog.tiled import EdgeHashes, FullTileCache, TiledTree
from cosignatory.web.log.models import LogEntry
from cosignatory.web.log.services import get_log
from cosignatory.web.log.witnesses import cosigned_checkpoint
from cosignatory.web.register import models as m
from cosignatory.web.register.services import registrar_key_id, registrar_signer

__all__ = ["CONTENT_TYPE", "bundle_filename", "stream_bundle"]

CONTENT_TYPE = MEDIA_TYPE
"""The Content-Type of a bundle served over HTTP (``application/x-ndjson``)."""

_T = TypeVar("_T")
_BATCH = 512
"""Entries read and proven per round trip."""
_CACHED_TILES = 32
"""Full tiles whose inner nodes a batch keeps (its entries are in log order)."""

# Reference events found by their data's "id" (see the module docstring).
_REFERENCE_TYPES = (
    "body.created",
    "session.created",
    "representative.registered",
    "mandate.granted",
    "mandate.ended",
    "key.registered",
    "key.revoked",
    "dispute.filed",
)


def bundle_filename(letter_id: str) -> str:
    """The file name to offer for a letter's bundle."""
    return f"{letter_id}.cosignatory-bundle.jsonl"


def stream_bundle(
    letter_id: str, *, checkpoint: str | None = None, using: str = "default"
) -> Iterator[bytes]:
    """Return the lines of the letter's bundle, as bytes, to be consumed in order.

    The bundle is proven against the log's current checkpoint, read once now (with
    the witness cosignatures stored for it), or against ``checkpoint`` if given: a
    signed checkpoint of this log (such as one with more cosignatures) at most as
    large as the log. Raises, before any line is produced, UnknownEntityError if the
    letter is not in the log at that size, EvidenceError if the registrar's key
    cannot seal the bundle, and what ``open_checkpoint`` raises (or LogStateError)
    for a ``checkpoint`` that is not one of this log's.
    """
    log = get_log(using)
    if not m.Letter.objects.using(using).filter(pk=letter_id).exists():
        raise UnknownEntityError(f"no letter {letter_id!r}")
    head = log.head()  # read after the letter, so its creation is within this size
    # The head as /log/checkpoint serves it: with the witnesses' cosignatures of that
    # very tree, if they have cosigned it yet.
    note = cosigned_checkpoint(head) if checkpoint is None else checkpoint
    cp = open_checkpoint(note, log.verifiers, origin=log.origin)
    if checkpoint is not None and (cp.size > head.size or cp.root != log.root(cp.size)):
        raise LogStateError(f"the checkpoint of size {cp.size} is not one of this log's")
    created = m.EventRecord.objects.using(using).filter(
        letter_id=letter_id, type="letter.created", log_index__lt=cp.size
    )
    if not created.exists():
        raise UnknownEntityError(f"letter {letter_id!r} is not in the log at size {cp.size}")
    signer = registrar_signer()
    key_id = registrar_key_id(signer)
    sealing = m.RegistrarKey.objects.using(using).filter(pk=key_id, revoked_at__isnull=True)
    if not sealing.exists():
        raise EvidenceError(f"the registrar's key {key_id} is not a current key of the register")
    reference = _reference_indexes(letter_id, cp.size, using)
    writer = BundleWriter(letter_id, note, cp, lambda message: (key_id, signer.sign(message)))
    return _lines(writer, log, cp, _indexes(letter_id, cp.size, reference, using), using)


def _lines(
    writer: BundleWriter, log: Log, cp: Checkpoint, indexes: Iterator[int], using: str
) -> Iterator[bytes]:
    yield writer.header()
    edge: EdgeHashes = {}  # the right edge of the tree at cp, shared by every batch
    for batch in _batches(indexes):
        entries = dict(
            LogEntry.objects.using(using).filter(index__in=batch).values_list("index", "data")
        )
        # One tree a batch, with its own small cache of full tiles' inner nodes: it
        # holds the tiles this batch's proofs read, no more. (The log's shared cache
        # would fill to its bound walking a large letter's tiles.)
        tree = TiledTree(cp.size, log.storage.read_tiles, FullTileCache(_CACHED_TILES), edge)
        tree.prefetch_for(*batch)
        for index in batch:
            data = entries.get(index)
            if data is None:
                raise LogStateError(f"entry {index} is missing from storage")
            yield writer.entry(index, bytes(data), inclusion_proof(index, cp.size, tree.range_hash))
    yield writer.end()


def _batches(items: Iterable[_T]) -> Iterator[list[_T]]:
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _indexes(letter_id: str, size: int, reference: list[int], using: str) -> Iterator[int]:
    """Every entry of the bundle, in log order, each once."""
    records = m.EventRecord.objects.using(using).filter(log_index__lt=size)
    about = (
        records.filter(letter_id=letter_id)
        .order_by("log_index")
        .values_list("log_index", flat=True)
        .iterator(chunk_size=_BATCH)
    )
    signers = m.Signature.objects.using(using).filter(letter_id=letter_id, log_index__lt=size)
    parties = (
        records.filter(type="party.registered", party_id__in=Subquery(signers.values("party_id")))
        .order_by("log_index")
        .values_list("log_index", flat=True)
        .iterator(chunk_size=_BATCH)
    )
    last = -1
    for index in heapq.merge(about, parties, reference):
        if index != last:
            yield index
            last = index


def _reference_indexes(letter_id: str, size: int, using: str) -> list[int]:
    """The log indexes of the few reference events the letter's events rely on."""
    db = m.EventRecord.objects.using(using)
    letter = m.Letter.objects.using(using).get(pk=letter_id)
    signatures = m.Signature.objects.using(using).filter(letter_id=letter_id, log_index__lt=size)

    sessions = {letter.session_id, letter.registered_session_id}
    sessions.update(
        m.Document.objects.using(using)
        .filter(letter_id=letter_id, kind="original")
        .values_list("session_id", flat=True)
    )
    sessions.discard(None)
    bodies = set(
        m.Session.objects.using(using).filter(pk__in=sessions).values_list("body_id", flat=True)
    )

    representatives = set(
        signatures.exclude(representative_id=None)
        .values_list("representative_id", flat=True)
        .distinct()
    )
    keys: set[str] = set()
    pairs: set[tuple[str, str]] = set()  # (representative, party) of self-signed acts
    self_signed = signatures.filter(evidence_kind="self-signed").values_list("party_id", "evidence")
    for party, evidence in self_signed.iterator(chunk_size=_BATCH):
        _note_self_signed(evidence, party, keys, pairs)
    withdrawals = signatures.exclude(withdrawal=None).values_list("party_id", "withdrawal")
    attested_withdrawals = []
    for party, recorded in withdrawals.iterator(chunk_size=_BATCH):
        withdrawal: dict[str, Any] = recorded or {}
        if withdrawal["log_index"] >= size:
            continue
        if withdrawal["evidence"]["kind"] == "self-signed":
            _note_self_signed(withdrawal["evidence"], party, keys, pairs)
        else:
            attested_withdrawals.append(withdrawal["log_index"])
    # An attested withdrawal may name a representative, which only its entry records.
    for data in _event_data(attested_withdrawals, using):
        if data.get("representative"):
            representatives.add(data["representative"])
    representatives.update(rep for rep, _ in pairs)
    mandates: set[str] = set()
    for rep, party in pairs:
        mandates.update(
            m.Mandate.objects.using(using)
            .filter(representative_id=rep, party_id=party)
            .values_list("id", flat=True)
        )
    disputes = set(
        m.Dispute.objects.using(using).filter(letter_id=letter_id).values_list("id", flat=True)
    )
    wanted: dict[str, set[Any]] = {
        "body.created": bodies,
        "session.created": sessions,
        "representative.registered": representatives,
        "mandate.granted": mandates,
        "mandate.ended": mandates,
        "key.registered": keys,
        "key.revoked": keys,
        "dispute.filed": disputes,
    }
    found = list(
        db.filter(
            type__in=("registrar.key_added", "registrar.key_revoked"), log_index__lt=size
        ).values_list("log_index", flat=True)
    )
    types = [kind for kind in _REFERENCE_TYPES if wanted[kind]]
    candidates = (
        db.filter(type__in=types, log_index__lt=size)
        .order_by("log_index")
        .values_list("log_index", "type")
    )
    for batch in _batches(candidates.iterator(chunk_size=_BATCH)):
        events = _event_data([index for index, _ in batch], using)
        found.extend(
            index
            for (index, kind), d in zip(batch, events, strict=True)
            if d.get("id") in wanted[kind]
        )
    found.extend(_party_indexes(letter, signatures, size, using))
    return sorted(set(found))


def _note_self_signed(
    evidence: dict[str, Any], party: str, keys: set[str], pairs: set[tuple[str, str]]
) -> None:
    keys.add(evidence["key"])
    pairs.add((evidence["statement"]["representative"], party))


def _party_indexes(letter: m.Letter, signatures: Any, size: int, using: str) -> list[int]:
    """The ``party.registered`` of the lead party and of every member of a group that
    signed or leads (signing parties themselves are streamed by :func:`_indexes`)."""
    parties = m.Party.objects.using(using)
    extra = {letter.lead_party_id}
    groups = list(
        parties.filter(kind="group", pk__in=Subquery(signatures.values("party_id"))).values_list(
            "members", flat=True
        )
    )
    groups.extend(parties.filter(pk=letter.lead_party_id).values_list("members", flat=True))
    seen: set[str] = set()
    while groups:
        for member in groups.pop() or []:
            if member not in seen:
                seen.add(member)
                groups.extend(parties.filter(pk=member).values_list("members", flat=True))
    extra |= seen
    return list(
        m.EventRecord.objects.using(using)
        .filter(type="party.registered", party_id__in=extra, log_index__lt=size)
        .values_list("log_index", flat=True)
    )


def _event_data(indexes: Iterable[int], using: str) -> Iterator[dict[str, Any]]:
    """The ``data`` of the events at ``indexes``, in that order."""
    for batch in _batches(indexes):
        rows = dict(
            LogEntry.objects.using(using).filter(index__in=batch).values_list("index", "data")
        )
        for index in batch:
            if index not in rows:
                raise LogStateError(f"entry {index} is missing from storage")
            data = json.loads(bytes(rows[index]))["data"]
            yield data if isinstance(data, dict) else {}

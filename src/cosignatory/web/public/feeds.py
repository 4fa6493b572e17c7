"""Atom feeds: a session's letters and documents, a letter's events, a party's events.

Django's syndication framework writes the Atom (RFC 4287); titles are in the reader's
language (the ``Accept-Language`` header or the language cookie), names localised, and
every entry links to the page it is about. Only public letters appear; an unknown id,
or a draft letter, gives 404. Each feed holds the latest :data:`FEED_LENGTH` entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.syndication.views import Feed
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _

from cosignatory.web.public.history import describe
from cosignatory.web.public.lists import EVIDENCE_LABELS, public_letter_or_404, public_letters
from cosignatory.web.register import models as m
from cosignatory.web.ui.locale import format_day, localised

FEED_LENGTH = 100


@dataclass(frozen=True)
class Entry:
    """One entry of a feed."""

    title: str
    link: str
    description: str
    at: datetime
    guid: str


def _history_link(letter_id: str, index: int) -> str:
    return reverse("public:letter-history", args=[letter_id]) + f"#event-{index}"


def _disputes_filed(disputes: Any) -> Q:
    """The event records of these disputes' filing. (Their records name no letter: a
    ``dispute.filed`` event names the signature, so they are found by party and time.)"""
    found = Q(pk__in=[])
    for party, at in disputes.values_list("party_id", "filed_at"):
        found |= Q(type="dispute.filed", party_id=party, at=at)
    return found


def _letters_of(records: list[m.EventRecord]) -> dict[int, m.Letter]:
    """The letter each record is about, disputes' filings included."""
    filed = [r for r in records if r.letter_id is None and r.type == "dispute.filed"]
    letter_ids: dict[int, str | None] = {r.log_index: r.letter_id for r in records if r.letter_id}
    for record in filed:
        letter_ids[record.log_index] = (
            m.Dispute.objects.filter(party_id=record.party_id, filed_at=record.at)
            .values_list("letter_id", flat=True)
            .first()
        )
    letters = m.Letter.objects.in_bulk({i for i in letter_ids.values() if i})
    return {index: letters[i] for index, i in letter_ids.items() if i in letters}


def _event_entries(records: Any, with_letter: bool) -> list[Entry]:
    """Entries for event records (which select their party), newest first."""
    records = list(records)
    letters = _letters_of(records)
    signatures = {
        s.log_index: s
        for s in m.Signature.objects.filter(log_index__in=[r.log_index for r in records])
    }
    documents = {
        (d.letter_id, d.issued_at): d
        for d in m.Document.objects.filter(letter__in=set(letters.values()))
    }
    entries = []
    for moment, record in zip(describe(records), records, strict=True):
        letter = letters.get(record.log_index)
        if letter is None:
            continue
        title = moment.label
        details = []
        if moment.party is not None:
            title = f"{title}: {localised(moment.party.names)}"
        signature = signatures.get(record.log_index)
        if signature is not None:
            details.append(str(EVIDENCE_LABELS.get(signature.evidence_kind, "")))
        document = documents.get((letter.id, record.at))
        if document is not None and record.type in ("letter.registered", "document.issued"):
            title = f"{title}: {document.symbol}"
            if document.note:
                details.append(document.note)
        link = _history_link(letter.id, record.log_index)
        if with_letter:
            title = f"{title} — {localised(letter.title)}"
        entries.append(
            Entry(
                title=title,
                link=link,
                description=" · ".join(d for d in [*details, format_day(record.at)] if d),
                at=record.at,
                guid=f"{link}-{record.log_index}",
            )
        )
    return entries


class _AtomFeed(Feed):  # type: ignore[type-arg]
    feed_type = Atom1Feed

    def item_title(self, item: Entry) -> str:
        return item.title

    def item_link(self, item: Entry) -> str:
        return item.link

    def item_description(self, item: Entry) -> str:
        return item.description

    def item_pubdate(self, item: Entry) -> datetime:
        return item.at

    def item_updateddate(self, item: Entry) -> datetime:
        return item.at

    def item_guid(self, item: Entry) -> str:
        return item.guid

    item_guid_is_permalink = False


class SessionFeed(_AtomFeed):
    """``/sessions/<id>/feed.atom``: the session's public letters and its documents."""

    def get_object(self, request: HttpRequest, session: str) -> m.Session:
        return get_object_or_404(m.Session.objects.select_related("body"), pk=session)

    def title(self, obj: m.Session) -> str:
        return _("%(session)s, %(body)s: letters and documents") % {
            "session": localised(obj.names),
            "body": localised(obj.body.names),
        }

    def link(self, obj: m.Session) -> str:
        return reverse("public:session", args=[obj.id])

    def subtitle(self, obj: m.Session) -> str:
        return _("New letters open for signature and documents issued in this session.")

    def items(self, obj: m.Session) -> list[Entry]:
        letters = public_letters().filter(Q(session=obj) | Q(registered_session=obj))
        opened = dict(
            m.EventRecord.objects.filter(letter__in=letters, type="letter.opened")
            .order_by("log_index")
            .values_list("letter_id", "at")
        )
        entries = [
            Entry(
                title=_("Letter: %(title)s") % {"title": localised(letter.title)},
                link=reverse("public:letter", args=[letter.id]),
                description=_("Dated %(date)s") % {"date": format_day(letter.date)},
                at=opened.get(letter.id, letter.created_at),
                guid=reverse("public:letter", args=[letter.id]),
            )
            for letter in letters
        ]
        originals = m.Document.objects.filter(session=obj, letter__in=letters)
        documents = m.Document.objects.filter(
            Q(pk__in=originals.values("pk")) | Q(of__in=originals.values("symbol"))
        ).select_related("letter")
        entries.extend(
            Entry(
                title=_("Document %(symbol)s: %(title)s")
                % {"symbol": doc.symbol, "title": localised(doc.letter.title)},
                link=reverse("public:document", args=[doc.symbol]),
                description=doc.note or "",
                at=doc.issued_at,
                guid=reverse("public:document", args=[doc.symbol]),
            )
            for doc in documents
        )
        entries.sort(key=lambda e: (e.at, e.guid), reverse=True)
        return entries[:FEED_LENGTH]


class LetterFeed(_AtomFeed):
    """``/letters/<id>/feed.atom``: the letter's events, signatures to documents."""

    def get_object(self, request: HttpRequest, letter: str) -> m.Letter:
        return public_letter_or_404(letter)

    def title(self, obj: m.Letter) -> str:
        return _("%(title)s: events") % {"title": localised(obj.title)}

    def link(self, obj: m.Letter) -> str:
        return reverse("public:letter", args=[obj.id])

    def subtitle(self, obj: m.Letter) -> str:
        return _("Signatures, accessions, withdrawals, disputes and documents of this letter.")

    def items(self, obj: m.Letter) -> list[Entry]:
        disputes = m.Dispute.objects.filter(letter=obj)
        records = (
            m.EventRecord.objects.filter(Q(letter=obj) | _disputes_filed(disputes))
            .select_related("party")
            .order_by("-log_index")[:FEED_LENGTH]
        )
        return _event_entries(records, with_letter=False)


class PartyFeed(_AtomFeed):
    """``/parties/<id>/feed.atom``: every public event that names the party."""

    def get_object(self, request: HttpRequest, party: str) -> m.Party:
        return get_object_or_404(m.Party, pk=party)

    def title(self, obj: m.Party) -> str:
        return _("%(party)s: signatures and other events") % {"party": localised(obj.names)}

    def link(self, obj: m.Party) -> str:
        return reverse("public:party", args=[obj.id])

    def subtitle(self, obj: m.Party) -> str:
        return _("Every letter this party signed, acceded to, withdrew from or disputed.")

    def items(self, obj: m.Party) -> list[Entry]:
        disputes = m.Dispute.objects.filter(party=obj, letter__in=public_letters())
        records = (
            m.EventRecord.objects.filter(
                Q(party=obj, letter__in=public_letters()) | _disputes_filed(disputes)
            )
            .select_related("party")
            .order_by("-log_index")[:FEED_LENGTH]
        )
        return _event_entries(records, with_letter=True)

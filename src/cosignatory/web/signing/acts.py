"""What a signed-in representative may do, and the statements they are given to sign.

Read-only: the parties a representative acts for (their CURRENT mandates, never
anything stored on the account), the letters open to those parties, and the exact
statement the browser signs. Recording goes through
:func:`cosignatory.web.register.services.submit_statement` like every other statement.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from cosignatory.core.canonical import text_hash
from cosignatory.core.state import AFTER_TRANSMISSION, OPEN
from cosignatory.core.statements import Statement
from cosignatory.web.register import models as m

ACTIONS = ("sign", "accede", "withdraw")


def _current(at: datetime) -> Q:
    """Rows (mandates, keys) valid at ``at``: started, not expired, not ended."""
    return Q(valid_from__lte=at) & (Q(valid_until__isnull=True) | Q(valid_until__gt=at))


def parties_for(representative: m.Representative, at: datetime | None = None) -> list[m.Party]:
    """The parties ``representative`` holds a current mandate for, by id."""
    at = at or timezone.now()
    mandates = m.Mandate.objects.filter(
        _current(at), Q(ended_at__isnull=True) | Q(ended_at__gt=at), representative=representative
    )
    return list(m.Party.objects.filter(mandate__in=mandates).distinct().order_by("id"))


def keys_for(representative: m.Representative, at: datetime | None = None) -> list[m.Key]:
    """The representative's keys valid now (not expired, not revoked), by id."""
    at = at or timezone.now()
    return list(
        m.Key.objects.filter(
            _current(at),
            Q(revoked_at__isnull=True) | Q(revoked_at__gt=at),
            representative=representative,
        ).order_by("id")
    )


@dataclass(frozen=True)
class Opening:
    """One thing a party may do on one letter: sign, accede or withdraw."""

    letter: m.Letter
    party: m.Party
    action: str
    signature: m.Signature | None  # the party's active signature on the letter, if any


def openings(parties: list[m.Party]) -> list[Opening]:
    """Every act open to ``parties``: signing open letters, acceding to transmitted
    letters open for accessions, withdrawing their active signatures."""
    if not parties:
        return []
    active = {
        (s.letter_id, s.party_id): s
        for s in m.Signature.objects.filter(party__in=parties, active=True).select_related("letter")
    }
    found: list[Opening] = []
    letters = m.Letter.objects.filter(
        Q(status=OPEN) | Q(status__in=AFTER_TRANSMISSION, accessions_open=True),
        current_version__gt=0,
    ).order_by("-date", "id")
    for letter in letters:
        action = "sign" if letter.status == OPEN else "accede"
        for party in parties:
            signature = active.get((letter.id, party.id))
            if signature is None or signature.version != letter.current_version:
                found.append(Opening(letter, party, action, signature))
    for _letter_party, signature in sorted(active.items()):
        party = next(p for p in parties if p.id == signature.party_id)
        found.append(Opening(signature.letter, party, "withdraw", signature))
    return found


class NotOpen(Exception):
    """The act is not open now (the letter's state, or nothing to withdraw)."""


def version_for(letter: m.Letter, party: m.Party, action: str) -> m.TextVersion:
    """The text version a statement names: the current one, or the one being withdrawn.

    Raises NotOpen if ``action`` is not open to ``party`` on ``letter`` now.
    """
    if action == "withdraw":
        signature = m.Signature.objects.filter(letter=letter, party=party, active=True).first()
        if signature is None:
            raise NotOpen("withdraw")
        version = signature.version
    else:
        if action == "sign" and letter.status != OPEN:
            raise NotOpen(action)
        if action == "accede" and not (
            letter.status in AFTER_TRANSMISSION and letter.accessions_open
        ):
            raise NotOpen(action)
        version = letter.current_version
    text = m.TextVersion.objects.filter(letter=letter, version=version).first()
    if text is None:
        raise NotOpen(action)
    # What is shown must be what the hash covers (as `cosignatory sign` checks).
    if text_hash(text.texts) != text.text_hash:
        raise NotOpen(action)
    return text


def statement_for(
    text: m.TextVersion, party: m.Party, action: str, key: m.Key, at: datetime | None = None
) -> Statement:
    """The statement the representative holding ``key`` signs, dated by the server."""
    return Statement(
        action,
        text.letter_id,
        text.version,
        text.text_hash,
        party.id,
        key.representative_id,
        key.id,
        at or timezone.now(),
    )


def visible(text: str) -> str:
    """``text`` with every invisible format character (Unicode Cf) shown as ``<U+XXXX>``.

    Bidirectional controls can make a text display differently from what it says, and
    what is signed must be what is seen (``cosignatory sign`` shows texts the same way).
    """
    return "".join(f"<U+{ord(ch):04X}>" if unicodedata.category(ch) == "Cf" else ch for ch in text)

"""A letter's history in words: each event of the log as one line of a timeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext_lazy as _

from cosignatory.web.register import models as m

_LABELS = {
    "letter.created": _("Letter created (draft)"),
    "letter.text_version_added": _("New text version"),
    "letter.opened": _("Opened for signature"),
    "letter.closed": _("Closed for signature"),
    "letter.reopened": _("Reopened for signature or accession"),
    "letter.transmitted": _("Transmitted to the addressees"),
    "letter.registered": _("Registered as an official document"),
    "letter.registration_cancelled": _("Registration cancelled"),
    "letter.published": _("Published"),
    "document.issued": _("Document issued"),
    "dispute.filed": _("Signature disputed"),
    "dispute.resolved": _("Dispute resolved"),
}
_ACTIONS = {
    "sign": _("Signed"),
    "accede": _("Acceded"),
    "withdraw": _("Signature withdrawn"),
}


@dataclass(frozen=True)
class Moment:
    """One event as a timeline shows it."""

    log_index: int
    at: datetime
    type: str
    label: str
    party: m.Party | None


def describe(records: Iterable[m.EventRecord]) -> list[Moment]:
    """The timeline lines for ``records`` (which should select their ``party``). Two
    queries in all, to tell signatures from accessions and withdrawals."""
    records = list(records)
    indexes = [r.log_index for r in records if r.type == "signature.recorded"]
    actions = dict(
        m.Signature.objects.filter(log_index__in=indexes).values_list("log_index", "action")
    )
    if len(actions) < len(indexes):
        # A withdrawn signature is inactive: look among those only (an index), not at
        # every signature's JSON.
        withdrawals = m.Signature.objects.filter(
            letter_id__in={r.letter_id for r in records},
            active__in=[False],
            withdrawal__log_index__in=[i for i in indexes if i not in actions],
        ).values_list("withdrawal", flat=True)
        actions.update((w["log_index"], "withdraw") for w in withdrawals if w)
    moments = []
    for record in records:
        if record.type == "signature.recorded":
            label = str(_ACTIONS.get(actions.get(record.log_index, ""), record.type))
        else:
            label = str(_LABELS.get(record.type, record.type))
        moments.append(Moment(record.log_index, record.at, record.type, label, record.party))
    return moments

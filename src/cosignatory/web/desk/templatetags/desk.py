"""``{% load desk %}``: ``status|status_label`` and ``kind|evidence_label`` in the reader's
language."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

from cosignatory.web.desk.common import STATUS_LABELS

register = template.Library()


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


EVIDENCE_LABELS = {
    "self-signed": _("self-signed"),
    "attested": _("attested"),
    "email-verified": _("email-verified"),
}


@register.filter
def evidence_label(kind: str) -> str:
    return str(EVIDENCE_LABELS.get(kind, kind))

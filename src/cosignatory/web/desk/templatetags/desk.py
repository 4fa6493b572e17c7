"""``{% load desk %}``: ``status|status_label`` names a letter's status in the reader's language."""

from __future__ import annotations

from django import template

from cosignatory.web.desk.common import STATUS_LABELS

register = template.Library()


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))

"""The verify page (being written)."""

from cosignatory.web.public.views import _todo

letter_verify = _todo

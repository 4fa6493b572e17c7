"""Downloads (being written)."""

from cosignatory.web.public.views import _todo

signatories_csv = signatories_json = letter_pdf = _todo

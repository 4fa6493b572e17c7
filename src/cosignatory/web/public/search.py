"""Search (being written)."""

from cosignatory.web.public.views import _todo

search = _todo

"""Public pages (being written)."""

from django.http import Http404, HttpRequest, HttpResponse


def _todo(request: HttpRequest, **kwargs: str) -> HttpResponse:
    raise Http404


bodies = body = session = document = letters = letter = letter_history = _todo
parties = party = compare = _todo

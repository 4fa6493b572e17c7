"""Atom feeds (being written)."""

from cosignatory.web.public.views import _todo


def SessionFeed() -> object:  # noqa: N802
    return _todo


LetterFeed = PartyFeed = SessionFeed

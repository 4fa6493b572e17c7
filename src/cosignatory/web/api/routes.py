"""The one router every operation is on.

Ninja makes one URL pattern per path and router, and Django stops at the first
pattern that matches: a path that is both read and written (``/letters``) must have
its GET and its POST on the same router, or one of them answers 405.
"""

from __future__ import annotations

from ninja import Router

router = Router()

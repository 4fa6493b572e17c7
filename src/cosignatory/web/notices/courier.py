"""The server's courier: a process of its own that delivers due email notices.

It is started afresh (multiprocessing's "spawn"), so this module imports nothing from
Django until the process has set Django up.
"""

from __future__ import annotations

import os


def main(every: float) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cosignatory.web.settings")
    import django

    django.setup()
    from cosignatory.web.notices.services import delivery_loop

    delivery_loop(every)

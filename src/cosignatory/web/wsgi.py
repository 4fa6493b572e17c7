"""The WSGI application, served by ``cosignatory serve`` through gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cosignatory.web.settings")
application = get_wsgi_application()


def _warm() -> None:
    """Import every view and the signing path now, not on a worker's first requests: a
    worker that starts under load would otherwise answer its first signatures slowly."""
    from django.urls import get_resolver

    import cosignatory.web.register.sequencer  # noqa: F401

    get_resolver().url_patterns  # noqa: B018 (imports every URLconf and view module)


_warm()

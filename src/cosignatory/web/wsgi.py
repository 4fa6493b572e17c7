"""The WSGI application, served by ``cosignatory serve`` through gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cosignatory.web.settings")
application = get_wsgi_application()

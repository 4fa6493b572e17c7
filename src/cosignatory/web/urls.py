"""The site's URL map. The ``/log/`` and ``/api/v1/`` paths are part of the public contract."""

from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from django.views.i18n import set_language

from cosignatory.web import views
from cosignatory.web.register import views as register_views

urlpatterns = [
    path("", views.home, name="home"),
    path("log/", include("cosignatory.web.log.urls")),
    path("api/v1/", include("cosignatory.web.api.urls")),
    path("confirm/<str:token>", register_views.confirm, name="confirm-signature"),
    path("disputes/new", register_views.dispute, name="dispute-signature"),
    # Browsers ask for /favicon.ico where a page names no icon (a PDF viewer, say).
    path("favicon.ico", RedirectView.as_view(url=static("cosignatory/favicon.svg"))),
    # Without CSRF: the form is on every page, and a token in it would make each page
    # different for each reader, so that no public page could be cached whole
    # (web/public/pagecache.py). The most another site can do with it is change a
    # reader's language.
    path("i18n/setlang/", csrf_exempt(set_language), name="set-language"),
    path("accounts/", include("cosignatory.web.accounts.urls")),
    path("desk/", include("cosignatory.web.desk.urls")),
    path("sign/", include("cosignatory.web.signing.urls")),
    path("", include("cosignatory.web.public.urls")),
]

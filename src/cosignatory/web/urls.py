"""The site's URL map. The ``/log/`` and ``/api/v1/`` paths are part of the public contract."""

from django.urls import include, path

from cosignatory.web import views
from cosignatory.web.register import views as register_views

urlpatterns = [
    path("", views.home, name="home"),
    path("log/", include("cosignatory.web.log.urls")),
    path("api/v1/", include("cosignatory.web.api.urls")),
    path("confirm/<str:token>", register_views.confirm, name="confirm-signature"),
    path("disputes/new", register_views.dispute, name="dispute-signature"),
]

"""The site's URL map. The ``/log/`` paths are part of the public contract."""

from django.urls import include, path

from cosignatory.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("log/", include("cosignatory.web.log.urls")),
]

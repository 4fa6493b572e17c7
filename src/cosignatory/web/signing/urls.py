"""Signing in the browser, mounted at ``/sign/``."""

from django.urls import path

from cosignatory.web.signing import views

app_name = "signing"
urlpatterns = [
    path("", views.home, name="home"),
    # Two segments, so no letter id can shadow them.
    path("statements/submit", views.submit, name="submit"),
    path("statements/upload", views.upload, name="upload"),
    path("<str:letter>/", views.letter, name="letter"),
]

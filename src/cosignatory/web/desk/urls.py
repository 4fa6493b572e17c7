"""The registrar's desk (``/desk/``): every page needs the registrar role and a second factor."""

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern
from django.urls import path as django_path
from django.views.decorators.cache import never_cache

from cosignatory.web.desk import letters, views


def path(route: str, view: Callable[..., Any], name: str) -> URLPattern:
    # Desk pages are never stored by browsers or proxies (shared office computers).
    return django_path(route, never_cache(view), name=name)


app_name = "desk"
urlpatterns = [
    path("", views.home, name="home"),
    path("bodies/", views.bodies, name="bodies"),
    path("sessions/", views.sessions, name="sessions"),
    path("parties/", views.parties, name="parties"),
    path("parties/state", views.add_state, name="add-state"),
    path("parties/new", views.add_party, name="add-party"),
    path("representatives/", views.representatives, name="representatives"),
    path("representatives/<str:representative>/", views.representative, name="representative"),
    path(
        "representatives/<str:representative>/mandates",
        views.grant_mandate,
        name="grant-mandate",
    ),
    path("representatives/<str:representative>/keys", views.register_key, name="register-key"),
    path("mandates/<str:id>/end", views.end_mandate, name="end-mandate"),
    path("keys/<str:id>/revoke", views.revoke_key, name="revoke-key"),
    path("letters/", letters.letters, name="letters"),
    path("letters/new", letters.new_letter, name="new-letter"),
    path("letters/<str:letter>/", letters.letter, name="letter"),
    path("letters/<str:letter>/text", letters.letter_text, name="letter-text"),
    path("letters/<str:letter>/transmit", letters.transmit, name="transmit"),
    path("letters/<str:letter>/register", letters.register_document, name="register"),
    path(
        "letters/<str:letter>/cancel-registration",
        letters.cancel_registration,
        name="cancel-registration",
    ),
    path("letters/<str:letter>/documents", letters.issue_document, name="issue-document"),
    path("letters/<str:letter>/signatures", letters.record_attested, name="record-attested"),
    path("letters/<str:letter>/import", letters.import_signatures, name="import"),
    path("letters/<str:letter>/import/confirm", letters.confirm_import, name="confirm-import"),
    path("letters/<str:letter>/step/<str:step>", letters.letter_step, name="letter-step"),
    path("disputes/", views.disputes, name="disputes"),
    path("disputes/<str:id>/resolve", views.resolve_dispute, name="resolve-dispute"),
]

"""The public register's pages: readable by anyone, without JavaScript or login."""

from django.urls import path
from django.views.decorators.http import require_safe

from cosignatory.web.public import downloads, feeds, search, verify, views

app_name = "public"
urlpatterns = [
    path("bodies/", views.bodies, name="bodies"),
    path("bodies/<str:body>/", views.body, name="body"),
    path("sessions/<str:session>/", views.session, name="session"),
    path(
        "sessions/<str:session>/feed.atom", require_safe(feeds.SessionFeed()), name="session-feed"
    ),
    # Symbols contain slashes: /documents/A/HRC/41/G/17/Add.1
    path("documents/<path:symbol>", views.document, name="document"),
    path("letters/", views.letters, name="letters"),
    path("letters/<str:letter>/", views.letter, name="letter"),
    path("letters/<str:letter>/history", views.letter_history, name="letter-history"),
    path("letters/<str:letter>/feed.atom", require_safe(feeds.LetterFeed()), name="letter-feed"),
    path("letters/<str:letter>/signatories.csv", downloads.signatories_csv, name="letter-csv"),
    path("letters/<str:letter>/signatories.json", downloads.signatories_json, name="letter-json"),
    path("letters/<str:letter>/document.pdf", downloads.letter_pdf, name="letter-pdf"),
    path("letters/<str:letter>/verify", verify.letter_verify, name="letter-verify"),
    path("parties/", views.parties, name="parties"),
    path("parties/<str:party>/", views.party, name="party"),
    path("parties/<str:party>/feed.atom", require_safe(feeds.PartyFeed()), name="party-feed"),
    path("compare/", views.compare, name="compare"),
    path("search/", search.search, name="search"),
]

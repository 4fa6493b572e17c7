"""The registrar's desk: the dashboard, reference data (bodies, sessions, parties,
representatives, mandates, keys) and disputes. Letters are in :mod:`.letters`.

Every view is behind :func:`registrar_required` (role ``registrar``, second factor
passed); every change is a POST that calls one service of
:mod:`cosignatory.web.register.services`, so each is one event in the log. A refusal
by the register's rules is shown on the form, and nothing is recorded.

A party or representative whose name looks like one already registered
(:mod:`cosignatory.web.register.lookalikes`) is not recorded until the registrar ticks
the confirmation the warning shows.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from cosignatory.web.accounts.roles import registrar_required
from cosignatory.web.desk.common import STATUS_LABELS, STATUSES, attempt
from cosignatory.web.desk.forms import (
    BodyForm,
    KeyForm,
    LookalikeForm,
    MandateForm,
    PartyForm,
    ReasonForm,
    RepresentativeForm,
    ResolveForm,
    SessionForm,
    StateForm,
)
from cosignatory.web.register import models as m
from cosignatory.web.register import services
from cosignatory.web.register.lookalikes import (
    Lookalike,
    party_lookalikes,
    representative_lookalikes,
    state_lookalikes,
)


@registrar_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: letters by status, open disputes, and what is waiting to be done."""
    counts = dict(
        m.Letter.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    letters = m.Letter.objects.order_by("-created_at")
    pending = [
        (_("Drafts to write or open"), letters.filter(status="draft")[:20]),
        (_("Open for signature: close or transmit"), letters.filter(status="open")[:20]),
        (_("Closed: transmit or reopen"), letters.filter(status="closed")[:20]),
        (
            _("Transmitted: register as an official document"),
            letters.filter(status="transmitted")[:20],
        ),
        (_("Registered: publish"), letters.filter(status="registered")[:20]),
    ]
    return render(
        request,
        "desk/home.html",
        {
            "by_status": [(s, STATUS_LABELS[s], counts.get(s, 0)) for s in STATUSES],
            "pending": [(title, list(rows)) for title, rows in pending],
            "disputes": m.Dispute.objects.filter(outcome__isnull=True)
            .select_related("party", "letter")
            .order_by("filed_at")[:50],
            "log_size": m.EventRecord.objects.count(),
        },
    )


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], failed: bool = False
) -> HttpResponse:
    return render(request, f"desk/{template}", context, status=400 if failed else 200)


# -- bodies and sessions ---------------------------------------------------------------


@registrar_required
def bodies(request: HttpRequest) -> HttpResponse:
    form = BodyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.create_body(
                d["id"], form.names(), d["symbol_root"], d["symbol_format"] or None
            ),
            _("Body created."),
        ):
            return redirect("desk:bodies")
    return _page(
        request,
        "bodies.html",
        {"form": form, "bodies": m.Body.objects.order_by("id")},
        failed=request.method == "POST",
    )


@registrar_required
def sessions(request: HttpRequest) -> HttpResponse:
    form = SessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.create_session(
                d["id"],
                d["body"],
                d["number"],
                form.names(),
                d["start"],
                d["end"],
                d["symbol_prefix"],
            ),
            _("Session created."),
        ):
            return redirect("desk:sessions")
    return _page(
        request,
        "sessions.html",
        {"form": form, "sessions": m.Session.objects.select_related("body").order_by("id")},
        failed=request.method == "POST",
    )


def _unconfirmed(form: LookalikeForm, found: list[Lookalike]) -> bool:
    """Whether to stop and warn: look-alikes were found and not confirmed."""
    if found and not form.confirmed():
        form.warn(found)
        return True
    return False


# -- parties -----------------------------------------------------------------------------


def _parties_page(
    request: HttpRequest, state_form: forms.Form, party_form: forms.Form, failed: bool
) -> HttpResponse:
    kind = request.GET.get("kind", "")
    parties = m.Party.objects.order_by("kind", "id")
    if kind:
        parties = parties.filter(kind=kind)
    return _page(
        request,
        "parties.html",
        {"state_form": state_form, "party_form": party_form, "parties": parties, "kind": kind},
        failed=failed,
    )


@registrar_required
@require_safe
def parties(request: HttpRequest) -> HttpResponse:
    return _parties_page(request, StateForm(), PartyForm(), failed=False)


@registrar_required
@require_POST
def add_state(request: HttpRequest) -> HttpResponse:
    form = StateForm(request.POST)
    if form.is_valid() and not _unconfirmed(form, state_lookalikes(form.cleaned_data["code"])):
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.register_state(d["code"], d["contact"] or None),
            _("State registered."),
        ):
            return redirect("desk:parties")
    return _parties_page(request, form, PartyForm(), failed=True)


@registrar_required
@require_POST
def add_party(request: HttpRequest) -> HttpResponse:
    form = PartyForm(request.POST)
    if form.is_valid() and not _unconfirmed(
        form, party_lookalikes(form.names(), form.cleaned_data["id"])
    ):
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.register_party(
                d["id"],
                d["kind"],
                form.names(),
                contact=d["contact"] or None,
                members=form.member_list() or None,
            ),
            _("Party registered."),
        ):
            return redirect("desk:parties")
    return _parties_page(request, StateForm(), form, failed=True)


# -- representatives, mandates, keys -------------------------------------------------------


@registrar_required
def representatives(request: HttpRequest) -> HttpResponse:
    form = RepresentativeForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and not _unconfirmed(
            form, representative_lookalikes(form.cleaned_data["name"], form.cleaned_data["id"])
        )
    ):
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.register_representative(d["id"], d["name"], d["contact"] or None),
            _("Representative registered."),
        ):
            return redirect("desk:representative", representative=d["id"])
    return _page(
        request,
        "representatives.html",
        {"form": form, "representatives": m.Representative.objects.order_by("id")},
        failed=request.method == "POST",
    )


def _representative_page(
    request: HttpRequest, rep: m.Representative, failed: bool = False, **forms_: forms.Form
) -> HttpResponse:
    context: dict[str, Any] = {
        "rep": rep,
        "mandates": m.Mandate.objects.filter(representative=rep)
        .select_related("party")
        .order_by("valid_from"),
        "keys": m.Key.objects.filter(representative=rep).order_by("valid_from"),
        "mandate_form": MandateForm(),
        "key_form": KeyForm(),
        "reason_form": ReasonForm(),
    }
    context.update(forms_)
    return _page(request, "representative.html", context, failed=failed)


@registrar_required
@require_safe
def representative(request: HttpRequest, representative: str) -> HttpResponse:
    rep = get_object_or_404(m.Representative, pk=representative)
    return _representative_page(request, rep)


@registrar_required
@require_POST
def grant_mandate(request: HttpRequest, representative: str) -> HttpResponse:
    rep = get_object_or_404(m.Representative, pk=representative)
    form = MandateForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.grant_mandate(
                services.new_id("mandate"),
                rep.id,
                d["party"],
                form.valid_from_time(),
                form.valid_until_time(),
                form.instrument(),
            ),
            _("Mandate granted."),
        ):
            return redirect("desk:representative", representative=rep.id)
    return _representative_page(request, rep, failed=True, mandate_form=form)


@registrar_required
@require_POST
def end_mandate(request: HttpRequest, id: str) -> HttpResponse:
    mandate = get_object_or_404(m.Mandate, pk=id)
    form = ReasonForm(request.POST)
    if form.is_valid() and attempt(
        request,
        form,
        lambda: services.end_mandate(mandate.id, form.cleaned_data["reason"]),
        _("Mandate ended."),
    ):
        return redirect("desk:representative", representative=mandate.representative_id)
    return _representative_page(request, mandate.representative, failed=True, reason_form=form)


@registrar_required
@require_POST
def register_key(request: HttpRequest, representative: str) -> HttpResponse:
    rep = get_object_or_404(m.Representative, pk=representative)
    form = KeyForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.register_key(
                d["id"] or services.new_id("key"),
                rep.id,
                d["public_key"],
                form.valid_from_time(),
                form.valid_until_time(),
            ),
            _("Key registered."),
        ):
            return redirect("desk:representative", representative=rep.id)
    return _representative_page(request, rep, failed=True, key_form=form)


@registrar_required
@require_POST
def revoke_key(request: HttpRequest, id: str) -> HttpResponse:
    key = get_object_or_404(m.Key, pk=id)
    form = ReasonForm(request.POST)
    if form.is_valid() and attempt(
        request,
        form,
        lambda: services.revoke_key(key.id, form.cleaned_data["reason"]),
        _("Key revoked."),
    ):
        return redirect("desk:representative", representative=key.representative_id)
    return _representative_page(request, key.representative, failed=True, reason_form=form)


# -- disputes ---------------------------------------------------------------------------------


def _disputes_page(
    request: HttpRequest, failed: bool = False, form: forms.Form | None = None
) -> HttpResponse:
    rows = m.Dispute.objects.select_related("party", "letter", "signature").order_by(
        "resolved_at", "-filed_at"
    )
    return _page(
        request,
        "disputes.html",
        {
            "open": [d for d in rows if d.outcome is None],
            "resolved": [d for d in rows if d.outcome is not None],
            "form": form or ResolveForm(),
            "failed": failed,
        },
        failed=failed,
    )


@registrar_required
@require_safe
def disputes(request: HttpRequest) -> HttpResponse:
    return _disputes_page(request)


@registrar_required
@require_POST
def resolve_dispute(request: HttpRequest, id: str) -> HttpResponse:
    dispute = get_object_or_404(m.Dispute, pk=id)
    form = ResolveForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.resolve_dispute(dispute.id, d["outcome"], d["note"]),
            _("Dispute resolved."),
        ):
            return redirect("desk:disputes")
    return _disputes_page(request, failed=True, form=form)

"""The desk's letter workflow: create, write text versions, open, close, transmit,
register as an official document, issue Add./Corr./Rev., publish, record attested
signatures one by one or from a CSV file (previewed first, as ``cosignatory import``).

The letter's page offers only the steps its status allows (the lifecycle in
:mod:`cosignatory.core.state`); the register's rules still judge every step.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from cosignatory.core import limits
from cosignatory.core.state import AFTER_TRANSMISSION
from cosignatory.errors import CosignatoryError
from cosignatory.web.accounts.roles import registrar_required
from cosignatory.web.desk.common import STATUS_LABELS, STATUSES, attempt, error_text
from cosignatory.web.desk.forms import (
    AttestedForm,
    IssueDocumentForm,
    LetterForm,
    ReasonForm,
    RegisterDocumentForm,
    TextVersionForm,
    TransmitForm,
    UploadForm,
)
from cosignatory.web.register import intake, services
from cosignatory.web.register import models as m

MAX_UPLOAD_BYTES = limits.DESK_UPLOAD_BYTES
"""The largest CSV file the desk takes (bigger files: ``cosignatory import``)."""
_PENDING = "desk-import"  # session key: the one upload awaiting confirmation


@registrar_required
@require_safe
def letters(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    rows = m.Letter.objects.select_related("lead_party").order_by("-created_at")
    if status in STATUS_LABELS:
        rows = rows.filter(status=status)
    return render(
        request,
        "desk/letters.html",
        {
            "letters": rows[:500],
            "status": status,
            "statuses": [(s, STATUS_LABELS[s]) for s in STATUSES],
        },
    )


@registrar_required
def new_letter(request: HttpRequest) -> HttpResponse:
    form = LetterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.create_letter(
                d["id"],
                form.names(),
                form.addressee_list(),
                d["lead_party"],
                d["letter_date"],
                d["session"] or None,
            ),
            _("Letter created. Now write its text."),
        ):
            return redirect("desk:letter-text", letter=d["id"])
    return render(
        request,
        "desk/letter_new.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


def _steps(letter: m.Letter) -> dict[str, bool]:
    """What can be done next, given the letter's status (the register decides in the end)."""
    status = letter.status
    after = status in AFTER_TRANSMISSION
    return {
        "text": status != "published",
        "open": status == "draft" and letter.current_version > 0,
        "close": status == "open" or (after and letter.accessions_open),
        "reopen": status == "closed" or (after and not letter.accessions_open),
        "transmit": status in ("open", "closed"),
        "register": status == "transmitted",
        "cancel": status == "registered",
        "publish": status == "registered",
        "issue": status in ("registered", "published"),
        "record": status == "open" or after,
        "after": after,
    }


def _letter_page(
    request: HttpRequest, letter: m.Letter, failed: bool = False, **forms_: forms.Form
) -> HttpResponse:
    default_action = "accede" if letter.status in AFTER_TRANSMISSION else "sign"
    context: dict[str, Any] = {
        "letter": letter,
        "status_label": STATUS_LABELS.get(letter.status, letter.status),
        "steps": _steps(letter),
        "versions": letter.versions.order_by("-version"),
        "documents": letter.documents.order_by("issued_at"),
        "signatures": letter.signatures.select_related("party").order_by("at"),
        "disputes": letter.disputes.select_related("party").order_by("filed_at"),
        "transmit_form": TransmitForm(),
        "register_form": RegisterDocumentForm(
            initial={"session": letter.session_id, "series": "G"}
        ),
        "cancel_form": ReasonForm(),
        "issue_form": IssueDocumentForm(initial={"version": letter.current_version or None}),
        "attested_form": AttestedForm(initial={"action": default_action}),
        "log_entries": m.EventRecord.objects.filter(letter=letter).count(),
    }
    context.update(forms_)
    # The refused form's errors also go at the top: its step may not be on offer now.
    context["failed_form"] = next(iter(forms_.values()), None) if failed else None
    return render(request, "desk/letter.html", context, status=400 if failed else 200)


@registrar_required
@require_safe
def letter(request: HttpRequest, letter: str) -> HttpResponse:
    return _letter_page(request, get_object_or_404(m.Letter, pk=letter))


@registrar_required
def letter_text(request: HttpRequest, letter: str) -> HttpResponse:
    """Write a new text version: a textarea per language, a preview, then save."""
    found = get_object_or_404(m.Letter, pk=letter)
    current = found.versions.order_by("-version").first()
    initial = {f"text_{code}": text for code, text in (current.texts if current else {}).items()}
    form = TextVersionForm(request.POST or None, initial=initial)
    preview = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            if "preview" in request.POST:
                preview = list(form.texts().items())
                status = 200
            elif attempt(
                request,
                form,
                lambda: services.add_text_version(found.id, form.texts()),
                _("Text version saved."),
            ):
                saved = found.versions.order_by("-version").first()
                if saved is not None:
                    messages.info(
                        request,
                        _("Version %(version)d; its hash (what signatures bind to): %(hash)s")
                        % {"version": saved.version, "hash": saved.text_hash},
                    )
                return redirect("desk:letter", letter=found.id)
    return render(
        request,
        "desk/letter_text.html",
        {"letter": found, "form": form, "preview": preview, "current": current},
        status=status,
    )


_SIMPLE_STEPS = {
    "open": (services.open_letter, gettext_lazy("Letter opened for signature.")),
    "close": (services.close_letter, gettext_lazy("Closed.")),
    "reopen": (services.reopen_letter, gettext_lazy("Reopened.")),
    "publish": (services.publish_letter, gettext_lazy("Letter published.")),
}


@registrar_required
@require_POST
def letter_step(request: HttpRequest, letter: str, step: str) -> HttpResponse:
    """Open, close, reopen or publish: steps with nothing to fill in."""
    found = get_object_or_404(m.Letter, pk=letter)
    if step not in _SIMPLE_STEPS:
        raise Http404
    service, done = _SIMPLE_STEPS[step]
    form = forms.Form(request.POST)
    if form.is_valid() and attempt(request, form, lambda: service(found.id), str(done)):
        return redirect("desk:letter", letter=found.id)
    return _letter_page(request, found, failed=True, step_form=form)


@registrar_required
@require_POST
def transmit(request: HttpRequest, letter: str) -> HttpResponse:
    found = get_object_or_404(m.Letter, pk=letter)
    form = TransmitForm(request.POST)
    if form.is_valid() and attempt(
        request,
        form,
        lambda: services.transmit_letter(found.id, form.cleaned_data["on"]),
        _("Letter transmitted."),
    ):
        return redirect("desk:letter", letter=found.id)
    return _letter_page(request, found, failed=True, transmit_form=form)


@registrar_required
@require_POST
def register_document(request: HttpRequest, letter: str) -> HttpResponse:
    found = get_object_or_404(m.Letter, pk=letter)
    form = RegisterDocumentForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        recorded = attempt(
            request,
            form,
            lambda: services.register_document(found.id, d["session"], d["series"].strip()),
            _("Registered as an official document."),
        )
        if recorded:
            return redirect("desk:letter", letter=found.id)
    return _letter_page(request, found, failed=True, register_form=form)


@registrar_required
@require_POST
def cancel_registration(request: HttpRequest, letter: str) -> HttpResponse:
    found = get_object_or_404(m.Letter, pk=letter)
    form = ReasonForm(request.POST)
    if form.is_valid() and attempt(
        request,
        form,
        lambda: services.cancel_registration(found.id, form.cleaned_data["reason"]),
        _("Registration cancelled; the symbol is never used again."),
    ):
        return redirect("desk:letter", letter=found.id)
    return _letter_page(request, found, failed=True, cancel_form=form)


@registrar_required
@require_POST
def issue_document(request: HttpRequest, letter: str) -> HttpResponse:
    found = get_object_or_404(m.Letter, pk=letter)
    form = IssueDocumentForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        version = d["version"] if d["kind"] in ("Corr", "Rev") else None
        if attempt(
            request,
            form,
            lambda: services.issue_document(found.id, d["kind"], version, d["note"] or None),
            _("Document issued."),
        ):
            return redirect("desk:letter", letter=found.id)
    return _letter_page(request, found, failed=True, issue_form=form)


@registrar_required
@require_POST
def record_attested(request: HttpRequest, letter: str) -> HttpResponse:
    found = get_object_or_404(m.Letter, pk=letter)
    form = AttestedForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        if attempt(
            request,
            form,
            lambda: services.record_attested(
                found.id,
                d["party"],
                d["action"],
                form.instrument(),
                d["representative"].strip() or None,
            ),
            _("Signature recorded."),
        ):
            return redirect("desk:letter", letter=found.id)
    return _letter_page(request, found, failed=True, attested_form=form)


# -- CSV upload: preview, then confirm -----------------------------------------------------


def _import_page(
    request: HttpRequest,
    found: m.Letter,
    form: forms.Form,
    plan: intake.Plan | None = None,
    token: str | None = None,
    failed: bool = False,
    problem: str | None = None,
) -> HttpResponse:
    return render(
        request,
        "desk/import.html",
        {
            "letter": found,
            "form": form,
            "plan": plan,
            "summary": plan.summary() if plan else None,
            "token": token,
            "max_bytes": MAX_UPLOAD_BYTES,
            "problem": problem,
        },
        status=400 if failed else 200,
    )


@registrar_required
def import_signatures(request: HttpRequest, letter: str) -> HttpResponse:
    """Upload a CSV file and see what it would record (nothing is recorded yet)."""
    found = get_object_or_404(m.Letter, pk=letter)
    if request.method != "POST":
        return _import_page(request, found, UploadForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_page(request, found, form, failed=True)
    upload = form.cleaned_data["file"]
    if upload.size > MAX_UPLOAD_BYTES:
        form.add_error(
            "file",
            _("The file is larger than %(limit)d bytes: use `cosignatory import` for it.")
            % {"limit": MAX_UPLOAD_BYTES},
        )
        return _import_page(request, found, form, failed=True)
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    try:
        plan = intake.plan_import(found.id, data)
    except CosignatoryError as error:
        form.add_error("file", error_text(error))
        return _import_page(request, found, form, failed=True)
    token = None
    if not plan.errors and plan.changes:
        # Kept in the session (server-side), one upload at a time, until confirmed.
        token = secrets.token_urlsafe(16)
        request.session[_PENDING] = {
            "token": token,
            "letter": found.id,
            "sha256": hashlib.sha256(data).hexdigest(),
            "data": base64.b64encode(data).decode(),
        }
    else:
        request.session.pop(_PENDING, None)
    return _import_page(request, found, UploadForm(), plan=plan, token=token)


@registrar_required
@require_POST
def confirm_import(request: HttpRequest, letter: str) -> HttpResponse:
    """Record the previewed file: all its rows in one transaction, or none."""
    found = get_object_or_404(m.Letter, pk=letter)
    pending = request.session.get(_PENDING)
    if (
        not pending
        or pending.get("letter") != found.id
        or not secrets.compare_digest(str(pending.get("token")), request.POST.get("token", ""))
    ):
        problem = _("This upload is no longer waiting: upload the file again.")
        return _import_page(request, found, UploadForm(), failed=True, problem=problem)
    data = base64.b64decode(pending["data"])
    try:
        plan = intake.plan_import(found.id, data)
        applied = intake.apply(plan)
    except CosignatoryError as error:
        problem = error_text(error)
        return _import_page(request, found, UploadForm(), failed=True, problem=problem)
    request.session.pop(_PENDING, None)
    messages.success(
        request,
        _(
            "Imported: %(recorded)d recorded, %(unchanged)d already recorded. "
            "The log has %(size)d entries."
        )
        % {"recorded": applied.recorded, "unchanged": applied.unchanged, "size": applied.log_size},
    )
    return redirect("desk:letter", letter=found.id)

"""What every desk view shares: calling a service and turning a refusal into a form error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cosignatory.errors import CosignatoryError
from cosignatory.web.register.services import Recorded

STATUS_LABELS = {
    "draft": gettext_lazy("Draft"),
    "open": gettext_lazy("Open for signature"),
    "closed": gettext_lazy("Closed"),
    "transmitted": gettext_lazy("Transmitted"),
    "registered": gettext_lazy("Registered"),
    "published": gettext_lazy("Published"),
}
STATUSES = tuple(STATUS_LABELS)


def error_text(error: CosignatoryError) -> str:
    """One line for a refusal: the register's reason and its stable code."""
    # Some errors are also KeyErrors, whose str() is the quoted repr of the message.
    reason = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    return _("The register refused this: %(reason)s (%(code)s)") % {
        "reason": reason,
        "code": error.code,
    }


def attempt(
    request: HttpRequest, form: forms.Form, call: Callable[[], Recorded], done: str
) -> Recorded | None:
    """Run the service ``call``; on success say so with its log entry, on refusal add the
    reason to ``form`` (nothing was recorded) and return None."""
    try:
        recorded = call()
    except CosignatoryError as error:
        form.add_error(None, error_text(error))
        return None
    if recorded.new:
        messages.success(
            request,
            _("%(done)s Recorded as entry %(index)d of the log.")
            % {"done": done, "index": recorded.log_index},
        )
    else:
        messages.info(
            request,
            _("Nothing changed: this was recorded already (entry %(index)d of the log).")
            % {"index": recorded.log_index},
        )
    return recorded


def any_status_label(status: str) -> Any:
    return STATUS_LABELS.get(status, status)

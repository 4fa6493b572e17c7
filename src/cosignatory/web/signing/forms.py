"""The form for a statement file signed offline (with ``cosignatory sign``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cosignatory.core import limits
from cosignatory.core.errors import StatementError
from cosignatory.core.statements import SignedStatement

MAX_FILE_BYTES = limits.STATEMENT_FILE_BYTES  # a statement file is well under 1 KB


class StatementFileForm(forms.Form):
    statement_file = forms.FileField(
        label=_("Signed statement file"),
        help_text=_("The JSON file written by cosignatory sign --output."),
    )

    def clean_statement_file(self) -> SignedStatement:
        upload: Any = self.cleaned_data["statement_file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(_("This file is too large to be a statement file."))
        try:
            return SignedStatement.from_text(upload.read().decode("utf-8"))
        except UnicodeDecodeError:
            raise forms.ValidationError(_("This file is not text (UTF-8).")) from None
        except StatementError as error:
            raise forms.ValidationError(
                _("This is not a signed statement file: %(reason)s"), params={"reason": error}
            ) from None

"""The desk's forms: they parse what the registrar typed; the register's rules judge it.

A form checks only the shape of the input (required fields, dates, lengths). Whether
the step is allowed (an unused id, a letter in the right state, a current mandate) is
for the register's rules, whose errors the views show as the form's errors.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, time
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cosignatory.core import limits
from cosignatory.core.events import LANGUAGES
from cosignatory.web.register import models as m
from cosignatory.web.register.lookalikes import Lookalike
from cosignatory.web.ui.locale import direction, language_name, localised

INSTRUMENT_KINDS = [
    ("note-verbale", _("Note verbale")),
    ("letter", _("Letter")),
    ("email", _("Email")),
    ("fax", _("Fax")),
    ("in-person", _("In person")),
]
ID_HELP = _("Letters, digits and . _ : - (up to 64); it never changes.")


def _id_field(label: Any, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=64,
        required=required,
        help_text=ID_HELP,
        widget=forms.TextInput(attrs={"autocomplete": "off", "dir": "ltr"}),
    )


def _party_choices() -> list[tuple[str, str]]:
    return [
        (p.id, f"{localised(p.names)} ({p.id})") for p in m.Party.objects.order_by("kind", "id")
    ]


def _start_of(day: Any) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


class NamesForm(forms.Form):
    """A form with a name (or title) in each of the six languages; one at least."""

    names_label: Any = _("Name")
    names_prefix = "name"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = {
            f"{self.names_prefix}_{code}": forms.CharField(
                label=f"{self.names_label} — {language_name(code)}",
                max_length=limits.NAME_CHARS,
                required=False,
                widget=forms.TextInput(attrs={"lang": code, "dir": direction(code)}),
            )
            for code in LANGUAGES
        }
        # The names come first, after the identifier.
        fields = list(self.fields.items())
        self.fields = dict(fields[:1] + list(names.items()) + fields[1:])

    def names(self) -> dict[str, str]:
        return {
            code: value.strip()
            for code in LANGUAGES
            if (value := self.cleaned_data.get(f"{self.names_prefix}_{code}") or "").strip()
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.names():
            raise ValidationError(_("Give the name in one language at least."), code="names")
        return cleaned


class LookalikeForm(forms.Form):
    """A form that records a name: it asks the registrar to confirm a look-alike.

    ``allow_confusable`` stays hidden (and false) until :meth:`warn` shows it as a
    checkbox beside the warning; ticking it and sending the form again records the name.
    """

    # Hidden fields are drawn without their label, so the label waits for warn().
    allow_confusable = forms.BooleanField(
        label=_("The name is right: record it although it looks like another"),
        required=False,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["allow_confusable"] = self.fields.pop("allow_confusable")  # last

    def warn(self, found: list[Lookalike]) -> None:
        """Show what the name looks like, and the checkbox that confirms it."""
        self.fields["allow_confusable"].widget = forms.CheckboxInput()
        for item in found:
            self.add_error(None, lookalike_text(item))

    def confirmed(self) -> bool:
        return bool(self.cleaned_data.get("allow_confusable"))


def lookalike_text(item: Lookalike) -> str:
    """The desk's warning for one look-alike, in the registrar's language."""
    if item.scripts:
        return _(
            "“%(name)s” mixes alphabets in one word (%(scripts)s): a letter of one may "
            "stand in for its look-alike in another."
        ) % {"name": item.name, "scripts": ", ".join(item.scripts)}
    if item.kind == "party":
        text = _("“%(name)s” looks like the name of the party %(id)s: “%(existing)s”.")
    else:
        text = _("“%(name)s” looks like the name of the representative %(id)s: “%(existing)s”.")
    return text % {"name": item.name, "id": item.id, "existing": item.existing}


class BodyForm(NamesForm):
    id = _id_field(_("Identifier"))
    symbol_root = forms.CharField(
        label=_("Symbol root"), max_length=40, help_text=_("For example A/HRC")
    )
    symbol_format = forms.CharField(
        label=_("Symbol format"),
        max_length=100,
        required=False,
        help_text=_("Leave empty for the usual PREFIX + SERIES/NUMBER."),
    )


class SessionForm(NamesForm):
    id = _id_field(_("Identifier"))
    body = forms.ChoiceField(label=_("Body"))
    number = forms.IntegerField(label=_("Number"), min_value=1, max_value=10_000)
    start = forms.DateField(label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))
    symbol_prefix = forms.CharField(
        label=_("Symbol prefix"), max_length=60, help_text=_("For example A/HRC/41/")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["body"].choices = [  # type: ignore[attr-defined]
            (b.id, f"{localised(b.names)} ({b.id})") for b in m.Body.objects.order_by("id")
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", _("The last day is before the first."))
        return cleaned


class StateForm(LookalikeForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "state_%s")  # beside PartyForm on one page
        super().__init__(*args, **kwargs)

    code = forms.CharField(
        label=_("ISO 3166-1 alpha-3 code"),
        min_length=3,
        max_length=3,
        help_text=_("For example FRA; the names in the six languages come from CLDR."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "dir": "ltr"}),
    )
    contact = forms.EmailField(label=_("Contact email for notices"), required=False)

    def clean_code(self) -> str:
        return str(self.cleaned_data["code"]).strip().upper()


class PartyForm(NamesForm, LookalikeForm):
    id = _id_field(_("Identifier"))
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            ("organisation", _("Organisation")),
            ("person", _("Person")),
            ("group", _("Group of parties")),
        ],
    )
    contact = forms.EmailField(label=_("Contact email for notices"), required=False)
    members = forms.CharField(
        label=_("Members (groups only)"),
        required=False,
        help_text=_("The members' identifiers, separated by spaces or commas."),
        widget=forms.TextInput(attrs={"dir": "ltr"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "party_%s")  # beside StateForm on one page
        super().__init__(*args, **kwargs)

    def member_list(self) -> list[str]:
        return [x for x in self.cleaned_data.get("members", "").replace(",", " ").split() if x]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.member_list() and cleaned.get("kind") != "group":
            self.add_error("members", _("Only a group has members."))
        return cleaned


class RepresentativeForm(LookalikeForm):
    id = _id_field(_("Identifier"))
    name = forms.CharField(label=_("Name"), max_length=limits.NAME_CHARS)
    contact = forms.EmailField(label=_("Contact email"), required=False)


class InstrumentForm(forms.Form):
    """The paper that proves a fact: a note verbale, a letter... with its reference and date."""

    instrument_kind = forms.ChoiceField(label=_("Instrument"), choices=INSTRUMENT_KINDS)
    reference = forms.CharField(
        label=_("Reference"),
        max_length=limits.REFERENCE_CHARS,
        help_text=_("For example the note's number"),
    )
    instrument_date = forms.DateField(
        label=_("Date of the instrument"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def instrument(self) -> dict[str, str]:
        return {
            "kind": self.cleaned_data["instrument_kind"],
            "reference": self.cleaned_data["reference"].strip(),
            "date": self.cleaned_data["instrument_date"].isoformat(),
        }


class MandateForm(InstrumentForm):
    party = forms.ChoiceField(label=_("Party"))
    valid_from = forms.DateField(
        label=_("Valid from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_until = forms.DateField(
        label=_("Valid until (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    field_order = ("party", "valid_from", "valid_until", "instrument_kind", "reference")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "mandate_%s")  # beside KeyForm on one page
        super().__init__(*args, **kwargs)
        self.fields["party"].choices = _party_choices()  # type: ignore[attr-defined]
        self.fields["instrument_kind"].label = _("Credentials")

    def valid_from_time(self) -> datetime:
        start = _start_of(self.cleaned_data["valid_from"])
        assert start is not None
        return start

    def valid_until_time(self) -> datetime | None:
        return _start_of(self.cleaned_data.get("valid_until"))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=limits.REASON_CHARS)


class KeyForm(forms.Form):
    id = forms.CharField(
        label=_("Key identifier (optional)"),
        max_length=64,
        required=False,
        help_text=_("Made for you if empty."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "dir": "ltr"}),
    )
    public_key = forms.CharField(
        label=_("Public key"),
        help_text=_(
            "The verifier key line from `cosignatory keygen` (NAME+ID+KEY), "
            "or the raw Ed25519 public key in base64."
        ),
        max_length=400,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}),
    )
    valid_from = forms.DateField(
        label=_("Valid from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_until = forms.DateField(
        label=_("Valid until (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "key_%s")  # beside MandateForm on one page
        super().__init__(*args, **kwargs)

    def clean_public_key(self) -> bytes:
        from cosignatory.errors import CosignatoryError
        from cosignatory.tlog.note import KeyType, Verifier

        text = str(self.cleaned_data["public_key"]).strip()
        if "+" in text and not text.endswith("="):
            try:
                verifier = Verifier.from_vkey(text)
            except CosignatoryError as error:
                raise ValidationError(str(error), code="vkey") from None
            if verifier.key_type is not KeyType.ED25519:
                raise ValidationError(_("The key must be an Ed25519 key."), code="type")
            return verifier.public_key
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValidationError(
                _("This is neither a verifier key line nor a 32-byte key in base64."),
                code="key",
            )
        return raw

    def valid_from_time(self) -> datetime:
        start = _start_of(self.cleaned_data["valid_from"])
        assert start is not None
        return start

    def valid_until_time(self) -> datetime | None:
        return _start_of(self.cleaned_data.get("valid_until"))


class LetterForm(NamesForm):
    names_label = _("Title")
    names_prefix = "title"
    id = _id_field(_("Identifier"))
    addressees = forms.CharField(
        label=_("Addressees"),
        help_text=_("One per line."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    lead_party = forms.ChoiceField(label=_("Lead party"))
    letter_date = forms.DateField(
        label=_("Date of the letter"), widget=forms.DateInput(attrs={"type": "date"})
    )
    session = forms.ChoiceField(label=_("Session (optional)"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead_party"].choices = _party_choices()  # type: ignore[attr-defined]
        self.fields["session"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (s.id, f"{localised(s.names)} ({s.id})") for s in m.Session.objects.order_by("id")
        ]

    def addressee_list(self) -> list[str]:
        lines = str(self.cleaned_data.get("addressees", "")).splitlines()
        return [line.strip() for line in lines if line.strip()]


class TextVersionForm(forms.Form):
    """The letter's text in each language, in Markdown; one language at least."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code in LANGUAGES:
            self.fields[f"text_{code}"] = forms.CharField(
                label=language_name(code),
                required=False,
                max_length=20_000,
                strip=False,
                widget=forms.Textarea(attrs={"lang": code, "dir": direction(code), "rows": 8}),
            )

    def texts(self) -> dict[str, str]:
        return {
            code: value
            for code in LANGUAGES
            if (value := self.cleaned_data.get(f"text_{code}") or "").strip()
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.texts():
            raise ValidationError(_("Write the text in one language at least."), code="texts")
        return cleaned


class TransmitForm(forms.Form):
    on = forms.DateField(
        label=_("Date of transmission"), widget=forms.DateInput(attrs={"type": "date"})
    )


class RegisterDocumentForm(forms.Form):
    session = forms.ChoiceField(label=_("Session"))
    series = forms.CharField(
        label=_("Series"), max_length=10, help_text=_("For example G (general distribution)")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session"].choices = [  # type: ignore[attr-defined]
            (s.id, f"{localised(s.names)} ({s.symbol_prefix})")
            for s in m.Session.objects.order_by("id")
        ]


class IssueDocumentForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            ("Add", _("Addendum (Add.)")),
            ("Corr", _("Corrigendum (Corr.)")),
            ("Rev", _("Revision (Rev.)")),
        ],
    )
    version = forms.IntegerField(
        label=_("Text version"),
        required=False,
        min_value=1,
        help_text=_("Required for Corr. and Rev.: the text version it issues."),
    )
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)


class AttestedForm(InstrumentForm):
    party = forms.ChoiceField(label=_("Party"))
    action = forms.ChoiceField(
        label=_("What the party did"),
        choices=[("sign", _("Signed")), ("accede", _("Acceded")), ("withdraw", _("Withdrew"))],
    )
    representative = forms.CharField(
        label=_("Representative (optional)"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"dir": "ltr"}),
    )
    field_order = ("party", "action", "instrument_kind", "reference", "instrument_date")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["party"].choices = _party_choices()  # type: ignore[attr-defined]


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, with a header naming party, representative, instrument_kind, reference, "
            "date and optionally action."
        ),
    )


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            ("upheld", _("Upheld: the signature is void")),
            ("dismissed", _("Dismissed: the signature stands")),
        ],
    )
    note = forms.CharField(label=_("Note"), max_length=2000)

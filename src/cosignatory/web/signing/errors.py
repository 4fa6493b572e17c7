"""What a representative is told when the register refuses their statement.

One place maps the stable error codes (``cosignatory.core.errors``,
``cosignatory.tlog.errors``) to sentences for people; the error's own text follows as
the detail.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

RELOAD = _(
    "The statement on this page is too old or no longer matches the register. "
    "Reload the page and sign the new statement."
)

MESSAGES: dict[str, Promise] = {
    "E_SIG_INVALID": _(
        "The signature does not verify with your registered key. Check that you chose "
        "the key file whose public key the registrar registered for you."
    ),
    "E_KEY_EXPIRED": _(
        "Your key is not valid now. Ask the registrar to register a new key for you."
    ),
    "E_KEY_REVOKED": _("Your key was revoked. Ask the registrar to register a new key for you."),
    "E_MANDATE": _("Your mandate for this party is not current: you cannot act for it now."),
    "E_WRONG_PARTY": _("You do not hold a mandate to act for this party with this key."),
    "E_TEXT_VERSION": _(
        "The letter's text has changed since this statement was made. Reload the page, "
        "read the new text and sign again."
    ),
    "E_STATEMENT": RELOAD,
    "E_LETTER_CLOSED": _("The letter is not open for signature."),
    "E_NOT_TRANSMITTED": _("The letter has not been transmitted yet: parties sign it, not accede."),
    "E_ACCESSIONS_CLOSED": _("The letter is not open for accessions."),
    "E_ALREADY_SIGNED": _("Your party has signed this text version already."),
    "E_NOT_SIGNED": _("Your party has no signature on this letter to withdraw."),
    "E_NOT_FOUND": _("The register does not know the letter, party, representative or key named."),
    "E_EVENT_INVALID": _("The statement is malformed."),
    "E_TRY_AGAIN": _(
        "The register could not confirm your statement in time. Send it again: if it was "
        "recorded, nothing changes."
    ),
}
DEFAULT = _("The register refused the statement.")


def message_for(code: str) -> str:
    """The sentence shown for error ``code``."""
    return str(MESSAGES.get(code, DEFAULT))

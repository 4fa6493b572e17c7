"""Errors raised by the register's rules (``cosignatory.core``).

The tree::

    CosignatoryError
    └── RegisterError                 E_REGISTER
        ├── InvalidEventError         E_EVENT_INVALID     (malformed event or field)
        │   ├── LimitError            E_LIMIT             (over a limit: core.limits)
        │   └── NameCharacterError    E_NAME_CHARACTER    (hidden character: core.names)
        ├── ConfusableNameError       E_NAME_CONFUSABLE   (a look-alike name, unconfirmed)
        ├── UnknownEntityError        E_NOT_FOUND
        ├── DuplicateEntityError      E_DUPLICATE
        ├── LifecycleError            E_LIFECYCLE         (a step the letter's state forbids)
        ├── LetterClosedError         E_LETTER_CLOSED     (signing a letter not open)
        ├── NotTransmittedError       E_NOT_TRANSMITTED   (acceding before transmission)
        ├── AccessionsClosedError     E_ACCESSIONS_CLOSED
        ├── AlreadySignedError        E_ALREADY_SIGNED    (the same party, the same version)
        ├── NotSignedError            E_NOT_SIGNED        (withdrawing what is not signed)
        ├── WrongPartyError           E_WRONG_PARTY       (acting for another party)
        ├── TextVersionError          E_TEXT_VERSION      (a signature over another text)
        ├── KeyRevokedError           E_KEY_REVOKED
        ├── KeyExpiredError           E_KEY_EXPIRED       (outside the key's validity)
        ├── MandateError              E_MANDATE           (no current mandate for the party)
        ├── StatementError            E_STATEMENT         (a signed statement that does not match)
        ├── SymbolError               E_SYMBOL            (a symbol out of sequence, or reused)
        ├── EvidenceError             E_EVIDENCE          (missing or wrong evidence)
        └── ClockError                E_CLOCK             (an event dated before the one before it)

Bad signatures raise :class:`cosignatory.tlog.errors.SignatureInvalidError` (E_SIG_INVALID).
"""

from __future__ import annotations

from cosignatory.errors import CosignatoryError


class RegisterError(CosignatoryError):
    """Base of every rule the register enforces."""

    code = "E_REGISTER"


class InvalidEventError(RegisterError):
    code = "E_EVENT_INVALID"


class UnknownEntityError(RegisterError):
    code = "E_NOT_FOUND"


class DuplicateEntityError(RegisterError):
    code = "E_DUPLICATE"


class LifecycleError(RegisterError):
    code = "E_LIFECYCLE"


class LetterClosedError(RegisterError):
    code = "E_LETTER_CLOSED"


class NotTransmittedError(RegisterError):
    code = "E_NOT_TRANSMITTED"


class AccessionsClosedError(RegisterError):
    code = "E_ACCESSIONS_CLOSED"


class AlreadySignedError(RegisterError):
    code = "E_ALREADY_SIGNED"


class NotSignedError(RegisterError):
    code = "E_NOT_SIGNED"


class WrongPartyError(RegisterError):
    code = "E_WRONG_PARTY"


class TextVersionError(RegisterError):
    code = "E_TEXT_VERSION"


class KeyRevokedError(RegisterError):
    code = "E_KEY_REVOKED"


class KeyExpiredError(RegisterError):
    code = "E_KEY_EXPIRED"


class MandateError(RegisterError):
    code = "E_MANDATE"


class StatementError(RegisterError):
    code = "E_STATEMENT"


class SymbolError(RegisterError):
    code = "E_SYMBOL"


class EvidenceError(RegisterError):
    code = "E_EVIDENCE"


class ClockError(RegisterError):
    code = "E_CLOCK"

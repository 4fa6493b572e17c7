"""The root of Cosignatory's exception tree.

Every error the project raises on purpose derives from :class:`CosignatoryError` and
carries a stable ``code`` (``E_...``). The API, the CLI and the pages map codes to
responses in one place each; messages are for people and may change, codes never do.
"""

from __future__ import annotations

from typing import ClassVar


class CosignatoryError(Exception):
    """Base of every deliberate Cosignatory error.

    ``code`` is stable and machine-readable; ``str(error)`` is a one-line message.
    """

    code: ClassVar[str] = "E_COSIGNATORY"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

"""Document symbols: ``A/HRC/41/G/17`` and the documents that refer to it.

A body sets the format of its symbols; the default is ``{prefix}{series}/{number}``,
where ``prefix`` is the session's (``A/HRC/41/``). Later documents append
``/Add.N``, ``/Corr.N`` or ``/Rev.N`` to the symbol they refer to.
"""

from __future__ import annotations

import re

from cosignatory.core.errors import SymbolError

DEFAULT_FORMAT = "{prefix}{series}/{number}"
_SERIES = re.compile(r"[A-Z][A-Z0-9]{0,9}")
_PLACEHOLDERS = re.compile(r"\{(\w+)\}")


def official_symbol(symbol_format: str | None, prefix: str, series: str, number: int) -> str:
    """Return the symbol of document ``number`` in ``series`` of a session.

    Raises SymbolError for a series that is not 1-10 capitals and digits, or a format
    with placeholders other than ``prefix``, ``series`` and ``number``.
    """
    if not _SERIES.fullmatch(series):
        raise SymbolError(f"series {series!r} must be 1 to 10 capital letters or digits")
    fmt = symbol_format or DEFAULT_FORMAT
    unknown = set(_PLACEHOLDERS.findall(fmt)) - {"prefix", "series", "number"}
    if unknown or "{number}" not in fmt:
        raise SymbolError(f"symbol format {fmt!r} must use {{number}} and no other names")
    return fmt.format(prefix=prefix, series=series, number=number)


def document_symbol(of: str, kind: str, number: int) -> str:
    """Return the symbol of the ``number``-th ``kind`` (Add, Corr, Rev) of ``of``."""
    if kind not in ("Add", "Corr", "Rev"):
        raise SymbolError(f"document kind {kind!r} is not Add, Corr or Rev")
    return f"{of}/{kind}.{number}"

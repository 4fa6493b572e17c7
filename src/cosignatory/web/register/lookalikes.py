"""Look-alike names: warn the registrar before a new party or representative is recorded
under a name that can be mistaken for one already in the register.

The rule itself is :mod:`cosignatory.core.names` (TR39 skeletons, mixed scripts); this
module reads the existing names from the projections. It is a warning, not a rule of
the log: two persons may rightly share a name, so the desk, the API and the CLI all
refuse with :class:`~cosignatory.core.names.ConfusableNameError` (``E_NAME_CONFUSABLE``)
unless the registrar confirms (``allow_confusable``), and nothing is recorded until then.

The check reads the tables outside the transaction that records the event: two
look-alikes registered at the same instant may both pass. It is a warning for people,
and the log keeps both names for anyone to compare.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cosignatory.core.names import ConfusableNameError, confusable_with, mixed_scripts
from cosignatory.web.register import models as m


@dataclass(frozen=True)
class Lookalike:
    """A new name, and the existing entity whose name it can be mistaken for.

    ``existing`` is empty and ``scripts`` set when the new name mixes scripts in a word.
    """

    name: str
    kind: str = ""  # "party" or "representative"
    id: str = ""
    existing: str = ""
    scripts: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line in English, for the CLI and the API's problem detail."""
        if self.scripts:
            return f"{self.name!r} mixes scripts in one word ({', '.join(self.scripts)})"
        return f"{self.name!r} looks like {self.kind} {self.id}'s name {self.existing!r}"


def _matches(
    new_names: Iterable[str], existing: Iterable[tuple[str, str]], kind: str
) -> list[Lookalike]:
    wanted = [name for name in dict.fromkeys(new_names) if name.strip()]
    found = [Lookalike(name, scripts=tuple(s)) for name in wanted if (s := mixed_scripts(name))]
    rows = list(existing)
    for name in wanted:
        for other_id, other in rows:
            if confusable_with(name, [other]):
                found.append(Lookalike(name, kind, other_id, other))
    return found


def party_lookalikes(names: Mapping[str, str], party_id: str = "") -> list[Lookalike]:
    """The existing parties (but ``party_id`` itself) whose names in any language look
    like one of ``names``, and any of ``names`` that mixes scripts."""
    existing = (
        (pid, name)
        for pid, their in m.Party.objects.exclude(pk=party_id).values_list("id", "names")
        for name in (their or {}).values()
    )
    return _matches(names.values(), existing, "party")


def representative_lookalikes(name: str, representative_id: str = "") -> list[Lookalike]:
    """The existing representatives (but ``representative_id``) whose name looks like
    ``name``, and ``name`` itself if it mixes scripts."""
    existing = m.Representative.objects.exclude(pk=representative_id).values_list("id", "name")
    return _matches([name], existing, "representative")


def state_lookalikes(code: str) -> list[Lookalike]:
    """A state's CLDR names against the other parties' (none for an unknown code: the
    register refuses that when it is recorded)."""
    from cosignatory.core.states import UnknownStateError, state

    try:
        found = state(code)
    except UnknownStateError:
        return []
    return party_lookalikes(dict(found.names), found.code)


def refuse_unconfirmed(found: list[Lookalike], allow: bool) -> None:
    """Raise ConfusableNameError listing ``found`` unless it is empty or ``allow``."""
    if found and not allow:
        raise ConfusableNameError(
            "; ".join(item.describe() for item in found)
            + ": check it, and confirm with allow_confusable to record it anyway"
        )

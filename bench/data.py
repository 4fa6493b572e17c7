"""Deterministic log entries: seeded, JSON events of 100-200 bytes like the register's."""

from __future__ import annotations

import json
import random

_KINDS = ("signature.sign", "signature.accede", "signature.withdraw", "letter.open")
_EVIDENCE = ("self-signed", "attested", "email-verified")
_PARTIES = ("ARG", "AUS", "BRA", "CAN", "CHN", "DEU", "EGY", "FRA", "GBR", "IND", "JPN", "ZAF")


def make_entries(count: int, seed: int) -> list[bytes]:
    """Return ``count`` entries, the same for the same ``seed``: compact sorted-key JSON."""
    rng = random.Random(seed)
    entries = []
    for n in range(count):
        event = {
            "at": f"2019-07-{rng.randint(1, 31):02d}T{rng.randrange(24):02d}:"
            f"{rng.randrange(60):02d}:{rng.randrange(60):02d}Z",
            "evidence": rng.choice(_EVIDENCE),
            "kind": rng.choice(_KINDS),
            "letter": f"A/HRC/{rng.randint(30, 59)}/G/{rng.randint(1, 40)}",
            "n": n,
            "party": rng.choice(_PARTIES),
            "text": rng.randbytes(rng.randint(4, 24)).hex(),
        }
        entries.append(json.dumps(event, sort_keys=True, separators=(",", ":")).encode())
    return entries

"""A letter's verify page: what the log proves about it, and how to check it offline.

The page says in plain words what a check establishes (and what it does not), shows
the log's current checkpoint and public keys, links to the letter's bundle, and gives
the exact commands that fetch them and run ``cosignatory verify`` (docs/bundle.md).
"""

from __future__ import annotations

import base64
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from cosignatory.tlog.checkpoint import open_checkpoint
from cosignatory.web.log.services import get_log
from cosignatory.web.log.witnesses import cosigned_checkpoint
from cosignatory.web.public.lists import EVIDENCE_LABELS, public_letter_or_404
from cosignatory.web.register import models as m
from cosignatory.web.register.bundles import bundle_filename


def _checkpoint() -> dict[str, Any] | None:
    """The log's current checkpoint: its text (with witnesses' cosignatures), origin,
    size and root hash, opened with the log's keys; None if the log has none yet."""
    log = get_log()
    head = log.storage.head()
    if head is None:
        return None
    text = cosigned_checkpoint(head)
    opened = open_checkpoint(text, log.verifiers, origin=log.origin)
    return {
        "text": text,
        "origin": opened.origin,
        "size": opened.size,
        "root": base64.b64encode(opened.root).decode(),
    }


def commands(base: str, letter: str, witnesses: list[str]) -> list[str]:
    """The shell commands that fetch the bundle and the log's key and verify offline."""
    bundle = bundle_filename(letter)
    verify = f"cosignatory verify {bundle} --log-key log.vkey"
    for n, _vkey in enumerate(witnesses):
        verify += f" --witness witness{n}.vkey"
    lines = [
        f"curl -sf {base}/api/v1/letters/{letter}/bundle -o {bundle}",
        f"curl -sf {base}/log/vkey -o log.vkey",
    ]
    lines.extend(f"echo '{vkey}' > witness{n}.vkey" for n, vkey in enumerate(witnesses))
    lines.append(verify)
    return lines


@require_safe
def letter_verify(request: HttpRequest, letter: str) -> HttpResponse:
    """``/letters/<id>/verify``: proofs, checkpoint, keys, bundle and commands."""
    row = public_letter_or_404(letter)
    base = request.build_absolute_uri("/").rstrip("/")
    witnesses = [vkey for _url, vkey in settings.COSIGNATORY_WITNESSES]
    evidence = (
        m.Signature.objects.filter(letter=row)
        .values("evidence_kind")
        .annotate(n=Count("id"))
        .order_by("evidence_kind")
    )
    bundle_path = f"/api/v1/letters/{row.id}/bundle"
    context = {
        "letter": row,
        "versions": row.versions.order_by("version"),
        "evidence": [
            {
                "kind": e["evidence_kind"],
                "label": EVIDENCE_LABELS.get(e["evidence_kind"]),
                "count": e["n"],
            }
            for e in evidence
        ],
        "checkpoint": _checkpoint(),
        "vkeys": [verifier.to_vkey() for verifier in get_log().verifiers],
        "witnesses": witnesses,
        "bundle_url": bundle_path,
        "bundle_filename": bundle_filename(row.id),
        "vkey_url": reverse("log:vkey"),
        "vkeys_url": reverse("log:vkeys"),
        "checkpoint_url": reverse("log:checkpoint"),
        "commands": commands(base, row.id, witnesses),
        "checkpoint_commands": [
            f"curl -sf {base}/log/checkpoint -o checkpoint",
            f"curl -sf {base}/log/vkey -o log.vkey",
            "cosignatory log verify-checkpoint checkpoint --vkey log.vkey",
        ],
    }
    return render(request, "public/verify.html", context)

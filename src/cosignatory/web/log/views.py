"""The log over HTTP, per C2SP tlog-tiles: checkpoint, vkey, hash tiles, entry bundles."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from cosignatory.tlog.errors import MalformedTileError, TileNotFoundError
from cosignatory.tlog.tiles import HashTile, parse_tile_path
from cosignatory.web.log.services import get_log
from cosignatory.web.log.witnesses import cosigned_checkpoint

# C2SP tlog-tiles: full tiles never change and may be cached forever; the checkpoint
# and partial tiles change with every append.
_IMMUTABLE = "public, max-age=31536000, immutable"
_SHORT = "public, max-age=5"
_TEXT = "text/plain; charset=utf-8"


def _not_found(message: str) -> HttpResponse:
    return HttpResponse(message + "\n", status=404, content_type=_TEXT)


@require_safe
def checkpoint(request: HttpRequest) -> HttpResponse:
    head = get_log().storage.head()
    if head is None:
        return HttpResponse("the log is not initialised\n", status=503, content_type=_TEXT)
    # With the witnesses' cosignatures of this very tree (docs/witness.md).
    response = HttpResponse(cosigned_checkpoint(head), content_type=_TEXT)
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def vkey(request: HttpRequest) -> HttpResponse:
    """The log's Ed25519 verifier key, the one tlog-tiles clients know."""
    response = HttpResponse(get_log().verifiers[0].to_vkey() + "\n", content_type=_TEXT)
    response["Cache-Control"] = _SHORT
    return response


@require_safe
def vkeys(request: HttpRequest) -> HttpResponse:
    """Every verifier key of the log, one a line: Ed25519 first, then ML-DSA-44."""
    body = "".join(verifier.to_vkey() + "\n" for verifier in get_log().verifiers)
    response = HttpResponse(body, content_type=_TEXT)
    response["Cache-Control"] = _SHORT
    return response


@require_safe
def tile(request: HttpRequest, tile_path: str) -> HttpResponse:
    try:
        coords = parse_tile_path("tile/" + tile_path)
    except MalformedTileError as error:
        return _not_found(str(error))
    log = get_log()
    try:
        data = log.hash_tile(coords) if isinstance(coords, HashTile) else log.entry_bundle(coords)
    except TileNotFoundError as error:
        return _not_found(str(error))
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Cache-Control"] = _IMMUTABLE if coords.is_full else _SHORT
    return response

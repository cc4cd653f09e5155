"""Download links for the user's files, signed so the platform needs no other credential.

A link is ``{hub}/providers/{instance}/media/{id}?expires=UNIX&signature=HEX`` where HEX
is ``providers.signing.compute(secret, expires, id)``: the same HMAC as the webhooks,
over ``"{expires}.{id}"``. It works until ``expires`` and only for that file.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from yarl import URL

from providers.signing import compute


def signed_link(base_url: str, secret: str, media_id: str, expires: int) -> str:
    """``base_url`` (the file's route) with its ``expires`` and ``signature`` parameters."""
    signature = compute(secret, expires, media_id.encode("utf-8"))
    return str(URL(base_url).with_query(expires=str(expires), signature=signature))


def link_is_valid(
    secrets: Sequence[str], media_id: str, expires: str, signature: str, *, now: float
) -> bool:
    """True when the parameters were signed by one of ``secrets`` and have not expired."""
    if not expires.isdigit() or not expires.isascii() or int(expires) < now:
        return False
    valid = False
    for secret in secrets:
        expected = compute(secret, int(expires), media_id.encode("utf-8"))
        valid |= hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))
    return valid

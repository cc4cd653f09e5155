"""The dashboard sub-app's own keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

# A short hash of the static files, so browsers fetch new ones after an upgrade.
ASSET_VERSION: web.AppKey[str] = web.AppKey("asset_version", str)
# A request's fields once read (the CSRF check reads them before the view does).
FIELDS: web.RequestKey[Mapping[str, Any]] = web.RequestKey("fields", Mapping)

"""The agent dashboard: an aiohttp sub-app (Jinja2 templates, autoescaped) and one small
script over one WebSocket. It talks to the core through the hub's services only:
:class:`~hub.agents.accounts.AgentAccounts`, the desks of the workspace, the
:class:`~hub.conversation.service.ConversationService`, and query functions in
:mod:`hub.store`.

Mounted by the app factory: ``app.add_subapp("/dashboard/", create_dashboard())``; its
handlers read the hub's resources from ``request.config_dict`` (the keys of :mod:`hub.keys`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import NoReturn

import aiohttp_jinja2
import jinja2
from aiohttp import web

from dashboard import conversation, inbox, live, profile, signin, tickets, uploads
from dashboard.admin import agents, bots, canned, deliveries, overview
from dashboard.keys import ASSET_VERSION
from dashboard.middleware import dashboard_middleware

__all__ = ["create_dashboard", "to_dashboard"]

STATIC = Path(__file__).parent / "static"
STATUSES = {"queued": "Waiting", "assigned": "In chat", "ended": "Ended", "ticket": "Ticket"}


def blank_row(**values: str) -> defaultdict[str, str]:
    """A row with every key empty: the <template> copies the script fills in."""
    return defaultdict(str, values)


def _asset_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def create_dashboard() -> web.Application:
    """The dashboard sub-app; mounted in the hub, it uses the hub's services at request time."""
    app = web.Application(middlewares=[dashboard_middleware])
    app[ASSET_VERSION] = _asset_version()
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(asset_version=app[ASSET_VERSION], blank=blank_row, statuses=STATUSES)
    for module in (signin, inbox, conversation, uploads, profile, tickets, live):
        app.router.add_routes(module.routes)
    for module in (agents, bots, canned, deliveries, overview):
        app.router.add_routes(module.routes)
    app.router.add_static("/static/", STATIC, name="static")
    return app


async def to_dashboard(request: web.Request) -> NoReturn:
    """``/`` leads agents to the dashboard."""
    raise web.HTTPFound("/dashboard/")

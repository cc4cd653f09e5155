"""The demo page: a sub-app at ``/demo/`` serving the page and its widget's files."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template
from typing import NoReturn

from aiohttp import web

from hub.security.headers import content_security_policy

STATIC = Path(__file__).parent / "static"
TEMPLATE = Path(__file__).parent / "page.html"  # $bot_id is filled in
BOT_ID: web.AppKey[str] = web.AppKey("demo_bot_id", str)
PAGE: web.AppKey[Template] = web.AppKey("demo_page", Template)


async def index(request: web.Request) -> web.Response:
    page = request.app[PAGE].substitute(bot_id=html.escape(request.app[BOT_ID], quote=True))
    return web.Response(
        text=page,
        content_type="text/html",
        headers={
            "Content-Security-Policy": content_security_policy(request.host),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        },
    )


async def to_demo(request: web.Request) -> NoReturn:
    raise web.HTTPFound("/demo/")


def create_demo_page(bot_id: str) -> web.Application:
    app = web.Application()
    app[BOT_ID] = bot_id
    app[PAGE] = Template(TEMPLATE.read_text(encoding="utf-8"))
    app.router.add_get("/", index, name="index")
    app.router.add_static("/static/", STATIC, name="static")
    return app


def mount_demo(app: web.Application, bot_id: str) -> None:
    """Add the demo page to a hub app (before it starts): ``/demo/`` for the bot ``bot_id``."""
    app.router.add_get("/demo", to_demo)
    app.add_subapp("/demo/", create_demo_page(bot_id))

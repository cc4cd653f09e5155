"""Bots: register one (its secret key is shown once), rotate the key, disable it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dashboard.forms import fields, listed, text
from dashboard.presenters import link
from dashboard.render import page
from dashboard.sessions import Signed, admin_only
from hub import keys
from hub.errors import Invalid, NotFound
from hub.settings import check_origin
from hub.store.bots import create_bot, get_bot, list_bots, rotate_secret, set_bot_disabled

routes = web.RouteTableDef()


async def _bots_page(
    request: web.Request,
    signed: Signed,
    *,
    secret: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    async with request.config_dict[keys.DATABASE].read() as conn:
        bots = await list_bots(conn=conn)
    return page(
        request,
        signed,
        "admin/bots.html",
        {"bots": bots, "secret": secret, "form": form or {}, "error": error},
        status=status,
    )


@routes.get("/admin/bots", name="admin_bots")
@admin_only
async def bots(request: web.Request, signed: Signed) -> web.StreamResponse:
    return await _bots_page(request, signed)


def _origins(value: str) -> list[str]:
    try:
        return [check_origin(origin) for origin in listed(value)]
    except ValueError as exc:
        raise Invalid(f"allowed origins: {exc}") from None


@routes.post("/admin/bots")
@admin_only
async def add_bot(request: web.Request, signed: Signed) -> web.StreamResponse:
    """The answer is the one page that ever shows the new key (it is stored hashed)."""
    form = await fields(request)
    kept = {key: str(value) for key, value in form.items()}
    try:
        name = text(form, "name", limit=200)
        origins = _origins(str(form.get("allowed_origins", "")))
    except Invalid as exc:
        return await _bots_page(request, signed, form=kept, error=exc.message, status=422)
    hub = request.config_dict
    async with hub[keys.DATABASE].writer.begin() as conn:
        bot, secret = await create_bot(
            name, conn=conn, clock=hub[keys.CLOCK], allowed_origins=origins
        )
    return await _bots_page(
        request, signed, secret={"bot": bot.name, "id": bot.id, "key": secret}, status=201
    )


@routes.post("/admin/bots/{bot_id}/rotate", name="admin_bot_rotate")
@admin_only
async def rotate(request: web.Request, signed: Signed) -> web.StreamResponse:
    hub = request.config_dict
    bot_id = request.match_info["bot_id"]
    async with hub[keys.DATABASE].writer.begin() as conn:
        bot = await get_bot(bot_id, conn=conn)
        if bot is None:
            raise NotFound("this bot does not exist")
        if bot.source == "config":
            raise Invalid(
                "this bot is declared in the config file: change its secret there",
                code="config_bot",
            )
        secret = await rotate_secret(bot_id, conn=conn)
    hub[keys.BOTS].forget()  # the old key stops working now, not in a few seconds
    return await _bots_page(request, signed, secret={"bot": bot.name, "id": bot.id, "key": secret})


@routes.post("/admin/bots/{bot_id}/disabled", name="admin_bot_disabled")
@admin_only
async def set_disabled(request: web.Request, signed: Signed) -> web.StreamResponse:
    disabled = str((await fields(request)).get("disabled", "")) == "true"
    try:
        async with request.config_dict[keys.DATABASE].writer.begin() as conn:
            await set_bot_disabled(request.match_info["bot_id"], disabled, conn=conn)
    except LookupError:
        raise NotFound("this bot does not exist") from None
    request.config_dict[keys.BOTS].forget()
    done = "bot-disabled" if disabled else "bot-enabled"
    raise web.HTTPSeeOther(link(request, "admin_bots") + f"?done={done}")

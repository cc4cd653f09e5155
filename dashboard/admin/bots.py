"""Bots: register one (its secret key is shown once), rotate the key, disable it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dashboard.forms import fields, listed, text
from dashboard.presenters import link
from dashboard.render import page
from dashboard.sessions import Signed, admin_only
from hub import keys
from hub.agents.bots import NewKey
from hub.errors import Invalid
from hub.settings import check_origin

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
    bots = await request.config_dict[keys.BOT_REGISTRY].all()
    return page(
        request,
        signed,
        "admin/bots.html",
        {"bots": bots, "secret": secret, "form": form or {}, "error": error},
        status=status,
    )


def _shown(new: NewKey) -> dict[str, str]:
    return {"bot": new.bot.name, "id": new.bot.id, "key": new.secret}


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
    new = await request.config_dict[keys.BOT_REGISTRY].create(name, allowed_origins=origins)
    return await _bots_page(request, signed, secret=_shown(new), status=201)


@routes.post("/admin/bots/{bot_id}/rotate", name="admin_bot_rotate")
@admin_only
async def rotate(request: web.Request, signed: Signed) -> web.StreamResponse:
    new = await request.config_dict[keys.BOT_REGISTRY].rotate_secret(request.match_info["bot_id"])
    return await _bots_page(request, signed, secret=_shown(new))


@routes.post("/admin/bots/{bot_id}/disabled", name="admin_bot_disabled")
@admin_only
async def set_disabled(request: web.Request, signed: Signed) -> web.StreamResponse:
    disabled = str((await fields(request)).get("disabled", "")) == "true"
    await request.config_dict[keys.BOT_REGISTRY].set_disabled(
        request.match_info["bot_id"], disabled
    )
    done = "bot-disabled" if disabled else "bot-enabled"
    raise web.HTTPSeeOther(link(request, "admin_bots") + f"?done={done}")

"""Canned responses: saved replies every agent can insert into a chat."""

from __future__ import annotations

from aiohttp import web

from dashboard.forms import fields, text
from dashboard.presenters import link
from dashboard.render import page
from dashboard.sessions import Signed, admin_only
from hub import keys
from hub.errors import HubError

routes = web.RouteTableDef()


async def _canned_page(
    request: web.Request,
    signed: Signed,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    canned = await request.config_dict[keys.CANNED].all()
    return page(
        request,
        signed,
        "admin/canned.html",
        {"canned": canned, "form": form or {}, "error": error},
        status=status,
    )


@routes.get("/admin/canned", name="admin_canned")
@admin_only
async def canned(request: web.Request, signed: Signed) -> web.StreamResponse:
    return await _canned_page(request, signed)


@routes.post("/admin/canned")
@admin_only
async def add(request: web.Request, signed: Signed) -> web.StreamResponse:
    form = await fields(request)
    limit = request.config_dict[keys.SETTINGS].limits.max_message_chars
    try:
        title = text(form, "title", limit=200)
        body = text(form, "body", limit=limit)
    except HubError as exc:
        kept = {key: str(value) for key, value in form.items()}
        return await _canned_page(request, signed, form=kept, error=exc.message, status=422)
    await request.config_dict[keys.CANNED].add(title, body)
    raise web.HTTPSeeOther(link(request, "admin_canned") + "?done=canned-added")


@routes.post("/admin/canned/{canned_id}/delete", name="admin_canned_delete")
@admin_only
async def delete(request: web.Request, signed: Signed) -> web.StreamResponse:
    await request.config_dict[keys.CANNED].delete(request.match_info["canned_id"])
    raise web.HTTPSeeOther(link(request, "admin_canned") + "?done=canned-deleted")

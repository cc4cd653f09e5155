"""Signing in and out. Sign-in is throttled per account and per address by the hub
(:meth:`AgentAccounts.sign_in`); each sign-in opens a new session (the cookie is rotated)."""

from __future__ import annotations

import secrets

from aiohttp import web

from dashboard.forms import fields
from dashboard.live import disconnect, session_audience
from dashboard.render import page
from dashboard.sessions import (
    COOKIE,
    CSRF_FIELD,
    SIGNIN_COOKIE,
    Signed,
    check_origin,
    current,
    dashboard_path,
    set_cookie,
    signed_in,
)
from hub import keys
from hub.agents.accounts import SESSION_LIFETIME, TooManyAttempts
from hub.agents.presence import set_presence
from hub.errors import Unauthorized

routes = web.RouteTableDef()


def _next(request: web.Request, value: object) -> str:
    """Where to go after signing in: a dashboard page, never another site."""
    home = dashboard_path(request)
    if (
        isinstance(value, str)
        and value.startswith(home)
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return home


def _form(
    request: web.Request, *, email: str = "", error: str | None = None, status: int = 200
) -> web.Response:
    token = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        request,
        None,
        "signin.html",
        {
            "signin_token": token,
            "email": email,
            "error": error,
            "next": _next(request, request.query.get("next")),
        },
        status=status,
    )
    set_cookie(request, response, SIGNIN_COOKIE, token, samesite="Strict")
    return response


@routes.get("/login", name="signin")
async def signin_form(request: web.Request) -> web.StreamResponse:
    if await current(request) is not None:
        raise web.HTTPSeeOther(_next(request, request.query.get("next")))
    return _form(request)


@routes.post("/login")
async def signin(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    form = await fields(request)
    email = str(form.get("email", "")).strip()[:320]
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    sent = form.get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        return _form(
            request, email=email, error="The sign-in form expired. Please try again.", status=403
        )
    password = str(form.get("password", ""))[:1000]
    accounts = request.config_dict[keys.AGENTS]
    try:
        signed = await accounts.sign_in(email, password, address=request.remote or "unknown")
    except TooManyAttempts as exc:
        response = _form(request, email=email, error=exc.message.capitalize() + ".", status=429)
        response.headers["Retry-After"] = str(int(exc.retry_after) + 1)
        return response
    except Unauthorized:
        return _form(request, email=email, error="Wrong email or password.", status=401)
    previous = await current(request)
    if previous is not None:
        await accounts.end_session(previous.token)
        disconnect(request.config_dict, session_audience(previous.token))
    response = web.HTTPSeeOther(_next(request, form.get("next")))
    set_cookie(
        request, response, COOKIE, signed.token, max_age=int(SESSION_LIFETIME.total_seconds())
    )
    raise response


@routes.post("/logout", name="signout")
@signed_in
async def signout(request: web.Request, signed: Signed) -> web.StreamResponse:
    hub = request.config_dict
    await hub[keys.AGENTS].end_session(signed.token)
    disconnect(hub, session_audience(signed.token))
    # Signing out means leaving: no more offers (the chats held stay, as for "away").
    await set_presence(hub, signed.agent.id, "offline")
    response = web.HTTPSeeOther(str(request.app.router["signin"].url_for()))
    response.del_cookie(COOKIE, path=dashboard_path(request))
    raise response

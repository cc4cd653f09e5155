"""Who is signed in: the session cookie, CSRF tokens, and the checks every view starts with.

The cookie holds a random token (the hub stores only its hash); it is HttpOnly,
SameSite=Lax, and Secure when the hub's public address is https. Every state-changing
request carries the session's CSRF token (a form field or the ``X-CSRF-Token`` header) and,
when the browser sends one, an ``Origin`` that is the hub's own.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import quote

from aiohttp import web

from dashboard.forms import fields, wants_json
from hub import keys
from hub.errors import Forbidden, Unauthorized
from hub.models import AgentAccount, AgentSession

COOKIE = "offload_hub_session"
# Before sign-in there is no session: the sign-in form's CSRF token is a double-submit cookie.
SIGNIN_COOKIE = "offload_hub_signin"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Signed:
    """The agent behind a request, with their session."""

    agent: AgentAccount
    session: AgentSession
    token: str

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token

    @property
    def is_admin(self) -> bool:
        return self.agent.role == "admin"


View = Callable[[web.Request, Signed], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def secure_cookies(request: web.Request) -> bool:
    return request.config_dict[keys.SETTINGS].public_base_url.startswith("https://")


def set_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: str = "Lax",
) -> None:
    response.set_cookie(
        name,
        value,
        path=dashboard_path(request),
        httponly=True,
        samesite=samesite,
        secure=secure_cookies(request),
        max_age=max_age,
    )


def dashboard_path(request: web.Request) -> str:
    return str(request.app.router["inbox"].url_for())


def own_origins(request: web.Request) -> set[str]:
    """The origins the hub's own pages are served from."""
    return {
        f"{request.scheme}://{request.host}",
        request.config_dict[keys.SETTINGS].public_base_url,
    }


def check_origin(request: web.Request, *, required: bool = False) -> None:
    """A browser's request from another site's page is refused."""
    origin = request.headers.get("Origin")
    if origin is None and not required:
        return
    if origin not in own_origins(request):
        raise Forbidden("this request comes from another site", code="bad_origin")


async def current(request: web.Request) -> Signed | None:
    """The signed-in agent, if the cookie holds a live session."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    found = await request.config_dict[keys.AGENTS].session(token)
    if found is None:
        return None
    agent, session = found
    return Signed(agent, session, token)


async def _csrf_token_sent(request: web.Request) -> str:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        value = (await fields(request)).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    return token or ""


async def check_csrf(request: web.Request, expected: str) -> None:
    check_origin(request)
    sent = await _csrf_token_sent(request)
    if not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(
            "the form is missing its security token (reload the page and try again)",
            code="csrf_failed",
        )


def _signed_out(request: web.Request) -> NoReturn:
    """A page sends the browser to the sign-in form (and back after); a call gets 401."""
    if wants_json(request) or request.method not in SAFE_METHODS:
        raise Unauthorized("sign in first", code="signed_out")
    sign_in = request.app.router["signin"].url_for()
    raise web.HTTPSeeOther(f"{sign_in}?next={quote(request.path_qs, safe='/')}")


def signed_in(view: View) -> Handler:
    """The view needs a signed-in agent; state changes need the CSRF token too."""

    @functools.wraps(view)
    async def handler(request: web.Request) -> web.StreamResponse:
        signed = await current(request)
        if signed is None:
            _signed_out(request)
        if request.method not in SAFE_METHODS:
            await check_csrf(request, signed.csrf_token)
        return await view(request, signed)

    return handler


def admin_only(view: View) -> Handler:
    """The view is for admins (agents get 403)."""

    async def checked(request: web.Request, signed: Signed) -> web.StreamResponse:
        if not signed.is_admin:
            raise Forbidden("this page is for admins", code="admins_only")
        return await view(request, signed)

    return signed_in(functools.wraps(view)(checked))

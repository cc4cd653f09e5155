"""My profile (display name, avatar, password) and my status (Online, Away, Offline)."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from dashboard.forms import answer, fields, text, wants_json
from dashboard.presenters import link
from dashboard.render import page
from dashboard.sessions import COOKIE, Signed, dashboard_path, set_cookie, signed_in
from hub import keys
from hub.agents.accounts import PRESENCES, SESSION_LIFETIME, TooManyAttempts
from hub.agents.presence import profile_changed, set_presence
from hub.errors import HubError, Invalid, Unauthorized

routes = web.RouteTableDef()


def _profile_page(
    request: web.Request,
    signed: Signed,
    *,
    name: str | None = None,
    avatar: str | None = None,
    error: str | None = None,
    password_error: str | None = None,
    status: int = 200,
) -> web.Response:
    return page(
        request,
        signed,
        "profile.html",
        {
            "display_name": signed.agent.display_name if name is None else name,
            "avatar_url": (signed.agent.avatar_url or "") if avatar is None else avatar,
            "error": error,
            "password_error": password_error,
        },
        status=status,
    )


@routes.get("/profile", name="profile")
@signed_in
async def profile(request: web.Request, signed: Signed) -> web.StreamResponse:
    return _profile_page(request, signed)


@routes.post("/profile")
@signed_in
async def save_profile(request: web.Request, signed: Signed) -> web.StreamResponse:
    """Save, then every chatbot the agent talks to gets ``setChatbotName``/``setChatbotIcon``."""
    data = await fields(request)
    name = str(data.get("display_name", ""))
    avatar = str(data.get("avatar_url", ""))
    hub = request.config_dict
    try:
        await hub[keys.AGENTS].update_profile(signed.agent.id, display_name=name, avatar_url=avatar)
    except HubError as exc:
        if wants_json(request):
            raise
        return _profile_page(
            request, signed, name=name, avatar=avatar, error=exc.message, status=exc.status
        )
    await profile_changed(hub, signed.agent.id)
    return answer(request, {"saved": True}, to=link(request, "profile") + "?done=profile")


@routes.post("/profile/password", name="password")
@signed_in
async def change_password(request: web.Request, signed: Signed) -> web.StreamResponse:
    """Check the current password (throttled like signing in), set the new one, end every
    session of the agent, and open a fresh one for this browser."""
    data = await fields(request)
    current = str(data.get("current_password", ""))[:1000]
    new = str(data.get("new_password", ""))[:1000]
    accounts = request.config_dict[keys.AGENTS]
    address = request.remote or "unknown"
    try:
        await accounts.sign_in(signed.agent.email, current, address=address)
        await accounts.reset_password(signed.agent.id, new)
        fresh = await accounts.sign_in(signed.agent.email, new, address=address)
    except (Unauthorized, TooManyAttempts, Invalid) as exc:
        message = "Your current password is wrong." if isinstance(exc, Unauthorized) else None
        return _profile_page(
            request, signed, password_error=message or exc.message, status=exc.status
        )
    response = web.HTTPSeeOther(link(request, "profile") + "?done=password")
    set_cookie(
        request, response, COOKIE, fresh.token, max_age=int(SESSION_LIFETIME.total_seconds())
    )
    raise response


@routes.post("/status", name="status")
@signed_in
async def status(request: web.Request, signed: Signed) -> web.StreamResponse:
    presence = text(await fields(request), "presence", limit=20)
    if presence not in PRESENCES:
        raise Invalid(f"presence: must be one of {', '.join(PRESENCES)}")
    await set_presence(request.config_dict, signed.agent.id, presence)
    return answer(request, {"presence": presence}, to=_back(request))


def _back(request: web.Request) -> str:
    """The dashboard page the form was on (never another site)."""
    home = dashboard_path(request)
    referer = urlsplit(request.headers.get("Referer", ""))
    if referer.netloc == request.host and referer.path.startswith(home):
        return referer.path
    return home

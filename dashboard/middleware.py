"""Errors as the agent should see them, and the headers every dashboard answer carries."""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web

from dashboard.forms import wants_json
from dashboard.sessions import Handler
from hub.db import database_unavailable
from hub.errors import HubError
from hub.security.headers import content_security_policy
from providers import ProviderError
from providers.errors import ConversationEnded, UnknownConversation, error_body
from providers.workspace import DeskError

log = logging.getLogger(__name__)

# How the desk's refusals are answered.
DESK_STATUS = {
    "not_yours": 403,
    "not_eligible": 403,
    "admins_only": 403,
    "unknown_agent": 404,
    "same_agent": 422,
}


def _harden(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # a WebSocket
        return
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(request.host))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith(str(request.app.router["static"].url_for(filename=""))):
        headers.setdefault("Cache-Control", "no-store")


def failure(exc: Exception) -> tuple[int, str, str, dict[str, object]] | None:
    """(status, code, message, details) for the errors an agent can cause or may meet (the
    database unavailable); None otherwise."""
    if isinstance(exc, HubError):
        return exc.status, exc.code, exc.message, dict(exc.details)
    if isinstance(exc, DeskError):
        return DESK_STATUS.get(exc.code, 409), exc.code, exc.message, {}
    if isinstance(exc, ConversationEnded):
        return 409, "conversation_ended", "this conversation has ended", {}
    if isinstance(exc, UnknownConversation):
        return 404, "not_found", "this conversation is not at the desk", {}
    if isinstance(exc, ProviderError):
        log.warning("the desk refused a dashboard action: %s", exc)
        return 502, "provider_error", "the desk could not do this; try again", {}
    if database_unavailable(exc):
        log.warning("a dashboard action met the database unavailable", exc_info=exc)
        return 503, "unavailable", "the database is unavailable; try again", {}
    return None


def error_response(
    request: web.Request, status: int, code: str, message: str, **details: object
) -> web.Response:
    if wants_json(request):
        response = web.json_response(error_body(code, message, **details), status=status)
    else:
        response = aiohttp_jinja2.render_template(
            "error.html",
            request,
            {"status": status, "message": message, "me": None, "csrf_token": ""},
            status=status,
        )
    if "retry_after" in details:
        response.headers["Retry-After"] = str(details["retry_after"])
    return response


@web.middleware
async def dashboard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects, and the router's 404 / 405
        _harden(request, exc)
        raise
    except Exception as exc:
        known = failure(exc)
        if known is None:
            raise
        status, code, message, details = known
        response = error_response(request, status, code, message, **details)
    _harden(request, response)
    return response

"""Rendering a dashboard page: the template, plus what every page shows (who is signed
in, their status, the CSRF token, a one-line notice after an action)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from dashboard.sessions import Signed

# What a page says after the action that sent the browser there (``?done=<code>``).
NOTICES = {
    "accepted": "You took the conversation.",
    "taken-over": "You took the conversation over; its agent was told, and the user sees you join.",
    "closed": "The conversation is closed; the chatbot is back in charge.",
    "transferred": "The conversation was transferred.",
    "profile": "Your profile is saved. The chatbots you talk to show the change.",
    "password": "Your password is changed.",
    "agent-saved": "The agent is saved.",
    "agent-password": "The password is reset; the agent's sessions have ended.",
    "agent-disabled": "The agent is disabled and signed out.",
    "agent-enabled": "The agent is enabled.",
    "bot-disabled": "The bot is disabled: its keys no longer work.",
    "bot-enabled": "The bot is enabled.",
    "canned-added": "The canned response is saved.",
    "canned-deleted": "The canned response is deleted.",
    "status": "Your status is changed.",
}

PRESENCE_LABELS = {"online": "Online", "away": "Away", "offline": "Offline"}


def page(
    request: web.Request,
    signed: Signed | None,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    values: dict[str, Any] = {
        "me": signed.agent if signed else None,
        "is_admin": bool(signed and signed.is_admin),
        "csrf_token": signed.csrf_token if signed else "",
        "presences": PRESENCE_LABELS,
        "notice": NOTICES.get(request.query.get("done", "")),
        "error": None,
    }
    values.update(context)
    return aiohttp_jinja2.render_template(template, request, values, status=status)

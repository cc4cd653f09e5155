"""Agents: add, change role, limits, skills and languages, reset a password, disable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from dashboard.forms import fields, listed
from dashboard.live import disconnect
from dashboard.presenters import link
from dashboard.render import page
from dashboard.sessions import Signed, admin_only
from hub import keys
from hub.agents.presence import presence_changed
from hub.errors import Conflict, HubError, Invalid, NotFound
from hub.models import AgentAccount

routes = web.RouteTableDef()
ROLES = {"agent": "Agent", "admin": "Admin"}


def _number(value: Any, name: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise Invalid(f"{name}: must be a whole number") from None


async def _agents_page(
    request: web.Request,
    signed: Signed,
    *,
    form: Mapping[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    agents = await request.config_dict[keys.AGENTS].all()
    return page(
        request,
        signed,
        "admin/agents.html",
        {"agents": agents, "form": form or {}, "roles": ROLES, "error": error},
        status=status,
    )


@routes.get("/admin/agents", name="admin_agents")
@admin_only
async def agents(request: web.Request, signed: Signed) -> web.StreamResponse:
    return await _agents_page(request, signed)


@routes.post("/admin/agents")
@admin_only
async def add_agent(request: web.Request, signed: Signed) -> web.StreamResponse:
    form = await fields(request)
    try:
        agent = await request.config_dict[keys.AGENTS].create(
            str(form.get("email", "")),
            str(form.get("display_name", "")),
            str(form.get("password", "")),
            role=str(form.get("role", "agent")),
            max_chats=_number(form.get("max_chats", 3), "max chats"),
            skills=listed(str(form.get("skills", ""))),
            languages=listed(str(form.get("languages", ""))),
        )
    except HubError as exc:
        kept = {key: str(value) for key, value in form.items() if key != "password"}
        return await _agents_page(request, signed, form=kept, error=exc.message, status=exc.status)
    raise web.HTTPSeeOther(link(request, "admin_agent", agent_id=agent.id) + "?done=agent-saved")


async def _agent(request: web.Request) -> AgentAccount:
    agent = await request.config_dict[keys.AGENTS].get(request.match_info["agent_id"])
    if agent is None:
        raise NotFound("this agent does not exist")
    return agent


def _agent_page(
    request: web.Request,
    signed: Signed,
    agent: AgentAccount,
    *,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    return page(
        request,
        signed,
        "admin/agent.html",
        {"agent": agent, "roles": ROLES, "error": error, "self": agent.id == signed.agent.id},
        status=status,
    )


@routes.get("/admin/agents/{agent_id}", name="admin_agent")
@admin_only
async def agent_page(request: web.Request, signed: Signed) -> web.StreamResponse:
    return _agent_page(request, signed, await _agent(request))


def _done(request: web.Request, agent: AgentAccount, done: str) -> web.HTTPException:
    return web.HTTPSeeOther(link(request, "admin_agent", agent_id=agent.id) + f"?done={done}")


@routes.post("/admin/agents/{agent_id}")
@admin_only
async def save_agent(request: web.Request, signed: Signed) -> web.StreamResponse:
    agent = await _agent(request)
    form = await fields(request)
    role = str(form.get("role", agent.role))
    try:
        if agent.id == signed.agent.id and role != "admin":
            raise Conflict("you cannot take away your own admin role", code="own_role")
        await request.config_dict[keys.AGENTS].set_limits(
            agent.id,
            max_chats=_number(form.get("max_chats", agent.max_chats), "max chats"),
            skills=listed(str(form.get("skills", ""))),
            languages=listed(str(form.get("languages", ""))),
            role=role,
        )
    except HubError as exc:
        return _agent_page(request, signed, agent, error=exc.message, status=exc.status)
    raise _done(request, agent, "agent-saved")


@routes.post("/admin/agents/{agent_id}/password", name="admin_agent_password")
@admin_only
async def reset_password(request: web.Request, signed: Signed) -> web.StreamResponse:
    agent = await _agent(request)
    password = str((await fields(request)).get("password", ""))
    try:
        await request.config_dict[keys.AGENTS].reset_password(agent.id, password)
    except HubError as exc:
        return _agent_page(request, signed, agent, error=exc.message, status=exc.status)
    disconnect(request.config_dict, agent.id)  # every session of theirs has ended
    raise _done(request, agent, "agent-password")


@routes.post("/admin/agents/{agent_id}/disabled", name="admin_agent_disabled")
@admin_only
async def set_disabled(request: web.Request, signed: Signed) -> web.StreamResponse:
    agent = await _agent(request)
    disabled = str((await fields(request)).get("disabled", "")) == "true"
    if disabled and agent.id == signed.agent.id:
        return _agent_page(request, signed, agent, error="You cannot disable yourself.", status=409)
    hub = request.config_dict
    await hub[keys.AGENTS].set_disabled(agent.id, disabled)
    if disabled:  # offline: no more offers to someone who cannot sign in
        disconnect(hub, agent.id)
        await presence_changed(hub, agent.id, "offline")
    raise _done(request, agent, "agent-disabled" if disabled else "agent-enabled")

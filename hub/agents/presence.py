"""Presence changes: the account is updated, then every desk re-plans its offers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub import keys
from hub.keys import Resources
from hub.models import AgentAccount
from hub.settings import Lifecycle

if TYPE_CHECKING:
    from hub.agents.workspace import HubWorkspace

# How often an open dashboard tells the hub its agent is there, at most.
HEARTBEAT_MAX_SECONDS = 30.0


def heartbeat_seconds(lifecycle: Lifecycle) -> float:
    """The dashboard's heartbeat: a third of the presence timeout (so two can be missed
    before the agent goes offline), at most every 30 s."""
    timeout = lifecycle.presence_timeout_seconds
    return HEARTBEAT_MAX_SECONDS if timeout <= 0 else min(HEARTBEAT_MAX_SECONDS, timeout / 3)


async def set_presence(app: Resources, agent_id: str, presence: str) -> AgentAccount:
    agent = await app[keys.AGENTS].set_presence(agent_id, presence)
    await presence_changed(app, agent_id, presence)
    return agent


async def presence_changed(
    app: Resources, agent_id: str, presence: str, *, vanished: bool = False
) -> None:
    """Every desk re-plans (offers withdrawn, or new ones); the agent's dashboards hear it."""
    await announce_presence(app[keys.WORKSPACE], agent_id, presence, vanished=vanished)


async def announce_presence(
    workspace: HubWorkspace, agent_id: str, presence: str, *, vanished: bool = False
) -> None:
    """What :func:`presence_changed` does, given the workspace."""
    for desk in list(workspace.desks.values()):
        await desk.presence_changed(agent_id, vanished=vanished)
    workspace.notify(agent_id, {"type": "presence", "presence": presence})


async def profile_changed(app: Resources, agent_id: str) -> None:
    """A new display name or avatar reaches every chatbot the agent is talking to."""
    for desk in list(app[keys.WORKSPACE].desks.values()):
        await desk.profile_changed(agent_id)

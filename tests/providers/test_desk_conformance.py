"""The desk adapter passes the conformance kit, with its agents in a MemoryWorkspace.

The desk's agent side is the dashboard: agents accept, reply, type, read, transfer and
close through the ``Desk`` protocol's calls, so each agent-side event is played here as
that call. Those calls cannot arrive twice the way a retried webhook can, hence
``replays=False``. Queue updates and tickets are not agent events on the desk (its own
dispatch announces positions; it never makes tickets).
"""

from __future__ import annotations

import html
from typing import Any

import pytest

from providers.desk import DeskProvider
from providers.testing import (
    ANA,
    BEN,
    AgentEvent,
    AgentSide,
    MemoryWorkspace,
    ProviderConformance,
)


class TestDeskAdapter(ProviderConformance):
    provider_class = DeskProvider
    instance_name = "desk"

    @pytest.fixture
    def provider_config(self) -> dict[str, Any]:
        # Manual assignment: an agent claims a conversation, as the agent-side events do.
        return {"assignment": "manual"}

    @pytest.fixture
    def workspace(self) -> MemoryWorkspace:
        workspace = MemoryWorkspace()
        workspace.add_agent(ANA.id, ANA.name, icon_url=ANA.icon_url, max_chats=20)
        workspace.add_agent(BEN.id, BEN.name, icon_url=BEN.icon_url, max_chats=20)
        return workspace

    @pytest.fixture
    def agent_side(self, provider: DeskProvider, workspace: MemoryWorkspace) -> AgentSide:
        async def holder(event: AgentEvent) -> str:
            """The agent who holds the conversation, after ``event.agent`` accepted it if
            nobody did yet."""
            cid = event.conversation.id
            current = await workspace.holder(cid)
            if current is None:
                await provider.accept(event.agent.id, cid)
                current = event.agent.id
            return current

        async def joined(event: AgentEvent) -> None:
            cid = event.conversation.id
            current = await workspace.holder(cid)
            if current is None:
                await provider.accept(event.agent.id, cid)
            else:
                await provider.transfer_by(current, cid, to_agent=event.agent.id)

        async def left(event: AgentEvent) -> None:
            agent_id = await holder(event)
            await provider.transfer_by(agent_id, event.conversation.id, to_queue="support")

        async def message(event: AgentEvent) -> None:
            agent_id = await holder(event)
            await provider.reply(agent_id, event.conversation.id, html.escape(event.text))

        async def typing(event: AgentEvent) -> None:
            agent_id = await holder(event)
            await provider.typing(agent_id, event.conversation.id, event.typing)

        async def profile(event: AgentEvent) -> None:
            agent_id = await holder(event)
            workspace.update_agent(agent_id, name=event.agent.name, icon_url=event.agent.icon_url)
            await provider.profile_changed(agent_id)

        async def read(event: AgentEvent) -> None:
            agent_id = await holder(event)
            await provider.mark_read(agent_id, event.conversation.id, event.message_id)

        async def closed(event: AgentEvent) -> None:
            agent_id = await holder(event)
            await provider.close_by(agent_id, event.conversation.id, event.reason or "resolved")

        return AgentSide(
            {
                "agent_joined": joined,
                "agent_left": left,
                "agent_message": message,
                "agent_typing": typing,
                "agent_profile": profile,
                "message_status": read,
                "conversation_closed": closed,
            },
            replays=False,
        )

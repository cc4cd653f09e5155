"""Who may look at and act on a conversation.

An agent reads the conversations they hold (or held, once ended), may preview any that
waits at a desk, and may read any ticket (the ticket list); a conversation held by
someone else is theirs alone (403), unless the reader is an admin, who watches it live.
Acting on a chat (reply, typing, read, transfer, close) is for its holder alone: an admin
takes it over first, an explicit step the agent is told about. The desk enforces that too.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from dashboard.sessions import Signed
from hub import keys
from hub.errors import Conflict, Forbidden, NotFound
from hub.models import Conversation
from hub.store.conversations import get_conversation
from providers.workspace import Desk


@dataclass(frozen=True, slots=True)
class Opened:
    """A conversation as one agent may see it."""

    conversation: Conversation
    desk: Desk | None
    mine: bool  # assigned to this agent now
    waiting: bool  # queued at a desk: anyone may preview it and take it

    @property
    def id(self) -> str:
        return self.conversation.id

    def desk_or_conflict(self) -> Desk:
        if self.desk is None:
            raise Conflict("this conversation is not at an agent desk", code="not_at_desk")
        return self.desk


async def open_conversation(request: web.Request, signed: Signed, conversation_id: str) -> Opened:
    hub = request.config_dict
    async with hub[keys.DATABASE].lookup() as conn:
        conversation = await get_conversation(conversation_id, conn=conn)
    if conversation is None:
        raise NotFound("this conversation does not exist")
    desk = hub[keys.WORKSPACE].desk_for(conversation.provider)
    me = signed.agent.id
    mine = conversation.status == "assigned" and conversation.agent_id == me
    waiting = conversation.status == "queued" and desk is not None
    ticket = conversation.status == "ticket"  # nobody's chat: every agent may read it
    if not (signed.is_admin or conversation.agent_id == me or waiting or ticket):
        raise Forbidden("this conversation is assigned to another agent", code="not_yours")
    return Opened(conversation, desk, mine, waiting)


def may_act(opened: Opened, signed: Signed) -> bool:
    """Reply, attach, transfer, close: the holder. A chat another provider holds (a
    platform's agent) is moved by an admin (the hub asks the provider to transfer it)."""
    return opened.conversation.status == "assigned" and (
        opened.mine or (signed.is_admin and opened.desk is None)
    )


def watching(opened: Opened, signed: Signed) -> bool:
    """An admin looking at a chat someone else holds (or one still waiting): live."""
    return (
        signed.is_admin
        and not opened.mine
        and opened.conversation.status
        in (
            "queued",
            "assigned",
        )
    )


def may_take_over(opened: Opened, signed: Signed) -> bool:
    return (
        signed.is_admin
        and opened.desk is not None
        and opened.conversation.status == "assigned"
        and not opened.mine
    )


def require_action(opened: Opened, signed: Signed) -> Desk:
    desk = opened.desk_or_conflict()
    if opened.conversation.status != "assigned":
        raise Conflict("this conversation is not in a chat with an agent", code="not_assigned")
    if not may_act(opened, signed):
        raise Forbidden("this conversation is assigned to another agent", code="not_yours")
    return desk


def may_note(opened: Opened, signed: Signed) -> bool:
    """Notes: whoever holds or last held the conversation, and admins."""
    return signed.is_admin or opened.conversation.agent_id == signed.agent.id

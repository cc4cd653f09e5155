"""Agents' internal notes on conversations (the user never sees them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.ids import new_id
from hub.models import AgentAccount, Note, table
from hub.writer import WriteConnection

NOTES = table(Note)
AGENTS = table(AgentAccount)


@dataclass(frozen=True, slots=True)
class ShownNote:
    id: str
    body: str
    agent_id: str
    agent_name: str
    created_at: datetime


async def add_note(
    conversation_id: str, agent_id: str, body: str, *, conn: WriteConnection, clock: Clock
) -> Note:
    row = {
        "id": new_id("n"),
        "conversation_id": conversation_id,
        "agent_id": agent_id,
        "body": body,
        "created_at": clock.now(),
    }
    await conn.execute(sa.insert(NOTES).values(**row))
    return Note.model_validate(row)


async def notes_on(conversation_id: str, *, conn: AsyncConnection) -> list[ShownNote]:
    """A conversation's notes, oldest first, with their authors' names."""
    query = (
        sa.select(NOTES, AGENTS.c.display_name)
        .join(AGENTS, AGENTS.c.id == NOTES.c.agent_id)
        .where(NOTES.c.conversation_id == conversation_id)
        .order_by(NOTES.c.created_at, NOTES.c.id)
    )
    return [
        ShownNote(row.id, row.body, row.agent_id, row.display_name, row.created_at)
        for row in await conn.execute(query)
    ]

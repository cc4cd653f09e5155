"""Reading conversations and their messages."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import Conversation, Media, Message, is_open, table

CONVERSATIONS = table(Conversation)
MESSAGES = table(Message)
MEDIA = table(Media)


_BY_ID = sa.select(CONVERSATIONS).where(CONVERSATIONS.c.id == sa.bindparam("id"))


async def get_conversation(conversation_id: str, *, conn: AsyncConnection) -> Conversation | None:
    row = (await conn.execute(_BY_ID, {"id": conversation_id})).first()
    # The row's values are already Python's (SQLAlchemy's types read them): built, not
    # validated again.
    return None if row is None else Conversation.model_construct(**row._mapping)


async def live_messages(conversation_id: str, *, conn: AsyncConnection) -> list[dict[str, Any]]:
    """The live chat's messages (both sides) in order, with their media's metadata."""
    query = (
        sa.select(
            MESSAGES,
            MEDIA.c.name.label("media_name"),
            MEDIA.c.content_type.label("media_type"),
            MEDIA.c.size.label("media_size"),
        )
        .select_from(MESSAGES.outerjoin(MEDIA, MEDIA.c.id == MESSAGES.c.media_id))
        .where(MESSAGES.c.conversation_id == conversation_id)
        .order_by(MESSAGES.c.seq, MESSAGES.c.created_at)
    )
    return [dict(row._mapping) for row in await conn.execute(query)]


async def open_heads(*, conn: AsyncConnection) -> dict[str, int]:
    """The last seq of every open conversation (what streams resuming after a restart ask)."""
    query = sa.select(CONVERSATIONS.c.id, CONVERSATIONS.c.last_seq).where(
        is_open(CONVERSATIONS.c.status)
    )
    return dict((await conn.execute(query)).tuples().all())

"""The kept bot-side history of Chatlayer sessions, and where each session's replies go.

Writes are units of work in the journal (grouped with the rest of the hub's writes); a
replayed event adds nothing (each message has a unique key); each session keeps its last
``history_limit`` messages. Sessions quiet for longer than their time to live are purged
with their messages, unless a conversation of theirs is open or ended within that time
(its last deliveries to Chatlayer still need the session's coordinates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from hub.chatlayer.transcript import HistoryItem
from hub.db import Database
from hub.journal import Journal, Scope
from hub.models import (
    ChatlayerMessage,
    ChatlayerSession,
    Conversation,
    is_open,
    table,
)
from hub.writer import WriteConnection, insert_on_conflict

SESSIONS = table(ChatlayerSession)
MESSAGES = table(ChatlayerMessage)
CONVERSATIONS = table(Conversation)
PURGE_BATCH = 500


@dataclass(frozen=True, slots=True)
class Coordinates:
    """Where a session's agent replies go in Chatlayer's API."""

    chatlayer_bot_id: str
    version: str
    session_id: str
    channel: str | None = None


class ChatlayerHistory:
    def __init__(self, database: Database, journal: Journal) -> None:
        self.database = database
        self.journal = journal

    async def record(
        self,
        integration: str,
        coordinates: Coordinates,
        items: Sequence[HistoryItem],
        *,
        keep: int,
    ) -> list[HistoryItem]:
        """Note the session and add ``items``; returns those that were new."""

        async def work(scope: Scope) -> list[HistoryItem]:
            conn = scope.conn
            now = scope.now
            session = {
                "integration": integration,
                "session_id": coordinates.session_id,
                "chatlayer_bot_id": coordinates.chatlayer_bot_id,
                "version": coordinates.version,
                "channel": coordinates.channel,
                "updated_at": now,
            }
            upsert = insert_on_conflict(conn, SESSIONS).values(**session)
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[SESSIONS.c.integration, SESSIONS.c.session_id],
                    set_={
                        "chatlayer_bot_id": upsert.excluded.chatlayer_bot_id,
                        "version": upsert.excluded.version,
                        "channel": sa.func.coalesce(upsert.excluded.channel, SESSIONS.c.channel),
                        "updated_at": upsert.excluded.updated_at,
                    },
                )
            )
            unique = {item.key: item for item in items}
            if not unique:
                return []
            rows = [
                {
                    "integration": integration,
                    "session_id": coordinates.session_id,
                    "key": item.key,
                    "actor": item.actor,
                    "message": item.message,
                    "sent_at": item.timestamp,
                    "received_at": now,
                }
                for item in unique.values()
            ]
            inserted = set(
                await conn.scalars(
                    insert_on_conflict(conn, MESSAGES)
                    .values(rows)
                    .on_conflict_do_nothing(
                        index_elements=[
                            MESSAGES.c.integration,
                            MESSAGES.c.session_id,
                            MESSAGES.c.key,
                        ]
                    )
                    .returning(MESSAGES.c.key)
                )
            )
            if inserted:
                await _trim(conn, integration, coordinates.session_id, keep)
            return [item for item in unique.values() if item.key in inserted]

        return await self.journal.run(work, isolated=True)

    async def load(self, integration: str, session_id: str) -> list[HistoryItem]:
        """The session's kept messages, oldest first."""
        query = (
            sa.select(MESSAGES.c.actor, MESSAGES.c.message, MESSAGES.c.sent_at, MESSAGES.c.key)
            .where(MESSAGES.c.integration == integration, MESSAGES.c.session_id == session_id)
            .order_by(MESSAGES.c.id)
        )
        async with self.database.read() as conn:
            rows = await conn.execute(query)
            return [HistoryItem(row.actor, row.message, row.sent_at, row.key) for row in rows]

    async def coordinates(self, integration: str, session_id: str) -> Coordinates | None:
        query = sa.select(SESSIONS).where(
            SESSIONS.c.integration == integration, SESSIONS.c.session_id == session_id
        )
        async with self.database.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Coordinates(row.chatlayer_bot_id, row.version, row.session_id, row.channel)

    async def purge(self, integration: str, bot_id: str | None, cutoff: datetime) -> int:
        """Forget the sessions of ``integration`` quiet since before ``cutoff`` (with their
        messages), except those with a conversation of hub bot ``bot_id`` that is open or
        ended after ``cutoff``. Returns how many sessions were forgotten."""
        total = 0

        async def work(scope: Scope) -> int:
            quiet = sa.select(SESSIONS.c.session_id).where(
                SESSIONS.c.integration == integration, SESSIONS.c.updated_at < cutoff
            )
            if bot_id is not None:
                busy = (
                    sa.select(CONVERSATIONS.c.id)
                    .where(
                        CONVERSATIONS.c.bot_id == bot_id,
                        CONVERSATIONS.c.session_id == SESSIONS.c.session_id,
                        sa.or_(
                            is_open(CONVERSATIONS.c.status),
                            CONVERSATIONS.c.ended_at >= cutoff,
                        ),
                    )
                    .exists()
                )
                quiet = quiet.where(~busy)
            sessions = list(await scope.conn.scalars(quiet.limit(PURGE_BATCH)))
            if sessions:
                await scope.conn.execute(
                    sa.delete(MESSAGES).where(
                        MESSAGES.c.integration == integration,
                        MESSAGES.c.session_id.in_(sessions),
                    )
                )
                await scope.conn.execute(
                    sa.delete(SESSIONS).where(
                        SESSIONS.c.integration == integration,
                        SESSIONS.c.session_id.in_(sessions),
                    )
                )
            return len(sessions)

        while True:
            purged = await self.journal.run(work, isolated=True)
            total += purged
            if purged < PURGE_BATCH:
                return total


async def _trim(conn: WriteConnection, integration: str, session_id: str, keep: int) -> None:
    """Keep the session's last ``keep`` messages."""
    of_session = (MESSAGES.c.integration == integration, MESSAGES.c.session_id == session_id)
    oldest_kept = await conn.scalar(
        sa.select(MESSAGES.c.id)
        .where(*of_session)
        .order_by(MESSAGES.c.id.desc())
        .offset(keep - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        await conn.execute(sa.delete(MESSAGES).where(*of_session, MESSAGES.c.id < oldest_kept))

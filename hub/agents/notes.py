"""Agents' internal notes on conversations (the user never sees them); each added in a
unit of work in the journal."""

from __future__ import annotations

from hub.journal import Journal, Scope
from hub.models import Note
from hub.store.notes import add_note


class Notes:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def add(self, conversation_id: str, agent_id: str, body: str) -> Note:
        async def work(scope: Scope) -> Note:
            return await add_note(
                conversation_id, agent_id, body, conn=scope.conn, clock=self.journal.clock
            )

        return await self.journal.run(work)

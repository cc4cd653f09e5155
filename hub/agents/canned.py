"""Canned responses: saved replies every agent can insert into a chat. An admin adds and
deletes them; each change is a unit of work in the journal."""

from __future__ import annotations

from hub.db import Database
from hub.errors import NotFound
from hub.journal import Journal, Scope
from hub.models import CannedResponse
from hub.store.canned import add_canned_response, canned_responses, delete_canned_response


class CannedResponses:
    def __init__(self, database: Database, journal: Journal) -> None:
        self.database = database
        self.journal = journal

    async def all(self) -> list[CannedResponse]:
        async with self.database.read() as conn:
            return await canned_responses(conn=conn)

    async def add(self, title: str, body: str) -> CannedResponse:
        async def work(scope: Scope) -> CannedResponse:
            return await add_canned_response(title, body, conn=scope.conn, clock=self.journal.clock)

        return await self.journal.run(work)

    async def delete(self, canned_id: str) -> None:
        async def work(scope: Scope) -> bool:
            return await delete_canned_response(canned_id, conn=scope.conn)

        if not await self.journal.run(work):
            raise NotFound("this canned response does not exist")

"""Installation facts kept in the database."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from hub.journal import Journal, Scope
from hub.models import HubMeta, table
from hub.writer import insert_on_conflict

META = table(HubMeta)
_KEY = sa.select(META.c.value).where(META.c.key == "token_key")


async def token_key(journal: Journal) -> bytes:
    """The key conversation tokens are signed with; made once, shared by all hub processes
    (the first to write it wins, the others read it)."""

    async def work(scope: Scope) -> str:
        conn = scope.conn
        value: str | None = await conn.scalar(_KEY)
        if value is None:
            await conn.execute(
                insert_on_conflict(conn, META)
                .values(key="token_key", value=secrets.token_hex(32))
                .on_conflict_do_nothing(index_elements=[META.c.key])
            )
            value = await conn.scalar(_KEY)
        assert value is not None, "the token key was written, so it can be read"
        return value

    return bytes.fromhex(await journal.run(work, isolated=True))

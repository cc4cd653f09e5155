"""Installation facts kept in the database."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import HubMeta, table

META = table(HubMeta)


async def token_key(*, engine: AsyncEngine) -> bytes:
    """The key conversation tokens are signed with; made once, shared by all hub processes."""
    async with engine.connect() as conn:
        value = await conn.scalar(sa.select(META.c.value).where(META.c.key == "token_key"))
        if value is None:
            try:
                await conn.execute(
                    sa.insert(META).values(key="token_key", value=secrets.token_hex(32))
                )
                await conn.commit()
            except IntegrityError:  # another process made it first
                await conn.rollback()
            value = await conn.scalar(sa.select(META.c.value).where(META.c.key == "token_key"))
    assert value is not None, "the token key was written, so it can be read"
    return bytes.fromhex(value)

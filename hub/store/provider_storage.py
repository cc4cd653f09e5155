"""What the hub keeps for provider adapters: platform links and each instance's key-value
store (``ProviderContext.link`` / ``lookup`` / ``store``). Writes are journal units."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.db import Database
from hub.journal import Journal, Scope
from hub.models import ProviderLink, ProviderValue, table
from hub.writer import WriteConnection, insert_on_conflict
from providers import AdapterStore
from providers.context import check_store_key, check_store_value

LINKS = table(ProviderLink)
VALUES = table(ProviderValue)


async def linked(database: Database, instance: str, platform_id: str) -> str | None:
    async with database.read() as conn:
        conversation_id: str | None = await conn.scalar(
            sa.select(LINKS.c.conversation_id).where(
                LINKS.c.instance == instance, LINKS.c.platform_id == platform_id
            )
        )
    return conversation_id


async def add_link(
    instance: str, platform_id: str, conversation_id: str, *, conn: WriteConnection, now: datetime
) -> str:
    """Link a platform's chat id to a conversation, unless it is linked already; returns
    the conversation it is linked to."""
    await conn.execute(
        insert_on_conflict(conn, LINKS)
        .values(
            instance=instance,
            platform_id=platform_id,
            conversation_id=conversation_id,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[LINKS.c.instance, LINKS.c.platform_id])
    )
    linked_to: str = await conn.scalar(
        sa.select(LINKS.c.conversation_id).where(
            LINKS.c.instance == instance, LINKS.c.platform_id == platform_id
        )
    )
    return linked_to


class HubAdapterStore(AdapterStore):
    """One instance's values, in the ``provider_values`` table."""

    def __init__(self, database: Database, journal: Journal, instance: str) -> None:
        self.database = database
        self.journal = journal
        self.clock = journal.clock
        self.instance = instance

    def _where(self, key: str) -> sa.ColumnElement[bool]:
        return sa.and_(VALUES.c.instance == self.instance, VALUES.c.key == key)

    def _expiry(self, now: datetime, ttl: float | None) -> datetime | None:
        if ttl is None:
            return None
        if ttl <= 0:
            raise ValueError("ttl must be more than 0 seconds")
        return now + timedelta(seconds=ttl)

    async def get(self, key: str) -> Any:
        check_store_key(key)
        async with self.database.read() as conn:
            row = (
                await conn.execute(
                    sa.select(VALUES.c.value, VALUES.c.expires_at).where(self._where(key))
                )
            ).first()
        if row is None or (row.expires_at is not None and row.expires_at <= self.clock.now()):
            return None
        return row.value

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        check_store_key(key)
        check_store_value(value)
        now = self.clock.now()
        values = {"value": value, "expires_at": self._expiry(now, ttl), "updated_at": now}

        async def work(scope: Scope) -> None:
            upsert = insert_on_conflict(scope.conn, VALUES).values(
                instance=self.instance, key=key, **values
            )
            await scope.conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[VALUES.c.instance, VALUES.c.key], set_=values
                )
            )

        await self.journal.run(work)

    async def add(self, key: str, value: Any, *, ttl: float | None = None) -> bool:
        check_store_key(key)
        check_store_value(value)
        now = self.clock.now()
        row = {
            "instance": self.instance,
            "key": key,
            "value": value,
            "expires_at": self._expiry(now, ttl),
            "updated_at": now,
        }

        async def work(scope: Scope) -> bool:
            # An expired value is gone: the key is free again.
            await scope.conn.execute(
                sa.delete(VALUES).where(self._where(key), VALUES.c.expires_at <= now)
            )
            added = await scope.conn.scalar(
                insert_on_conflict(scope.conn, VALUES)
                .values(**row)
                .on_conflict_do_nothing(index_elements=[VALUES.c.instance, VALUES.c.key])
                .returning(VALUES.c.key)
            )
            return added is not None

        return await self.journal.run(work, isolated=True)

    async def delete(self, key: str) -> None:
        check_store_key(key)

        async def work(scope: Scope) -> None:
            await scope.conn.execute(sa.delete(VALUES).where(self._where(key)))

        await self.journal.run(work)

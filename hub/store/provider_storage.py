"""What the hub keeps for provider adapters: platform links and each instance's key-value
store (``ProviderContext.link`` / ``lookup`` / ``store``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock
from hub.db import Database
from hub.models import ProviderLink, ProviderValue, table
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


class HubAdapterStore(AdapterStore):
    """One instance's values, in the ``provider_values`` table."""

    def __init__(self, database: Database, clock: Clock, instance: str) -> None:
        self.database = database
        self.clock = clock
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
        for _ in range(2):  # a racing first insert of the same key: update it then
            try:
                async with self.database.writer.begin() as conn:
                    updated = await conn.execute(
                        sa.update(VALUES).where(self._where(key)).values(**values)
                    )
                    if updated.rowcount == 0:
                        await conn.execute(
                            sa.insert(VALUES).values(instance=self.instance, key=key, **values)
                        )
                return
            except IntegrityError:
                continue
        raise RuntimeError(f"could not store {key!r}")  # pragma: no cover (two lost races)

    async def add(self, key: str, value: Any, *, ttl: float | None = None) -> bool:
        check_store_key(key)
        check_store_value(value)
        now = self.clock.now()
        try:
            async with self.database.writer.begin() as conn:
                # An expired value is gone: the key is free again.
                await conn.execute(
                    sa.delete(VALUES).where(self._where(key), VALUES.c.expires_at <= now)
                )
                await conn.execute(
                    sa.insert(VALUES).values(
                        instance=self.instance,
                        key=key,
                        value=value,
                        expires_at=self._expiry(now, ttl),
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def delete(self, key: str) -> None:
        check_store_key(key)
        async with self.database.writer.begin() as conn:
            await conn.execute(sa.delete(VALUES).where(self._where(key)))

"""Bots by public id, read from the database at most every few seconds.

Every stream a chatbot opens with its conversation token, and every call a browser widget
makes with the bot's public id, checks the bot (its allowed origins, whether it is
disabled). Reading the row each time would cost a database trip per request; this keeps
what was read for :data:`TTL` seconds. A change made in this process (the dashboard's bots
page) is seen at once (:meth:`forget`); one made by another process or the CLI (a bot
disabled, its origins changed) within ``TTL``. A secret key is always checked against the
database: a rotated key stops working at once.
"""

from __future__ import annotations

import time

from hub.db import Database
from hub.models import Bot
from hub.store.bots import get_bot

TTL = 2.0


class BotDirectory:
    def __init__(self, database: Database, ttl: float = TTL) -> None:
        self.database = database
        self.ttl = ttl
        self._by_id: dict[str, tuple[float, Bot | None]] = {}

    async def by_id(self, bot_id: str) -> Bot | None:
        now = time.monotonic()
        found = self._by_id.get(bot_id)
        if found is not None and found[0] > now:
            return found[1]
        async with self.database.lookup() as conn:
            bot = await get_bot(bot_id, conn=conn)
        if len(self._by_id) > 10_000:  # ids tried at random must not grow it forever
            self._by_id.clear()
        self._by_id[bot_id] = (now + self.ttl, bot)
        return bot

    def forget(self) -> None:
        """Read every bot again (this process changed one)."""
        self._by_id.clear()

"""Registered bots, as an admin changes them: the dashboard's bots page, the CLI, and the
bots declared in the config file (made to exist as declared when the hub starts).

Every change is a unit of work in the journal. A change made in this process is seen at
once by its :class:`~hub.api.bots.BotDirectory` (forgotten after the commit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.api.bots import BotDirectory
from hub.db import Database
from hub.errors import Invalid, NotFound
from hub.journal import Journal, Scope
from hub.models import Bot
from hub.settings import BotSettings
from hub.store.bots import (
    create_bot,
    get_bot,
    list_bots,
    rotate_secret,
    set_bot_disabled,
    set_callback,
    sync_config_bots,
)

MISSING = "this bot does not exist"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A bot and a secret shown once (stored only as a hash)."""

    bot: Bot
    secret: str
    # The secret its callbacks are signed with, when it has a callback URL.
    callback_secret: str | None = None


class BotRegistry:
    def __init__(
        self, database: Database, journal: Journal, directory: BotDirectory | None = None
    ) -> None:
        self.database = database
        self.journal = journal
        self.directory = directory

    async def all(self) -> list[Bot]:
        async with self.database.read() as conn:
            return await list_bots(conn=conn)

    def _changed(self, scope: Scope) -> None:
        if self.directory is not None:
            scope.after_commit(self.directory.forget)

    async def create(
        self,
        name: str,
        *,
        allowed_origins: list[str] | None = None,
        callback_url: str | None = None,
    ) -> NewKey:
        """Register a bot (and where its envelopes are POSTed, if ``callback_url``)."""

        async def work(scope: Scope) -> NewKey:
            bot, secret = await create_bot(
                name, conn=scope.conn, clock=self.journal.clock, allowed_origins=allowed_origins
            )
            callback_secret = None
            if callback_url is not None:
                callback_secret = await set_callback(bot.id, callback_url, conn=scope.conn)
            return NewKey(bot, secret, callback_secret)

        return await self.journal.run(work, isolated=True)

    async def rotate_secret(self, bot_id: str) -> NewKey:
        """A new secret key; the old one stops working at once. A bot declared in the config
        file keeps the key declared there."""

        async def work(scope: Scope) -> NewKey:
            bot = await get_bot(bot_id, conn=scope.conn)
            if bot is None:
                raise NotFound(MISSING)
            if bot.source == "config":
                raise Invalid(
                    "this bot is declared in the config file: change its secret there",
                    code="config_bot",
                )
            secret = await rotate_secret(bot_id, conn=scope.conn)
            self._changed(scope)
            return NewKey(bot, secret)

        return await self.journal.run(work, isolated=True)

    async def set_disabled(self, bot_id: str, disabled: bool) -> None:
        async def work(scope: Scope) -> None:
            try:
                await set_bot_disabled(bot_id, disabled, conn=scope.conn)
            except LookupError:
                raise NotFound(MISSING) from None
            self._changed(scope)

        await self.journal.run(work, isolated=True)

    async def set_callback(self, bot_id: str, url: str | None) -> str | None:
        """Point the bot's envelopes at ``url`` (None stops them); the new signing secret."""

        async def work(scope: Scope) -> str | None:
            try:
                secret = await set_callback(bot_id, url, conn=scope.conn)
            except LookupError:
                raise NotFound(MISSING) from None
            self._changed(scope)
            return secret

        return await self.journal.run(work, isolated=True)

    async def sync_config(self, bots: Mapping[str, BotSettings]) -> None:
        """Make the bots declared in the config file exist as declared (by id)."""
        if not bots:
            return

        async def work(scope: Scope) -> None:
            await sync_config_bots(bots, conn=scope.conn, clock=self.journal.clock)
            self._changed(scope)

        await self.journal.run(work, isolated=True)

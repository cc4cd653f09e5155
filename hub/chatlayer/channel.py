"""What the application holds for its Chatlayer integrations, and the history's purge.

The app factory (:mod:`offload_hub.app`) builds a :class:`ChatlayerChannel` at start-up,
adds its journal tap and registers its outbox handler before the journal starts; the
hub's scheduler (:mod:`hub.lifecycle.scheduler`) purges the kept history every hour.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import aiohttp
import sqlalchemy as sa

from hub.chatlayer.delivery import KIND, ChatlayerDelivery, chatlayer_tap
from hub.chatlayer.history import SESSIONS, ChatlayerHistory
from hub.chatlayer.settings import ChatlayerSettings
from hub.clock import Clock
from hub.db import Database
from hub.journal import Journal
from hub.outbox import Dispatcher
from hub.security.tokens import TokenSigner
from hub.settings import Settings

log = logging.getLogger(__name__)

# Sessions of an integration no longer in the config are forgotten after this long.
ORPHAN_HOURS = 24.0


class ChatlayerChannel:
    """The Chatlayer integrations of one hub: their history, and the hand-backs' outbox
    handler. Built once the HTTP session and the token key exist (start-up)."""

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database,
        journal: Journal,
        http: aiohttp.ClientSession,
        tokens: TokenSigner,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.integrations: dict[str, ChatlayerSettings] = dict(settings.chatlayer)
        self.journal = journal
        self.history = ChatlayerHistory(database, journal)
        self.delivery = ChatlayerDelivery(
            self.integrations,
            self.history,
            database,
            lambda: http,
            lambda: tokens,
            clock,
            public_url=settings.public_base_url,
            token_ttl=settings.token_ttl_seconds,
            timeout=settings.provider_timeout_seconds,
            allow_private=settings.allow_private_urls,
            max_attempts=settings.callback_attempts,
        )

    def install(self, dispatcher: Dispatcher) -> None:
        """Add the tap and the outbox handler (before the journal starts)."""
        self.journal.taps.append(chatlayer_tap(self.integrations, lambda: dispatcher))
        dispatcher.register(KIND, self.delivery)

    def history_ttl(self, integration: ChatlayerSettings) -> timedelta:
        """How long a quiet session's history is kept: ``history_hours``, and never longer
        than the conversations' own retention when that is set."""
        hours = integration.history_hours
        retention_days = self.settings.lifecycle.retention_days
        if retention_days > 0:
            hours = min(hours, retention_days * 24)
        return timedelta(hours=hours)

    async def purge(self, now: datetime | None = None) -> int:
        """Forget quiet sessions and their history; returns how many."""
        now = now or self.journal.clock.now()
        total = 0
        for name, integration in self.integrations.items():
            total += await self.history.purge(
                name, integration.bot, now - self.history_ttl(integration)
            )
        async with self.history.database.read() as conn:
            known = set(await conn.scalars(sa.select(SESSIONS.c.integration).distinct()))
        for name in sorted(known - set(self.integrations)):
            total += await self.history.purge(name, None, now - timedelta(hours=ORPHAN_HOURS))
        if total:
            log.info("chatlayer: forgot %d quiet sessions and their history", total)
        return total

"""Bot callbacks: every envelope of a bot's conversations, POSTed to the bot's callback URL.

The journal's tap stages one outbox row per envelope, in the transaction that writes the
envelope, so nothing is lost and nothing is sent that was not committed. The outbox
delivers the rows of a conversation one after the other, in seq order; each POST is signed
(``Hub-Signature``, as docs/protocol.md describes) and carries ``Hub-Event-Id`` =
``<conversationId>:<seq>``, stable across retries, so a receiver de-duplicates on it.
Failures are retried with exponential backoff and jitter; after ``callback_attempts`` the
row is dead-lettered, and an admin can send it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import sqlalchemy as sa

from hub.db import Database
from hub.eventbus import Envelope
from hub.journal import Scope
from hub.models import Bot, table
from hub.outbox import Dispatcher, GiveUp, Retry, Row, stage
from providers.errors import ProviderAuthError, ProviderRefused, ProviderTransientError
from providers.signed_http import OutboundClient, encode, signature
from providers.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER

log = logging.getLogger(__name__)

BOTS = table(Bot)
KIND = "callback"


def target(bot_id: str) -> str:
    return f"{KIND}:{bot_id}"


@dataclass(frozen=True, slots=True)
class Callback:
    url: str
    secret: str


class CallbackDirectory:
    """Which bots want callbacks: read from the database at start and every few seconds
    (the tap runs inside write transactions and must not wait for a read)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.callbacks: dict[str, Callback] = {}

    async def refresh(self) -> None:
        query = sa.select(BOTS.c.id, BOTS.c.callback_url, BOTS.c.callback_secret).where(
            BOTS.c.callback_url.is_not(None), BOTS.c.disabled.is_(False)
        )
        async with self.database.read() as conn:
            rows = await conn.execute(query)
            self.callbacks = {
                row.id: Callback(row.callback_url, row.callback_secret or "") for row in rows
            }

    def get(self, bot_id: str) -> Callback | None:
        return self.callbacks.get(bot_id)


def callback_tap(
    directory: CallbackDirectory, dispatcher: Callable[[], Dispatcher | None]
) -> Callable[[Scope, list[Envelope]], Any]:
    async def tap(scope: Scope, envelopes: list[Envelope]) -> None:
        if not directory.callbacks:
            return
        bots: dict[str, str] = {}
        for envelope in envelopes:
            cid = envelope.conversation_id
            if cid not in bots:
                bots[cid] = (await scope.conversation(cid))["bot_id"]
            bot_id = bots[cid]
            if directory.get(bot_id) is None:
                continue
            stage(
                scope,
                target=target(bot_id),
                kind="envelope",
                conversation_id=cid,
                payload={"envelope": envelope.as_dict()},
                dispatcher=dispatcher(),
                event_id=f"{cid}:{envelope.seq}",
            )

    return tap


class CallbackDelivery:
    """The outbox handler for ``callback:<bot>`` rows: one signed POST per attempt."""

    def __init__(
        self,
        directory: CallbackDirectory,
        http: Callable[[], aiohttp.ClientSession],
        *,
        timeout: float,
        allow_private: bool,
        max_attempts: int,
    ) -> None:
        self.directory = directory
        self.http = http
        self.timeout = timeout
        self.allow_private = allow_private
        self.max_attempts = max_attempts

    async def attempt(self, row: Row) -> None:
        bot_id = row["target"].split(":", 1)[1]
        callback = self.directory.get(bot_id)
        if callback is None:
            raise GiveUp("the bot has no callback URL any more")
        envelope = row["payload"]["envelope"]
        client = OutboundClient(
            self.http,
            authorize=signature(lambda: callback.secret),
            timeout=self.timeout,
            allow_private=self.allow_private,
            logger=log,
            party="the bot's callback URL",
        )
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: row["event_id"],
            EVENT_TYPE_HEADER: envelope["action"],
        }
        try:
            answer = await client.call("POST", callback.url, encode(envelope), headers)
            answer.raise_for_status()
        except ProviderTransientError as exc:
            raise Retry(str(exc), after=exc.retry_after) from None
        except ProviderAuthError as exc:  # the receiver's secret differs: fixable, so retry
            raise Retry(str(exc)) from None
        except ProviderRefused as exc:
            raise GiveUp(str(exc)) from None

    def on_retry(self, row: Row, error: str) -> None:
        return None

    def on_dead(self, row: Row, error: str) -> None:
        log.warning(
            "callback %s to bot %s dead-lettered: %s",
            row["event_id"],
            row["target"].split(":", 1)[1],
            error,
        )

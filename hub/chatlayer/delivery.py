"""Agent replies and the end of the chat, delivered to Chatlayer like bot callbacks.

The journal's tap stages one outbox row per envelope of a Chatlayer conversation (one an
offload opened, under the integration's hub bot) that matters to Chatlayer
(:func:`hub.chatlayer.outgoing.row_for`), in the transaction that writes the envelope.
The outbox delivers the rows of a conversation one after the other, in seq order
(``target`` = ``chatlayer:<integration>``, one lane per conversation), each with one call
to Chatlayer's API; failures are retried with exponential backoff and jitter, and after
``callback_attempts`` a row is dead-lettered (an admin can send it again). The row's
``event_id`` is ``cl:<conversationId>:<seq>``.

System messages and the return to the bot are only sent for a conversation that a
provider took (its log reports it ``queued`` or ``assigned``): when nobody could take the
offload, the offload's own answer said so, and Chatlayer never paused the bot.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import sqlalchemy as sa

from hub.chatlayer import outgoing
from hub.chatlayer.client import ChatlayerApi, image_message, text_message
from hub.chatlayer.history import ChatlayerHistory
from hub.chatlayer.settings import ChatlayerSettings
from hub.clock import Clock
from hub.db import Database
from hub.eventbus import Envelope
from hub.journal import Scope
from hub.models import OPEN_STATUSES, Event, table
from hub.outbox import Dispatcher, GiveUp, Retry, Row, stage
from providers.errors import ProviderAuthError, ProviderRefused, ProviderTransientError

if TYPE_CHECKING:
    from hub.security.tokens import TokenSigner

log = logging.getLogger(__name__)

KIND = "chatlayer"
EVENTS = table(Event)
ACCEPTED_CACHE = 10_000


def target(integration: str) -> str:
    return f"{KIND}:{integration}"


def chatlayer_tap(
    integrations: dict[str, ChatlayerSettings], dispatcher: Callable[[], Dispatcher | None]
) -> Callable[[Scope, list[Envelope]], Any]:
    by_bot = {integration.bot: name for name, integration in integrations.items()}

    async def tap(scope: Scope, envelopes: list[Envelope]) -> None:
        if not by_bot:
            return
        for envelope in envelopes:
            if envelope.action not in (
                "displayChatbotMessage",
                "displaySystemMessage",
                "setExternalInfo",
            ):
                continue
            cid = envelope.conversation_id
            conversation = await scope.conversation(cid)
            name = by_bot.get(conversation["bot_id"])
            if name is None or conversation["channel"] != f"chatlayer:{name}":
                continue  # not a Chatlayer conversation (the bot's v1 escalations are not)
            made = outgoing.row_for(envelope, integrations[name])
            if made is None:
                continue
            kind, payload = made
            stage(
                scope,
                target=target(name),
                kind=kind,
                conversation_id=cid,
                payload={
                    **payload,
                    "seq": envelope.seq,
                    "sessionId": conversation["session_id"],
                    "botId": conversation["bot_id"],
                },
                dispatcher=dispatcher(),
                event_id=f"cl:{cid}:{envelope.seq}",
            )

    return tap


class ChatlayerDelivery:
    """The outbox handler for ``chatlayer:<integration>`` rows: one API call per attempt."""

    def __init__(
        self,
        integrations: dict[str, ChatlayerSettings],
        history: ChatlayerHistory,
        database: Database,
        http: Callable[[], aiohttp.ClientSession],
        tokens: Callable[[], TokenSigner],
        clock: Clock,
        *,
        public_url: str,
        token_ttl: float,
        timeout: float,
        allow_private: bool,
        max_attempts: int,
    ) -> None:
        self.integrations = integrations
        self.history = history
        self.database = database
        self.http = http
        self.tokens = tokens
        self.clock = clock
        self.public_url = public_url
        self.token_ttl = token_ttl
        self.timeout = timeout
        self.allow_private = allow_private
        self.max_attempts = max_attempts
        self._accepted: OrderedDict[str, bool] = OrderedDict()

    def client(self, integration: ChatlayerSettings) -> ChatlayerApi:
        return ChatlayerApi(
            integration.api_url,
            integration.api_token.get_secret_value(),
            self.http,
            timeout=self.timeout,
            allow_private=self.allow_private,
        )

    async def accepted(self, conversation_id: str) -> bool:
        """Whether a provider took the conversation (so Chatlayer paused the bot)."""
        if conversation_id in self._accepted:
            return True
        query = sa.select(EVENTS.c.data).where(
            EVENTS.c.conversation_id == conversation_id, EVENTS.c.action == "setExternalInfo"
        )
        async with self.database.read() as conn:
            reports = list(await conn.scalars(query))
        if not any(json.loads(data)["hub"].get("status") in OPEN_STATUSES for data in reports):
            return False
        self._accepted[conversation_id] = True
        while len(self._accepted) > ACCEPTED_CACHE:
            self._accepted.popitem(last=False)
        return True

    def _media_link(self, row: Row, media: dict[str, Any]) -> str:
        """A link the user can open: the file, with a conversation token that expires."""
        expires = self.clock.now() + timedelta(seconds=self.token_ttl)
        token = self.tokens().issue(row["conversation_id"], row["payload"]["botId"], expires)
        return f"{self.public_url}{media['url']}?token={token}"

    def messages(self, row: Row, integration: ChatlayerSettings) -> list[dict[str, Any]]:
        """The Chatlayer messages of a ``message`` or ``notice`` row."""
        payload = row["payload"]
        if row["kind"] == outgoing.NOTICE:
            return [text_message(payload["text"])]
        found = []
        if text := outgoing.agent_text(payload, integration):
            found.append(text_message(text))
        media = payload.get("media")
        if media and media.get("url"):
            link = self._media_link(row, media)
            if str(media.get("contentType") or "").startswith("image/"):
                found.append(image_message(link))
            else:
                found.append(text_message(f"{media.get('name') or 'file'}: {link}"))
        return found

    async def attempt(self, row: Row) -> None:
        name = row["target"].split(":", 1)[1]
        integration = self.integrations.get(name)
        if integration is None:
            raise GiveUp(f"there is no Chatlayer integration {name!r} any more")
        kind = row["kind"]
        if kind in (outgoing.NOTICE, outgoing.RESUME) and not await self.accepted(
            row["conversation_id"]
        ):
            return None  # nobody took the offload: Chatlayer was told so, the bot never paused
        session = await self.history.coordinates(name, row["payload"]["sessionId"])
        if session is None:
            raise GiveUp(f"Chatlayer session {row['payload']['sessionId']!r} is not known")
        client = self.client(integration)
        try:
            if kind == outgoing.RESUME:
                await client.hand_back(
                    session,
                    strategy=integration.hand_back,
                    dialogstate=integration.resume_dialogstate,
                )
            elif messages := self.messages(row, integration):
                await client.send_messages(session, messages)
        except ProviderTransientError as exc:
            raise Retry(str(exc), after=exc.retry_after) from None
        except ProviderAuthError as exc:  # a wrong API token: fixable, so retry
            raise Retry(str(exc)) from None
        except ProviderRefused as exc:
            raise GiveUp(str(exc)) from None
        return None

    def on_retry(self, row: Row, error: str) -> None:
        return None

    def on_dead(self, row: Row, error: str) -> None:
        if row["kind"] != outgoing.RESUME:
            log.warning("Chatlayer delivery %s dead-lettered: %s", row["event_id"], error)
            return
        # The worst failure on this channel: the user stays with a paused, silent bot.
        name = row["target"].split(":", 1)[1]
        integration = self.integrations.get(name)
        strategy = integration.hand_back if integration is not None else "?"
        log.warning(
            "Chatlayer hand-back of session %s (integration %s, conversation %s) failed for "
            "good: %s. The bot stays paused for this user: check hand_back (%s), then send "
            "%s again from the dashboard's Dead letters",
            row["payload"].get("sessionId"),
            name,
            row["conversation_id"],
            error,
            strategy,
            row["event_id"],
        )

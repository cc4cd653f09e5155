"""User-side work for a provider, carried by the outbox: messages, reads, closings.

A message is acknowledged with ``SINGLE_TICK`` once the adapter's ``deliver`` returns,
shows ``WAITING_TICK`` after its first failed attempt, and ``ERROR_TICK`` when the retry
budget is spent (or the adapter refuses it for good).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import sqlalchemy as sa

from hub.conversation import ticks
from hub.db import Database
from hub.journal import ConversationState, Scope
from hub.models import Message, table
from hub.outbox import Dispatcher, GiveUp, Retry, Row, stage
from hub.plugins import ProviderHost
from hub.store.conversations import get_conversation
from hub.store.media import get_media
from providers import (
    Capability,
    Closing,
    ConversationEnded,
    ConversationRef,
    MediaInfo,
    OutboundMessage,
    ProviderAuthError,
    ProviderRefused,
    ProviderTransientError,
    SupportsReadReceipts,
    UnknownConversation,
)

MESSAGES = table(Message)
KIND = "provider"


def target(instance: str) -> str:
    return f"{KIND}:{instance}"


def stage_message(
    scope: Scope, conversation: ConversationState, message_id: str, dispatcher: Dispatcher | None
) -> None:
    stage(
        scope,
        target=target(conversation["provider"]),
        kind="deliver",
        conversation_id=conversation.id,
        payload={"messageId": message_id},
        dispatcher=dispatcher,
    )


def stage_read(
    scope: Scope, conversation: ConversationState, up_to: str, dispatcher: Dispatcher | None
) -> None:
    stage(
        scope,
        target=target(conversation["provider"]),
        kind="read",
        conversation_id=conversation.id,
        payload={"upTo": up_to},
        dispatcher=dispatcher,
    )


def stage_close(
    scope: Scope,
    conversation: ConversationState,
    *,
    instance: str,
    reason: str,
    by: str,
    dispatcher: Dispatcher | None,
) -> None:
    stage(
        scope,
        target=target(instance),
        kind="close",
        conversation_id=conversation.id,
        payload={"reason": reason, "by": by},
        dispatcher=dispatcher,
    )


async def stage_undelivered(
    scope: Scope, conversation: ConversationState, dispatcher: Dispatcher | None
) -> None:
    """Messages the user sent before any provider held the conversation go out now."""
    waiting = await scope.conn.scalars(
        sa.select(MESSAGES.c.id)
        .where(
            MESSAGES.c.conversation_id == conversation.id,
            MESSAGES.c.author == "user",
            MESSAGES.c.status == "stored",
        )
        .order_by(MESSAGES.c.seq)
    )
    for message_id in waiting:
        if not scope.recall(("queued-delivery", message_id)):
            stage_message(scope, conversation, message_id, dispatcher)
            scope.note(("queued-delivery", message_id), True)


async def _tick(conversation_id: str, message_id: str, status: str, scope: Scope) -> None:
    conversation = await scope.conversation(conversation_id)
    await ticks.advance(scope, conversation, message_id, status)


class ProviderDelivery:
    """The outbox handler for ``provider:<instance>`` rows."""

    def __init__(
        self, host: ProviderHost, database: Database, *, timeout: float, max_attempts: int
    ) -> None:
        self.host = host
        self.database = database
        self.timeout = timeout
        self.max_attempts = max_attempts

    async def attempt(self, row: Row) -> Callable[[Scope], Awaitable[None]] | None:
        instance_name = row["target"].split(":", 1)[1]
        instance = self.host.get(instance_name)
        if instance is None or instance.provider is None:
            raise GiveUp(f"provider instance {instance_name!r} does not exist")
        if not instance.usable:
            raise Retry(f"provider {instance_name} is unavailable: {instance.detail}")
        provider = instance.provider
        async with self.database.read() as conn:
            conversation = await get_conversation(row["conversation_id"], conn=conn)
            if conversation is None:
                raise GiveUp("the conversation no longer exists")
            ref = ConversationRef(conversation.id, conversation.provider_ref)
            payload = row["payload"]
            call: Awaitable[Any]
            if row["kind"] == "deliver":
                message = await self._message(conn, payload["messageId"], ref)
                call = provider.deliver(message)
            elif row["kind"] == "read":
                if not isinstance(provider, SupportsReadReceipts) or not provider.supports(
                    Capability.READ_RECEIPTS
                ):
                    return None
                call = provider.user_read(ref, payload["upTo"])
            elif row["kind"] == "close":
                call = provider.close(Closing(ref, payload["reason"], payload["by"]))
            else:
                raise GiveUp(f"unknown provider work {row['kind']!r}")
        try:
            await asyncio.wait_for(call, self.timeout)
        except ProviderTransientError as exc:
            raise Retry(str(exc) or "temporary failure", after=exc.retry_after) from None
        except ProviderAuthError as exc:
            instance.report(False, f"credentials rejected: {exc}")
            raise Retry(f"credentials rejected: {exc}") from None
        except (ProviderRefused, UnknownConversation, ConversationEnded) as exc:
            raise GiveUp(f"{type(exc).__name__}: {exc}") from None
        except TimeoutError:
            raise Retry(f"no answer within {self.timeout:g}s") from None
        if row["kind"] == "deliver":
            return partial(_tick, row["conversation_id"], row["payload"]["messageId"], "delivered")
        return None

    async def _message(self, conn: Any, message_id: str, ref: ConversationRef) -> OutboundMessage:
        found = (await conn.execute(sa.select(MESSAGES).where(MESSAGES.c.id == message_id))).first()
        if found is None:
            raise GiveUp(f"message {message_id!r} no longer exists")
        media = None
        if found.media_id is not None:
            stored = await get_media(found.media_id, conn=conn)
            if stored is not None:
                media = MediaInfo(
                    stored.id,
                    stored.name,
                    stored.content_type,
                    stored.size,
                    f"/v1/media/{stored.id}",
                )
        return OutboundMessage(
            id=found.id, conversation=ref, text=found.body, sent_at=found.created_at, media=media
        )

    def on_retry(self, row: Row, error: str) -> Callable[[Scope], Awaitable[None]] | None:
        if row["kind"] == "deliver" and row["attempts"] == 1:
            return partial(_tick, row["conversation_id"], row["payload"]["messageId"], "waiting")
        return None

    def on_dead(self, row: Row, error: str) -> Callable[[Scope], Awaitable[None]] | None:
        if row["kind"] == "deliver":
            return partial(_tick, row["conversation_id"], row["payload"]["messageId"], "failed")
        return None

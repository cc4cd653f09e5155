"""User-side work for a provider, carried by the outbox: messages, reads, closings.

A message is acknowledged with ``SINGLE_TICK`` once the adapter's ``deliver`` returns.
While the provider fails, every message held for it shows ``WAITING_TICK`` (the one being
retried and each one queued behind it). A refusal (``ProviderRefused``) is final: that
message shows ``ERROR_TICK``. A provider that cannot be reached (transient errors,
``ProviderUnavailable``, timeouts) until the retry budget is spent, or that is reported
unhealthy while a message waits, loses the conversation: it moves to the next step of its
chain (:mod:`hub.conversation.failover`), where the held messages go.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import sqlalchemy as sa

from hub import actions
from hub.conversation import failover, ticks
from hub.db import Database
from hub.journal import ConversationState, Scope
from hub.models import Message, Outbox, table
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
    ProviderUnavailable,
    SupportsReadReceipts,
    UnknownConversation,
)

log = logging.getLogger(__name__)

MESSAGES = table(Message)
OUTBOX = table(Outbox)
KIND = "provider"
# What a held message may be: stored (not sent yet) or waiting (a failed attempt).
HELD = ("stored", "waiting")
_HELD_MESSAGES = (
    sa.select(MESSAGES.c.id)
    .where(
        MESSAGES.c.conversation_id == sa.bindparam("cid"),
        MESSAGES.c.author == "user",
        MESSAGES.c.status.in_(HELD),
    )
    .order_by(MESSAGES.c.seq)
)
# Row marker: the last attempt failed because the provider could not be reached.
UNREACHABLE = "_unreachable"


def target(instance: str) -> str:
    return f"{KIND}:{instance}"


def stage_message(
    scope: Scope, conversation: ConversationState, message_id: str, dispatcher: Dispatcher | None
) -> None:
    """Send a user message to the conversation's provider; if that provider is failing
    now, the message is held behind the retried one and shows ``WAITING_TICK`` at once."""
    lane = target(conversation["provider"])
    stage(
        scope,
        target=lane,
        kind="deliver",
        conversation_id=conversation.id,
        payload={"messageId": message_id},
        dispatcher=dispatcher,
    )
    if dispatcher is not None and dispatcher.failing(lane, conversation.id):
        if scope.recall(("message-status", message_id)) is None:
            scope.note(("message-status", message_id), "stored")
        scope.emit(conversation, *actions.tick(message_id, "WAITING_TICK"))
        scope.note(("message-status", message_id), "waiting")
        scope.stage(sa.update(MESSAGES).where(MESSAGES.c.id == message_id).values(status="waiting"))


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
    waiting = await scope.conn.scalars(_HELD_MESSAGES, {"cid": conversation.id})
    for message_id in waiting:
        if not scope.recall(("queued-delivery", message_id)):
            stage_message(scope, conversation, message_id, dispatcher)
            scope.note(("queued-delivery", message_id), True)


async def _tick(conversation_id: str, message_id: str, status: str, scope: Scope) -> None:
    conversation = await scope.conversation(conversation_id)
    await ticks.advance(scope, conversation, message_id, status)


async def _hold(row: Row, scope: Scope) -> None:
    """The provider failed: every message of this lane still to go shows WAITING_TICK."""
    conversation = await scope.conversation(row["conversation_id"])
    held = await scope.conn.scalars(
        sa.select(OUTBOX.c.payload).where(
            OUTBOX.c.target == row["target"],
            OUTBOX.c.conversation_id == row["conversation_id"],
            OUTBOX.c.kind == "deliver",
            OUTBOX.c.status == "pending",
        )
    )
    message_ids = [row["payload"]["messageId"]]
    message_ids += [p["messageId"] for p in held if p["messageId"] not in message_ids]
    for message_id in message_ids:
        await ticks.advance(scope, conversation, message_id, "waiting")


async def _dead(
    row: Row,
    error: str,
    move_on: bool,
    dispatcher: Dispatcher,
    mover: failover.Failover | None,
    scope: Scope,
) -> None:
    """A delivery that will not be retried: the conversation moves on (the provider is
    unreachable) or the message shows ERROR_TICK (refused, or nowhere to move)."""
    instance = row["target"].split(":", 1)[1]
    conversation = await scope.conversation(row["conversation_id"])
    message_id = row["payload"]["messageId"]
    if conversation.is_open and conversation["provider"] != instance:
        return  # it moved on already: the message goes to the provider that holds it now
    if move_on and conversation.is_open:
        log.warning(
            "provider %s is unreachable for conversation %s (%s): moving it to the next step",
            instance,
            conversation.id,
            error,
        )
        await failover.move_on(
            scope, conversation, instance=instance, dispatcher=dispatcher, failover=mover
        )
        return
    if await ticks.advance(scope, conversation, message_id, "failed"):
        log.warning(
            "message %s of conversation %s was not delivered to provider %s: %s (ERROR_TICK)",
            message_id,
            conversation.id,
            instance,
            error,
        )


class ProviderDelivery:
    """The outbox handler for ``provider:<instance>`` rows."""

    def __init__(
        self,
        host: ProviderHost,
        database: Database,
        dispatcher: Dispatcher,
        *,
        timeout: float,
        max_attempts: int,
        mover: failover.Failover | None = None,
    ) -> None:
        self.host = host
        self.database = database
        self.dispatcher = dispatcher
        self.mover = mover
        self.timeout = timeout
        self.max_attempts = max_attempts

    async def attempt(self, row: Row) -> Callable[[Scope], Awaitable[None]] | None:
        row[UNREACHABLE] = False
        instance_name = row["target"].split(":", 1)[1]
        instance = self.host.get(instance_name)
        if instance is None or instance.provider is None:
            raise GiveUp(f"provider instance {instance_name!r} does not exist")
        provider = instance.provider
        async with self.database.lookup() as conn:
            conversation = await get_conversation(row["conversation_id"], conn=conn)
            if conversation is None:
                raise GiveUp("the conversation no longer exists")
            if row["kind"] != "close" and conversation.provider != instance_name:
                raise GiveUp(f"the conversation moved on from provider {instance_name}")
            if not instance.usable:
                # Unhealthy while a message waits: the conversation moves on now.
                row[UNREACHABLE] = row["kind"] == "deliver"
                unavailable = f"provider {instance_name} is unavailable: {instance.detail}"
                if row[UNREACHABLE] and conversation.status in ("queued", "assigned"):
                    raise GiveUp(unavailable)
                raise Retry(unavailable)
            ref = ConversationRef(conversation.id, conversation.provider_ref)
            payload = row["payload"]
            # The call is made only once the read is over: a coroutine made here and never
            # awaited (a cancelled attempt) would be reported as a leak.
            call: Callable[[], Awaitable[Any]]
            if row["kind"] == "deliver":
                message = await self._message(conn, payload["messageId"], ref)
                call = partial(provider.deliver, message)
            elif row["kind"] == "read":
                if not isinstance(provider, SupportsReadReceipts) or not provider.supports(
                    Capability.READ_RECEIPTS
                ):
                    return None
                call = partial(provider.user_read, ref, payload["upTo"])
            elif row["kind"] == "close":
                call = partial(provider.close, Closing(ref, payload["reason"], payload["by"]))
            else:
                raise GiveUp(f"unknown provider work {row['kind']!r}")
        try:
            await asyncio.wait_for(call(), self.timeout)
        except ProviderTransientError as exc:
            row[UNREACHABLE] = True
            raise Retry(str(exc) or "temporary failure", after=exc.retry_after) from None
        except ProviderUnavailable as exc:
            row[UNREACHABLE] = True
            raise Retry(f"unavailable: {exc.reason}: {exc}") from None
        except ProviderAuthError as exc:
            instance.report(False, f"credentials rejected: {exc}")
            row[UNREACHABLE] = True
            raise Retry(f"credentials rejected: {exc}") from None
        except (ProviderRefused, UnknownConversation, ConversationEnded) as exc:
            raise GiveUp(f"{type(exc).__name__}: {exc}") from None
        except TimeoutError:
            row[UNREACHABLE] = True
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
        log.warning(
            "%s to provider %s failed for conversation %s (attempt %d of %d): %s",
            row["kind"],
            row["target"].split(":", 1)[1],
            row["conversation_id"],
            row["attempts"],
            self.max_attempts,
            error,
        )
        if row["kind"] == "deliver":
            return partial(_hold, row)
        return None

    def on_dead(self, row: Row, error: str) -> Callable[[Scope], Awaitable[None]] | None:
        if row["kind"] == "deliver":
            return partial(
                _dead, row, error, bool(row.get(UNREACHABLE)), self.dispatcher, self.mover
            )
        log.warning(
            "%s to provider %s for conversation %s given up: %s",
            row["kind"],
            row["target"].split(":", 1)[1],
            row["conversation_id"],
            error,
        )
        return None

"""What Chatlayer's events do in the hub.

``messages``: the session's coordinates and its new messages are kept (the bot-side
history); while the session has a conversation open, the user's new messages are passed
on to it (they reach the agent as any chatbot's user messages do, once each: Chatlayer's
message id is the client id).

``offload``: the kept history and the offload's own ``transcript`` become the transcript,
the action's ``payload`` becomes the escalation's data, and the conversation is escalated
through :meth:`ConversationService.escalate` (one open conversation per session; a replay
of the same offload, same session and timestamp, returns the same conversation). The
answer says whether a provider took it (Chatlayer then pauses the bot) or why not.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from hub.chatlayer.history import Coordinates
from hub.chatlayer.schemas import (
    MessagesEvent,
    MessagesOut,
    OffloadEvent,
    OffloadOut,
    OffloadReason,
)
from hub.chatlayer.settings import ChatlayerSettings
from hub.chatlayer.transcript import (
    HistoryItem,
    build_transcript,
    channel_of,
    last_user_text,
    sender_of,
    user_text,
)
from hub.conversation.opening import Escalation
from hub.errors import Conflict, NotFound, Unavailable
from hub.models import OPEN_STATUSES, Conversation, is_open, table
from hub.settings import QueueSettings, Settings
from hub.store.bots import get_bot

if TYPE_CHECKING:
    from hub.chatlayer.channel import ChatlayerChannel
    from hub.conversation.service import ConversationService
    from hub.db import Database

CONVERSATIONS = table(Conversation)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")
SKILL = re.compile(r"^[\w-]{1,40}$")


def _items(event: MessagesEvent | OffloadEvent) -> list[HistoryItem]:
    found = event.messages if isinstance(event, MessagesEvent) else event.transcript
    return [HistoryItem.of(item.actor, item.message, item.timestamp) for item in found]


def _coordinates(event: MessagesEvent | OffloadEvent, items: list[HistoryItem]) -> Coordinates:
    return Coordinates(
        event.botId, event.version, event.sessionId, event.channel or channel_of(items)
    )


def _text(value: Any, limit: int = 200) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def _user(
    name: str, event: OffloadEvent, items: list[HistoryItem]
) -> tuple[dict[str, Any], str | None]:
    """The escalation's ``user`` (the SDK's shape) and language, from the action's payload
    (``name``, ``lastName``, ``email``, ``language``) or else the user's Chatlayer sender."""
    payload, sender = event.payload, sender_of(items)
    email = _text(payload.get("email"), 320)
    language = _text(payload.get("language"), 20) or _text(sender.get("preferredLanguage"), 20)
    if language is not None and not LANGUAGE.match(language):
        language = None
    user = {
        "name": _text(payload.get("name")) or _text(sender.get("firstname")),
        "lastName": _text(payload.get("lastName")) or _text(sender.get("lastname")),
        "email": email if email is not None and EMAIL.match(email) else None,
        "language": language,
        "extra": {
            "chatlayer": {
                "integration": name,
                "botId": event.botId,
                "version": event.version,
                "sessionId": event.sessionId,
                "channel": event.channel or channel_of(items),
                "userId": _text(sender.get("id")),
            }
        },
    }
    return user, language


def _skills(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [s.strip() for s in value if isinstance(s, str) and SKILL.match(s.strip())][:20]


def _idempotency(name: str, event: OffloadEvent) -> tuple[str | None, str]:
    """A key for this offload (the same session and timestamp is the same offload)."""
    material = f"{name}\n{event.sessionId}\n{event.timestamp or ''}"
    digest = hashlib.sha256(material.encode()).hexdigest()
    return (f"chatlayer-{digest[:48]}" if event.timestamp else None), digest


class ChatlayerEvents:
    """Takes Chatlayer's ``messages`` and ``offload`` events (built at start-up, once the
    conversation service exists; the endpoint has parsed and checked the event)."""

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database,
        service: ConversationService,
        channel: ChatlayerChannel,
    ) -> None:
        self.settings = settings
        self.database = database
        self.service = service
        self.history = channel.history

    async def messages(
        self, name: str, integration: ChatlayerSettings, event: MessagesEvent
    ) -> MessagesOut:
        if not integration.accepts(event.version):
            return MessagesOut(
                recorded=0, relayed=0, ignored=f"this integration does not take {event.version}"
            )
        items = _items(event)
        new = await self.history.record(
            name, _coordinates(event, items), items, keep=integration.history_limit
        )
        relayed = await self._relay(integration, event.sessionId, new)
        return MessagesOut(recorded=len(new), relayed=relayed)

    async def _relay(
        self, integration: ChatlayerSettings, session_id: str, new: list[HistoryItem]
    ) -> int:
        """Pass the user's new messages to the session's open conversation, if it has one."""
        said = [
            (item, text)
            for item in new
            if item.actor == "user"
            if (text := user_text(item.message)[0])
        ]
        if not said:
            return 0
        query = sa.select(CONVERSATIONS.c.id).where(
            CONVERSATIONS.c.bot_id == integration.bot,
            CONVERSATIONS.c.session_id == session_id,
            is_open(CONVERSATIONS.c.status),
        )
        async with self.database.read() as conn:
            conversation_id = await conn.scalar(query)
        if conversation_id is None:
            return 0
        limit = self.settings.limits.max_message_chars
        relayed = 0
        for item, text in said:
            try:
                await self.service.send_message(
                    conversation_id, client_id=item.key, text=text[:limit], media_id=None
                )
            except (Conflict, NotFound):
                break  # the chat ended meanwhile: what follows is the bot's again
            relayed += 1
        return relayed

    async def offload(
        self, name: str, integration: ChatlayerSettings, event: OffloadEvent
    ) -> OffloadOut:
        if not integration.accepts(event.version):
            return refused("disabled")
        async with self.database.read() as conn:
            bot = await get_bot(integration.bot, conn=conn)
        if bot is None:
            raise Unavailable(
                f"chatlayer.{name}.bot: the hub has no bot {integration.bot!r} (declare it "
                "under [bots] or add it with offload-hub bots add)",
                code="misconfigured",
            )
        if bot.disabled:
            return refused("disabled")
        service, limits = self.service, self.settings.limits
        items = _items(event)
        everything = [*await self.history.load(name, event.sessionId), *items]
        user, language = _user(name, event, everything)
        skills = _skills(event.payload.get("skills"))
        requested = _text(event.payload.get("queue"), 40) or integration.queue
        # An unknown queue is bad input: 422 before anything (the history too) is written.
        service.match_queue(bot_id=bot.id, language=language, skills=skills, requested=requested)
        await self.history.record(
            name, _coordinates(event, items), items, keep=integration.history_limit
        )
        transcript = build_transcript(
            everything, max_chars=limits.max_message_chars, max_items=limits.max_transcript_items
        )
        inquiry = _text(event.payload.get("inquiry"), limits.max_inquiry_chars)
        key, digest = _idempotency(name, event)
        escalated = await service.escalate(
            Escalation(
                bot_id=bot.id,
                session_id=event.sessionId,
                asked_queue=requested,
                language=language,
                user_info=user,
                inquiry=inquiry or last_user_text(transcript)[: limits.max_inquiry_chars],
                skills=skills,
                data=dict(event.payload),
                transcript=transcript,
                idempotency_key=key,
                request_hash=digest,
                channel=f"chatlayer:{name}",
            )
        )
        return answer(escalated.conversation, escalated.queue)


def refused(reason: OffloadReason, **details: Any) -> OffloadOut:
    offloading: Literal["closed", "disabled"] = (
        "closed" if reason in ("out-of-hours", "ticket", "ended") else "disabled"
    )
    return OffloadOut(
        offloadSuccess=False, pauseBot=False, offloading=offloading, reason=reason, **details
    )


def answer(conversation: Conversation, queue: QueueSettings | None) -> OffloadOut:
    """What Chatlayer hears: taken (queued or with an agent), or why not."""
    status = conversation.status
    ids: dict[str, Any] = {"conversationId": conversation.id, "status": status}
    if status in OPEN_STATUSES:
        return OffloadOut(offloadSuccess=True, pauseBot=True, offloading="opened", **ids)
    if status == "ticket":
        return refused("ticket", ticketId=conversation.ticket_id, **ids)
    if queue is None or not queue.enabled:
        return refused("disabled", **ids)
    reason = conversation.end_reason
    if reason == "closed":
        return refused("out-of-hours", **ids)
    if reason in ("no-agents", "unavailable", "error", "refused"):
        return refused("no-agents", **ids)
    return refused("ended", **ids)

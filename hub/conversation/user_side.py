"""Units for what the chatbot sends on the user's behalf."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import NotRequired, TypedDict

import sqlalchemy as sa

from hub import actions
from hub.conversation.delivery import stage_close, stage_message, stage_read
from hub.conversation.ending import end
from hub.errors import Conflict, Invalid, NotFound
from hub.ids import new_id
from hub.journal import ConversationState, Scope
from hub.models import Media, Message, table
from hub.outbox import Dispatcher

MESSAGES = table(Message)
MEDIA = table(Media)


@dataclass(frozen=True, slots=True)
class Stored:
    """A user message as the hub stored it; ``duplicate`` when the client id was known."""

    external_id: str
    seq: int
    duplicate: bool = False


def _require_open(conversation: ConversationState) -> None:
    if not conversation.is_open:
        raise Conflict(
            f"conversation {conversation.id!r} has ended ({conversation['status']})",
            code="conversation_ended",
        )


async def _known_message(
    scope: Scope, conversation_id: str, client_id: str, *, look: bool = False
) -> Stored | None:
    """The message stored under this client id, if any. The database is only read when
    asked (``look``) or in careful mode: normally the unique constraint catches replays."""
    noted = scope.recall(("client-message", conversation_id, client_id))
    if noted is not None:
        return Stored(noted[0], noted[1], duplicate=True)
    if not (scope.careful or look):
        return None
    row = (
        await scope.conn.execute(
            sa.select(MESSAGES.c.id, MESSAGES.c.seq).where(
                MESSAGES.c.conversation_id == conversation_id, MESSAGES.c.client_id == client_id
            )
        )
    ).first()
    return None if row is None else Stored(row.id, row.seq, duplicate=True)


async def user_message(
    scope: Scope,
    *,
    conversation_id: str,
    client_id: str,
    text: str,
    media_id: str | None,
    dispatcher: Dispatcher | None,
) -> Stored:
    """Store a user message once per client id: ``UPDATE_EXTERNAL``, then off to the provider."""
    conversation = await scope.conversation(conversation_id)
    known = await _known_message(scope, conversation_id, client_id)
    if known is None and not conversation.is_open and not scope.careful:
        # A replay after the end still gets its first answer; anything new is refused.
        known = await _known_message(scope, conversation_id, client_id, look=True)
    if known is not None:
        return known
    _require_open(conversation)
    if media_id is not None and scope.recall(("media", media_id)) != conversation_id:
        owner = await scope.conn.scalar(
            sa.select(MEDIA.c.conversation_id).where(MEDIA.c.id == media_id)
        )
        if owner != conversation_id:
            raise Invalid(
                f"media {media_id!r} was not uploaded to this conversation", code="unknown_media"
            )
    message_id = new_id("m")
    seq = scope.emit(conversation, *actions.stored(client_id, message_id))
    scope.insert(
        Message,
        {
            "id": message_id,
            "conversation_id": conversation_id,
            "author": "user",
            "client_id": client_id,
            "source_event_id": None,
            "body": text,
            "media_id": media_id,
            "agent_id": None,
            "agent_name": None,
            "status": "stored",
            "seq": seq,
            "created_at": scope.now,
        },
    )
    scope.note(("client-message", conversation_id, client_id), (message_id, seq))
    if conversation["status"] == "assigned":
        conversation.set(active_at=scope.now, idle_warned=False)
    if conversation["provider"] is not None and conversation["provider_ref"] is not None:
        stage_message(scope, conversation, message_id, dispatcher)
        scope.note(("queued-delivery", message_id), True)
    # Otherwise routing is still under way: opening.opened() sends it once a provider holds it.
    return Stored(message_id, seq)


class NewFile(TypedDict):
    """A file to store (:func:`store_media`'s arguments beside the conversation)."""

    uploader: str
    name: str
    content_type: str
    content: bytes
    require_open: NotRequired[bool]


async def store_media(
    scope: Scope,
    *,
    conversation_id: str,
    uploader: str,
    name: str,
    content_type: str,
    content: bytes,
    require_open: bool = True,
    source_event_id: str | None = None,
) -> dict[str, object]:
    conversation = await scope.conversation(conversation_id)
    if require_open:
        _require_open(conversation)
    media_id = new_id("f")
    row = {
        "id": media_id,
        "conversation_id": conversation_id,
        "uploader": uploader,
        "name": name,
        "content_type": content_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "content": content,
        "source_event_id": source_event_id,
        "created_at": scope.now,
    }
    scope.insert(Media, row)
    scope.note(("media", media_id), conversation_id)
    return {key: value for key, value in row.items() if key != "content"}


class Upload(TypedDict):
    """A file the user sends, with its message (:func:`upload`'s arguments)."""

    client_id: str
    text: str
    name: str
    content_type: str
    content: bytes


async def upload(
    scope: Scope,
    *,
    conversation_id: str,
    client_id: str,
    text: str,
    name: str,
    content_type: str,
    content: bytes,
    dispatcher: Dispatcher | None,
) -> tuple[dict[str, object], Stored]:
    """A file and the user message that carries it, stored together (once per client id)."""
    known = await _known_message(scope, conversation_id, client_id, look=scope.careful)
    if known is not None:
        media_id = await scope.conn.scalar(
            sa.select(MESSAGES.c.media_id).where(MESSAGES.c.id == known.external_id)
        )
        row = (
            await scope.conn.execute(
                sa.select(MEDIA.c.id, MEDIA.c.name, MEDIA.c.content_type, MEDIA.c.size).where(
                    MEDIA.c.id == media_id
                )
            )
        ).first()
        media = {} if row is None else dict(row._mapping)
        return media, known
    media = await store_media(
        scope,
        conversation_id=conversation_id,
        uploader="user",
        name=name,
        content_type=content_type,
        content=content,
    )
    stored = await user_message(
        scope,
        conversation_id=conversation_id,
        client_id=client_id,
        text=text,
        media_id=str(media["id"]),
        dispatcher=dispatcher,
    )
    return media, stored


async def user_read(
    scope: Scope,
    *,
    conversation_id: str,
    up_to: str,
    forward: bool,
    dispatcher: Dispatcher | None,
) -> None:
    conversation = await scope.conversation(conversation_id)
    author = await scope.conn.scalar(
        sa.select(MESSAGES.c.author).where(
            MESSAGES.c.id == up_to, MESSAGES.c.conversation_id == conversation_id
        )
    )
    if author != "agent":
        raise NotFound(
            f"{up_to!r} is not an agent message of this conversation", code="unknown_message"
        )
    if conversation["user_read_up_to"] == up_to:
        return
    conversation.set(user_read_up_to=up_to)
    if forward and conversation.is_open and conversation["provider"] is not None:
        stage_read(scope, conversation, up_to, dispatcher)


async def close(
    scope: Scope,
    *,
    conversation_id: str,
    reason: str,
    by: str,
    dispatcher: Dispatcher | None,
) -> bool:
    """End the chat from the bot's side; False if it had already ended."""
    conversation = await scope.conversation(conversation_id)
    if not conversation.is_open:
        return False
    instance = conversation["provider"]
    end(scope, conversation, reason=reason, by=by, announce=True)
    if instance is not None:
        stage_close(
            scope, conversation, instance=instance, reason=reason, by=by, dispatcher=dispatcher
        )
    return True


async def user_typing(scope: Scope, *, conversation_id: str, typing: bool, ttl: timedelta) -> bool:
    """Remember the user's typing (it ends by itself after ``ttl``); True if it is news."""
    conversation = await scope.conversation(conversation_id)
    _require_open(conversation)
    was_typing = conversation["user_typing_until"] is not None
    conversation.set(user_typing_until=scope.now + ttl if typing else None)
    return typing != was_typing


async def rate(scope: Scope, *, conversation_id: str, value: str, comment: str | None) -> None:
    conversation = await scope.conversation(conversation_id)
    conversation.set(rating_value=value, rating_comment=comment)

"""Units of an escalation: create the conversation, route it step by step, record the outcome."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from hub import actions
from hub.conversation.delivery import stage_undelivered
from hub.conversation.ending import end, end_as_ticket
from hub.conversation.failover import fail_held
from hub.errors import Conflict, Invalid
from hub.ids import new_id
from hub.journal import Scope
from hub.models import Conversation, IdempotencyKey, is_open, table
from hub.outbox import Dispatcher
from providers import Opened

CONVERSATIONS = table(Conversation)
IDEMPOTENCY = table(IdempotencyKey)

# What the user is told when nobody could take the conversation, by the reason the
# chain's providers gave (everything but "closed" reads as "nobody can answer now").
REASON_MESSAGES = {"closed": "out-of-hours"}


def reason_message(reason: str) -> str:
    return REASON_MESSAGES.get(reason, "no-agents")


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """A handover as a channel asks for it (the v1 API, a Chatlayer integration)."""

    bot_id: str
    session_id: str
    language: str | None
    user_info: dict[str, Any]
    inquiry: str
    skills: list[str]
    data: dict[str, Any]
    transcript: list[dict[str, Any]]
    idempotency_key: str | None
    request_hash: str  # the same key with another request is refused
    asked_queue: str | None = None  # the queue the bot named, if it named one
    channel: str | None = None
    # A server-side caller (the bot's secret key) gets a session's open conversation back;
    # a browser (public id) must reattach with the token it kept (409 conversation-open).
    reattach: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class NewConversation(Escalation):
    """An escalation as the hub files it: in its queue, with the time routing may take."""

    queue: str
    route_within: float

    @classmethod
    def filed(cls, asked: Escalation, *, queue: str, route_within: float) -> NewConversation:
        """``asked`` filed in ``queue`` (its language lower-cased)."""
        values = {field.name: getattr(asked, field.name) for field in fields(asked)}
        values["language"] = (asked.language or "").lower() or None
        return cls(**values, queue=queue, route_within=route_within)


@dataclass(frozen=True, slots=True)
class Created:
    conversation_id: str
    created: bool
    # The new conversation as written (routing starts from it without reading it back).
    conversation: Conversation | None = None


# Built once (a statement made per call costs SQLAlchemy its cache key every time).
_OPEN_SESSION = sa.select(CONVERSATIONS.c.id).where(
    CONVERSATIONS.c.bot_id == sa.bindparam("bot_id"),
    CONVERSATIONS.c.session_id == sa.bindparam("session_id"),
    is_open(CONVERSATIONS.c.status),
)
_IDEMPOTENCY = sa.select(IDEMPOTENCY.c.request_hash, IDEMPOTENCY.c.conversation_id).where(
    IDEMPOTENCY.c.bot_id == sa.bindparam("bot_id"), IDEMPOTENCY.c.key == sa.bindparam("key")
)


async def create(scope: Scope, new: NewConversation) -> Created:
    """The conversation for an escalation, or the one that already answers it.

    A known ``Idempotency-Key`` returns its conversation (the same request body only); an
    open conversation of the same bot session is returned rather than a second one, when
    the caller may reattach to it (``reattach``), else it is a 409 ``conversation-open``.
    """
    conn = scope.conn
    if new.idempotency_key is not None:
        known = (
            await conn.execute(_IDEMPOTENCY, {"bot_id": new.bot_id, "key": new.idempotency_key})
        ).first()
        if known is not None:
            if known.request_hash != new.request_hash:
                raise Invalid(
                    "this Idempotency-Key was used with a different request body",
                    code="idempotency_key_reused",
                )
            return Created(known.conversation_id, created=False)
    open_id = await conn.scalar(_OPEN_SESSION, {"bot_id": new.bot_id, "session_id": new.session_id})
    if open_id is not None and not new.reattach:
        raise Conflict(
            "this session's chat is open: reattach with the conversation token it was given",
            code="conversation-open",
        )
    if open_id is None:
        now = scope.now
        open_id = new_id("c")
        state = scope.create_conversation(
            {
                "id": open_id,
                "bot_id": new.bot_id,
                "session_id": new.session_id,
                "channel": new.channel,
                "status": "queued",
                "queue": new.queue,
                "owner": "hub",
                "language": new.language,
                "user_info": new.user_info,
                "inquiry": new.inquiry,
                "skills": new.skills,
                "data": new.data,
                "transcript": new.transcript,
                "created_at": now,
                "updated_at": now,
                # If this process dies while routing, the lifecycle picks the
                # conversation up again once this deadline passes.
                "deadline_at": now + timedelta(seconds=new.route_within),
                "deadline_kind": "route",
            }
        )
        created = True
    else:
        created = False
    if new.idempotency_key is not None:
        scope.insert(
            IdempotencyKey,
            {
                "bot_id": new.bot_id,
                "key": new.idempotency_key,
                "request_hash": new.request_hash,
                "conversation_id": open_id,
                "created_at": scope.now,
            },
        )
    if created:
        return Created(
            open_id, created=True, conversation=Conversation.model_construct(**state.row)
        )
    return Created(open_id, created=False)


async def enter_step(
    scope: Scope, conversation_id: str, *, step: int, instance: str, after_hours: bool = False
) -> bool:
    """Hand the conversation to ``instance`` before its ``open`` runs (so the adapter may
    report on it at once). False when the conversation ended meanwhile."""
    conversation = await scope.conversation(conversation_id)
    if not conversation.is_open:
        return False
    conversation.set(
        provider=instance,
        chain_step=step,
        owner="provider",
        provider_ref=None,
        after_hours=after_hours,
        unattended_since=None,
    )
    return True


async def opened(
    scope: Scope,
    conversation_id: str,
    *,
    instance: str,
    result: Opened,
    wait_limit: float | None,
    dispatcher: Dispatcher | None,
    moved_because: str | None = None,
) -> bool:
    """``open`` accepted: record the provider's ref and tell the chatbot where it stands
    (``moved_because``: why the user, who was waiting at an earlier step, is here now)."""
    conversation = await scope.conversation(conversation_id)
    if not conversation.is_open or conversation["provider"] != instance:
        return False
    conversation.set(provider_ref=result.ref, deadline_at=None, deadline_kind=None)
    if conversation["status"] == "queued" and conversation["agent_id"] is None:
        attended = None
        if result.status == "assigned":
            attended = True if conversation["assigned_at"] is None else None
            conversation.set(status="assigned", assigned_at=scope.now)
        else:
            # The provider may have told the hub this place while open() ran (the desk's
            # dispatch does): then the user has read it already.
            told = (conversation["position"], conversation["estimated_wait"])
            place = (result.position, result.estimated_wait)
            if moved_because is not None:
                scope.emit(conversation, *actions.system_message(reason_message(moved_because)))
            conversation.set(position=result.position, estimated_wait=result.estimated_wait)
            if wait_limit is not None:
                conversation.set(
                    deadline_at=scope.now + timedelta(seconds=wait_limit),
                    deadline_kind="wait-limit",
                )
            if place != (None, None) and (place != told or moved_because is not None):
                scope.emit_all(
                    conversation, [actions.queue_position(result.position, result.estimated_wait)]
                )
        scope.emit_all(conversation, [actions.external_info(conversation.row, attended=attended)])
    await stage_undelivered(scope, conversation, dispatcher)
    return True


async def ticketed(
    scope: Scope,
    conversation_id: str,
    *,
    instance: str,
    ticket_id: str,
    ref: str | None,
    skipped_reason: str | None,
) -> bool:
    """``open`` made a ticket: say why no one chats, give the ticket id, back to the bot."""
    conversation = await scope.conversation(conversation_id)
    if not conversation.is_open or conversation["provider"] != instance:
        return False
    conversation.set(provider_ref=ref)
    if conversation["deadline_kind"] == "moving":
        await fail_held(scope, conversation)  # a live chat that failed over to a ticket
    if skipped_reason is not None:
        scope.emit_all(conversation, [actions.system_message(reason_message(skipped_reason))])
    end_as_ticket(scope, conversation, ticket_id)
    return True


async def unserved(scope: Scope, conversation_id: str, *, reason: str) -> bool:
    """No step of the chain took the conversation: say why, and back to the bot."""
    conversation = await scope.conversation(conversation_id)
    if not conversation.is_open:
        return False
    conversation.set(provider=None, provider_ref=None)
    if conversation["deadline_kind"] == "moving":
        await fail_held(scope, conversation)
    scope.emit_all(conversation, [actions.system_message(reason_message(reason))])
    end(scope, conversation, reason=reason, by="hub", announce=False)
    return True

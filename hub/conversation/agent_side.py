"""Units for what a provider reports through its context (the agent side of the chat).

Each takes the reporting instance's name: a provider may only speak about conversations
it holds. An ``event_id`` makes a report idempotent: the second time, nothing happens.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from hub import actions
from hub.conversation import ticks
from hub.conversation.ending import end, end_as_ticket
from hub.errors import NotFound
from hub.ids import new_id
from hub.journal import ConversationState, Scope
from hub.models import Message, ProviderEvent, table
from providers import Agent, ConversationEnded, MediaInfo, UnknownConversation

PROVIDER_EVENTS = table(ProviderEvent)
MESSAGES = table(Message)

TYPING_TTL = timedelta(seconds=6)  # the default; the context passes the configured one


async def owned(
    scope: Scope, conversation_id: str, instance: str, *, ended_ok: bool = False
) -> ConversationState:
    """The conversation, if ``instance`` holds it (and it is open, unless ``ended_ok``)."""
    try:
        conversation = await scope.conversation(conversation_id)
    except NotFound:
        raise UnknownConversation(f"no conversation {conversation_id!r}") from None
    if conversation["provider"] != instance:
        raise UnknownConversation(
            f"conversation {conversation_id!r} is not held by provider {instance!r}"
        )
    if not ended_ok and not conversation.is_open:
        raise ConversationEnded(f"conversation {conversation_id!r} has ended")
    return conversation


async def _first_answer(scope: Scope, instance: str, event_id: str | None) -> str | None:
    """The conversation of an event this instance reported before, if it did."""
    if event_id is None:
        return None
    conversation_id: str | None = await scope.conn.scalar(
        sa.select(PROVIDER_EVENTS.c.conversation_id).where(
            PROVIDER_EVENTS.c.instance == instance, PROVIDER_EVENTS.c.event_id == event_id
        )
    )
    return conversation_id


async def held(
    scope: Scope,
    conversation_id: str,
    instance: str,
    event_id: str | None,
    *,
    ended_ok: bool = False,
) -> ConversationState | None:
    """``owned``, except that an event reported before answers as the first time (None)
    even when the conversation has ended or moved on since."""
    try:
        return await owned(scope, conversation_id, instance, ended_ok=ended_ok)
    except (UnknownConversation, ConversationEnded):
        if await _first_answer(scope, instance, event_id) == conversation_id:
            return None
        raise


async def seen(scope: Scope, instance: str, event_id: str | None, conversation_id: str) -> bool:
    """True if this event id was already handled; otherwise records it (with the unit)."""
    if event_id is None:
        return False
    if scope.careful or scope.recall(("provider-event", instance, event_id)):
        known = scope.recall(("provider-event", instance, event_id)) or await scope.conn.scalar(
            sa.select(sa.literal(1)).where(
                PROVIDER_EVENTS.c.instance == instance, PROVIDER_EVENTS.c.event_id == event_id
            )
        )
        if known:
            return True
    scope.insert(
        ProviderEvent,
        {
            "instance": instance,
            "event_id": event_id,
            "conversation_id": conversation_id,
            "created_at": scope.now,
        },
    )
    scope.note(("provider-event", instance, event_id), True)
    return False


def stop_typing(scope: Scope, conversation: ConversationState) -> None:
    if conversation["agent_typing_until"] is not None:
        conversation.set(agent_typing_until=None)
        scope.emit(conversation, *actions.stop_typing())


def join(scope: Scope, conversation: ConversationState, agent: Agent) -> None:
    """The agent takes the conversation (after the previous one leaves, on a transfer)."""
    if conversation["agent_id"] is not None and conversation["agent_id"] != agent.id:
        # A transfer: the previous agent leaves first.
        stop_typing(scope, conversation)
        scope.emit(
            conversation,
            *actions.system_message("agent-left", agentName=conversation["agent_name"]),
        )
    had_icon = conversation["agent_icon"] is not None
    conversation.set(
        status="assigned",
        owner="agent",
        agent_id=agent.id,
        agent_name=agent.name,
        agent_icon=agent.icon_url,
        position=None,
        estimated_wait=None,
        deadline_at=None,
        deadline_kind=None,
        active_at=scope.now,
        idle_warned=False,
    )
    first = conversation["assigned_at"] is None
    if first:
        conversation.set(assigned_at=scope.now)
    joined = actions.agent_joined(agent.name, agent.icon_url)
    if had_icon and agent.icon_url is None:
        joined.insert(1, actions.set_icon(None))
    info = actions.external_info(conversation.row, attended=True if first else None)
    scope.emit_all(conversation, [*joined, info])


async def agent_joined(
    scope: Scope, *, instance: str, conversation_id: str, agent: Agent, event_id: str | None
) -> None:
    conversation = await held(scope, conversation_id, instance, event_id)
    if conversation is None or await seen(scope, instance, event_id, conversation_id):
        return
    if conversation["status"] == "assigned" and conversation["agent_id"] == agent.id:
        await _profile(scope, conversation, agent)
        return
    join(scope, conversation, agent)


async def agent_left(
    scope: Scope,
    *,
    instance: str,
    conversation_id: str,
    reason: str | None,
    event_id: str | None,
) -> None:
    conversation = await held(scope, conversation_id, instance, event_id)
    if conversation is None or await seen(scope, instance, event_id, conversation_id):
        return
    leave(scope, conversation)


def leave(scope: Scope, conversation: ConversationState) -> None:
    """The agent leaves; the conversation waits in the queue again."""
    if conversation["agent_id"] is None:
        return
    stop_typing(scope, conversation)
    scope.emit(
        conversation, *actions.system_message("agent-left", agentName=conversation["agent_name"])
    )
    conversation.set(
        status="queued",
        owner="provider",
        agent_id=None,
        agent_name=None,
        agent_icon=None,
        active_at=None,
        idle_warned=False,
    )
    scope.emit_all(
        conversation,
        [actions.set_name(None), actions.set_icon(None), actions.external_info(conversation.row)],
    )


async def agent_message(
    scope: Scope,
    *,
    instance: str,
    conversation_id: str,
    html: str,
    agent: Agent | None,
    event_id: str | None,
    media: MediaInfo | None,
    record_if_ended: bool = False,
) -> str:
    """Store and show an agent message (already sanitised); returns its externalId.

    On a ticket (the chat went back to the bot) the reply is recorded on the conversation,
    where agents and the snapshot see it, but not shown to the chatbot."""
    conversation = await held(scope, conversation_id, instance, event_id, ended_ok=True)
    if conversation is None:
        return await _message_of(scope, conversation_id, event_id)
    on_ticket = conversation["status"] == "ticket" or (record_if_ended and not conversation.is_open)
    if not conversation.is_open and not on_ticket:
        if await _first_answer(scope, instance, event_id) == conversation_id:
            return await _message_of(scope, conversation_id, event_id)
        raise ConversationEnded(f"conversation {conversation_id!r} has ended")
    if await seen(scope, instance, event_id, conversation_id):
        existing = await scope.conn.scalar(
            sa.select(MESSAGES.c.id).where(
                MESSAGES.c.conversation_id == conversation_id,
                MESSAGES.c.source_event_id == event_id,
            )
        )
        known: str = (
            existing
            if existing is not None
            else scope.recall(("agent-message", instance, event_id))
        )
        return known
    message_id = new_id("m")
    if on_ticket:
        scope.insert(
            Message,
            # Recorded, not shown: it sorts after everything the chatbot saw.
            _agent_row(
                message_id,
                conversation_id,
                html,
                agent,
                event_id,
                media,
                conversation["last_seq"],
                scope,
            ),
        )
        return message_id
    if agent is not None and agent.id != conversation["agent_id"]:
        join(scope, conversation, agent)  # a message from someone who never joined
    stop_typing(scope, conversation)
    conversation.set(active_at=scope.now, idle_warned=False)
    media_data = None
    if media is not None:
        media_data = {
            "id": media.id,
            "name": media.name,
            "contentType": media.content_type,
            "size": media.size,
            "url": media.url,
        }
    seq = scope.emit(
        conversation,
        *actions.agent_message(
            html=html,
            external_id=message_id,
            agent_id=conversation["agent_id"],
            agent_name=conversation["agent_name"],
            media=media_data,
        ),
    )
    speaker = None
    if conversation["agent_id"] is not None:
        speaker = Agent(conversation["agent_id"], conversation["agent_name"])
    scope.insert(
        Message,
        _agent_row(message_id, conversation_id, html, speaker, event_id, media, seq, scope),
    )
    if event_id is not None:
        scope.note(("agent-message", instance, event_id), message_id)
    return message_id


async def _message_of(scope: Scope, conversation_id: str, event_id: str | None) -> str:
    """The externalId the first delivery of an agent message event was given."""
    found = await scope.conn.scalar(
        sa.select(MESSAGES.c.id).where(
            MESSAGES.c.conversation_id == conversation_id,
            MESSAGES.c.source_event_id == event_id,
        )
    )
    if found is None:
        raise ConversationEnded(f"conversation {conversation_id!r} has ended")
    message_id: str = found
    return message_id


def _agent_row(
    message_id: str,
    conversation_id: str,
    html: str,
    agent: Agent | None,
    event_id: str | None,
    media: MediaInfo | None,
    seq: int,
    scope: Scope,
) -> dict[str, object]:
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "author": "agent",
        "client_id": None,
        "source_event_id": event_id,
        "body": html,
        "media_id": None if media is None else media.id,
        "agent_id": None if agent is None else agent.id,
        "agent_name": None if agent is None else agent.name,
        "status": "stored",
        "seq": seq,
        "created_at": scope.now,
    }


async def agent_typing(
    scope: Scope,
    *,
    instance: str,
    conversation_id: str,
    typing: bool,
    agent: Agent | None,
    ttl: timedelta = TYPING_TTL,
) -> None:
    conversation = await owned(scope, conversation_id, instance)
    if not typing:
        stop_typing(scope, conversation)
        return
    if conversation["agent_typing_until"] is None:
        name = agent.name if agent is not None else conversation["agent_name"]
        scope.emit(conversation, *actions.typing(name))
    conversation.set(agent_typing_until=scope.now + ttl)


async def _profile(scope: Scope, conversation: ConversationState, agent: Agent) -> None:
    if agent.name != conversation["agent_name"]:
        conversation.set(agent_name=agent.name)
        scope.emit(conversation, *actions.set_name(agent.name))
    if agent.icon_url != conversation["agent_icon"]:
        conversation.set(agent_icon=agent.icon_url)
        scope.emit(conversation, *actions.set_icon(agent.icon_url))


async def agent_profile(
    scope: Scope, *, instance: str, conversation_id: str, agent: Agent, event_id: str | None
) -> None:
    conversation = await held(scope, conversation_id, instance, event_id)
    if conversation is None or await seen(scope, instance, event_id, conversation_id):
        return
    if conversation["agent_id"] != agent.id:
        return  # a profile of someone not in this conversation changes nothing here
    await _profile(scope, conversation, agent)


async def message_status(
    scope: Scope,
    *,
    instance: str,
    conversation_id: str,
    message_id: str,
    status: str,
    event_id: str | None,
) -> None:
    conversation = await held(scope, conversation_id, instance, event_id, ended_ok=True)
    if conversation is None or await seen(scope, instance, event_id, conversation_id):
        return
    try:
        await ticks.advance(scope, conversation, message_id, status)
    except NotFound:
        raise UnknownConversation(
            f"message {message_id!r} is not a user message of {conversation_id!r}"
        ) from None


async def queue_update(
    scope: Scope,
    *,
    instance: str,
    conversation_id: str,
    position: int | None,
    estimated_wait: float | None,
) -> None:
    conversation = await owned(scope, conversation_id, instance)
    if conversation["status"] != "queued":
        return
    if (position, estimated_wait) == (conversation["position"], conversation["estimated_wait"]):
        return
    conversation.set(position=position, estimated_wait=estimated_wait)
    scope.emit_all(
        conversation,
        [actions.queue_position(position, estimated_wait), actions.external_info(conversation.row)],
    )


async def _open_and_new(
    scope: Scope, conversation_id: str, instance: str, event_id: str | None
) -> ConversationState | None:
    """The conversation ``instance`` holds, if it is still open and this event is new."""
    conversation = await held(scope, conversation_id, instance, event_id, ended_ok=True)
    if conversation is None or not conversation.is_open:
        return None
    if await seen(scope, instance, event_id, conversation_id):
        return None
    return conversation


async def conversation_closed(
    scope: Scope, *, instance: str, conversation_id: str, reason: str, event_id: str | None
) -> None:
    conversation = await _open_and_new(scope, conversation_id, instance, event_id)
    if conversation is None:
        return
    end(scope, conversation, reason=reason, by="agent", announce=True)


async def ticket_created(
    scope: Scope, *, instance: str, conversation_id: str, ticket_id: str, event_id: str | None
) -> None:
    conversation = await _open_and_new(scope, conversation_id, instance, event_id)
    if conversation is None:
        return
    stop_typing(scope, conversation)
    end_as_ticket(scope, conversation, ticket_id)

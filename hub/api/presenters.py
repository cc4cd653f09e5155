"""Turning stored conversations into response bodies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from aiohttp import web

from hub import keys
from hub.api.schemas import (
    AgentOut,
    ConversationStatus,
    EscalationOut,
    SnapshotMessageOut,
    SnapshotOut,
)
from hub.clock import iso
from hub.models import Conversation


def events_url(conversation_id: str) -> str:
    return f"/v1/conversations/{conversation_id}/events"


def issue_token(request: web.Request, conversation: Conversation) -> str:
    app = request.app
    expires = app[keys.CLOCK].now() + timedelta(seconds=app[keys.SETTINGS].token_ttl_seconds)
    return app[keys.TOKENS].issue(conversation.id, conversation.bot_id, expires)


def _wait(conversation: Conversation) -> int | None:
    return None if conversation.estimated_wait is None else round(conversation.estimated_wait)


def _status(conversation: Conversation) -> ConversationStatus:
    # The model keeps the status as text; the hub writes no other values.
    return cast(ConversationStatus, conversation.status)


def escalation_out(request: web.Request, conversation: Conversation) -> EscalationOut:
    return EscalationOut(
        conversationId=conversation.id,
        token=issue_token(request, conversation),
        status=_status(conversation),
        queue=conversation.queue,
        position=conversation.position,
        estimatedWait=_wait(conversation),
        reason=conversation.end_reason,
        ticketId=conversation.ticket_id,
        eventsUrl=events_url(conversation.id),
    )


def _media(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["media_id"] is None:
        return None
    return {
        "id": row["media_id"],
        "name": row["media_name"],
        "contentType": row["media_type"],
        "size": row["media_size"],
        "url": f"/v1/media/{row['media_id']}",
    }


def snapshot_out(
    conversation: Conversation, messages: list[dict[str, Any]], now_typing: bool
) -> SnapshotOut:
    agent = None
    if conversation.agent_name:
        agent = AgentOut(
            id=conversation.agent_id, name=conversation.agent_name, icon=conversation.agent_icon
        )
    rating = None
    if conversation.rating_value is not None:
        rating = {"value": conversation.rating_value, "comment": conversation.rating_comment}
    return SnapshotOut(
        conversationId=conversation.id,
        botId=conversation.bot_id,
        sessionId=conversation.session_id,
        status=_status(conversation),
        queue=conversation.queue,
        provider=conversation.provider,
        position=conversation.position,
        estimatedWait=_wait(conversation),
        agent=agent,
        agentTyping=now_typing,
        reason=conversation.end_reason,
        ticketId=conversation.ticket_id,
        user=conversation.user_info,
        inquiry=conversation.inquiry,
        rating=rating,
        lastSeq=conversation.last_seq,
        createdAt=iso(conversation.created_at),
        endedAt=None if conversation.ended_at is None else iso(conversation.ended_at),
        messages=[
            SnapshotMessageOut(
                externalId=row["id"],
                id=row["client_id"],
                author=row["author"],
                message=row["body"],
                media=_media(row),
                agentName=row["agent_name"],
                status=row["status"] if row["author"] == "user" else None,
                seq=row["seq"],
                at=iso(row["created_at"]),
            )
            for row in messages
        ],
    )

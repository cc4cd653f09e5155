"""The events the hub sends to the platform, as JSON-ready dicts, and their ids.

Every event has the same envelope::

    {"id": "...", "type": "message.created", "instance": "partner",
     "conversation": {"id": "c_...", "ref": "..."}, "data": {...}}

The id is derived from the hub's own ids (never random, except for typing, which is
never retried), so a retried call carries the same ``Hub-Event-Id`` as the first.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from providers.values import Closing, ConversationRef, Handoff, MediaInfo, OutboundMessage

OPENED = "conversation.opened"
MESSAGE = "message.created"
TYPING = "user.typing"
READ = "message.read"
CLOSED = "conversation.closed"
TRANSFER = "conversation.transfer"
PING = "ping"

Event = dict[str, Any]


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, like the hub's event envelopes."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(
    event_id: str,
    event_type: str,
    instance: str,
    conversation: ConversationRef | None,
    data: Mapping[str, Any],
) -> Event:
    event: Event = {"id": event_id, "type": event_type, "instance": instance}
    if conversation is not None:
        event["conversation"] = {"id": conversation.id, "ref": conversation.ref}
    event["data"] = dict(data)
    return event


def opened(instance: str, handoff: Handoff, *, callback_url: str) -> Event:
    user = handoff.user
    transcript = []
    for item in handoff.transcript:
        line: dict[str, Any] = dict(item.extra)
        line.update(
            user=item.user,
            message=item.message,
            datetime=item.datetime,
            id=item.id,
            externalId=item.external_id,
        )
        transcript.append(line)
    return envelope(
        f"{OPENED}:{handoff.conversation_id}",
        OPENED,
        instance,
        ConversationRef(handoff.conversation_id),
        {
            "queue": handoff.queue,
            "botId": handoff.bot_id,
            "sessionId": handoff.session_id,
            "createdAt": timestamp(handoff.created_at),
            "waitLimitSeconds": handoff.wait_limit,
            "skills": list(handoff.skills),
            "user": {
                "name": user.name,
                "lastName": user.last_name,
                "email": user.email,
                "language": user.language,
                "extra": dict(user.extra),
            },
            "inquiry": handoff.inquiry,
            "transcript": transcript,
            "data": dict(handoff.data),
            "callbackUrl": callback_url,
        },
    )


def media(info: MediaInfo, url: str, expires_at: datetime) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "contentType": info.content_type,
        "size": info.size,
        "url": url,
        "expiresAt": timestamp(expires_at),
    }


def message(
    instance: str, outbound: OutboundMessage, *, media_data: Mapping[str, Any] | None
) -> Event:
    body: dict[str, Any] = {
        "id": outbound.id,
        "text": outbound.text,
        "sentAt": timestamp(outbound.sent_at),
    }
    if media_data is not None:
        body["media"] = dict(media_data)
    return envelope(
        f"{MESSAGE}:{outbound.id}", MESSAGE, instance, outbound.conversation, {"message": body}
    )


def typing(instance: str, conversation: ConversationRef, is_typing: bool) -> Event:
    # Typing is a passing state, sent once and never retried: a fresh id each time.
    event_id = f"{TYPING}:{conversation.id}:{uuid.uuid4().hex}"
    return envelope(event_id, TYPING, instance, conversation, {"typing": is_typing})


def read(instance: str, conversation: ConversationRef, up_to: str) -> Event:
    event_id = f"{READ}:{conversation.id}:{up_to}"
    return envelope(event_id, READ, instance, conversation, {"upTo": up_to})


def closed(instance: str, closing: Closing) -> Event:
    conversation = closing.conversation
    return envelope(
        f"{CLOSED}:{conversation.id}",
        CLOSED,
        instance,
        conversation,
        {"reason": closing.reason, "by": closing.by},
    )


def transfer(
    instance: str, conversation: ConversationRef, *, queue: str | None, agent_id: str | None
) -> Event:
    # A person in the hub may transfer the same chat twice: each request is its own event.
    event_id = f"{TRANSFER}:{conversation.id}:{uuid.uuid4().hex}"
    return envelope(
        event_id, TRANSFER, instance, conversation, {"queue": queue, "agentId": agent_id}
    )


def ping(instance: str) -> Event:
    return envelope(f"{PING}:{uuid.uuid4().hex}", PING, instance, None, {})

"""Availability and escalation: what a bot asks before, and when, it hands over."""

from __future__ import annotations

import hashlib
import json

from aiohttp import web

from hub import keys
from hub.api.auth import authenticate_bot, by_public_id
from hub.api.bodies import read_json, validate
from hub.api.presenters import escalation_out
from hub.api.registry import ApiRoutes, json_response
from hub.api.schemas import (
    LANGUAGE_PATTERN,
    AvailabilityOut,
    AvailabilityQuery,
    EscalationIn,
    EscalationOut,
)
from hub.conversation.opening import Escalation
from hub.errors import Invalid

BOT_AUTH = ("botKey", "botId")


routes = ApiRoutes()


@routes.route(
    "GET",
    "/v1/availability",
    tag="escalation",
    summary="Can a human take over now?",
    query={
        "queue": (
            {"type": "string", "maxLength": 40},
            "A queue name; without it the bot's first matching queue.",
        ),
        "language": (
            {"type": "string", "maxLength": 20, "pattern": LANGUAGE_PATTERN},
            "The user's language (en, en-GB, ...).",
        ),
        "skills": ("string", "Comma-separated skills the queue must have (at most 20)."),
    },
    responses={200: AvailabilityOut},
    auth=BOT_AUTH,
    errors=(401, 403, 422),
)
async def get_availability(request: web.Request) -> web.Response:
    """Ask before offering a human: whether a queue is open, why not, and the wait."""
    bot = await authenticate_bot(request)
    query = request.query
    asked = validate(
        AvailabilityQuery,
        {
            "queue": query.get("queue") or None,
            "language": query.get("language") or None,
            "skills": [s.strip() for s in query.get("skills", "").split(",") if s.strip()],
        },
        request.app[keys.SETTINGS].limits,
    )
    answer = await request.app[keys.SERVICE].availability(
        bot_id=bot.id, queue=asked.queue, language=asked.language, skills=asked.skills
    )
    wait = None if answer.estimated_wait is None else round(answer.estimated_wait)
    return json_response(
        AvailabilityOut(
            open=answer.open,
            reason=answer.reason,
            queue=answer.queue,
            agentsOnline=answer.agents_online,
            estimatedWaitSeconds=wait,
            ticketFallback=answer.ticket_fallback,
        )
    )


def _request_hash(body: EscalationIn) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@routes.route(
    "POST",
    "/v1/escalations",
    tag="escalation",
    summary="Hand a conversation to a human",
    body=EscalationIn,
    headers={
        "Idempotency-Key": (
            {"type": "string", "minLength": 1, "maxLength": 200},
            "Replays with the same key return the same conversation.",
        )
    },
    responses={201: EscalationOut, 200: EscalationOut},
    auth=BOT_AUTH,
    errors=(400, 401, 403, 409, 413, 415, 422),
)
async def create_escalation(request: web.Request) -> web.Response:
    """Create the conversation and route it along its queue's chain. 201 when created;
    200 with the existing conversation for a replayed ``Idempotency-Key``, or (for a
    server-side bot) a session that already has an open one; a browser (public id) gets
    409 ``conversation-open`` then: it reattaches with the token it kept. When nobody can
    take it, ``status`` is ``ended`` (or ``ticket``) and ``reason`` says why; the stream
    tells the user the same."""
    bot = await authenticate_bot(request)
    body = await read_json(request, EscalationIn, request.app[keys.SETTINGS].limits)
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise Invalid("Idempotency-Key must be 1 to 200 characters", code="invalid_header")
    escalated = await request.app[keys.SERVICE].escalate(
        Escalation(
            bot_id=bot.id,
            session_id=body.sessionId,
            asked_queue=body.queue,
            language=body.user.language,
            user_info=body.user.model_dump(),
            inquiry=body.inquiry,
            skills=body.skills,
            data=body.data,
            transcript=[item.model_dump(exclude_none=True) for item in body.transcript],
            idempotency_key=idempotency_key,
            request_hash=_request_hash(body),
            reattach=not by_public_id(request),
        )
    )
    return json_response(
        escalation_out(request, escalated.conversation), 201 if escalated.created else 200
    )

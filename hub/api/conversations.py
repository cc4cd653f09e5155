"""A conversation from the bot's side: its state, and what the user sends into it."""

from __future__ import annotations

from aiohttp import web

from hub import keys
from hub.api.auth import authorize_conversation
from hub.api.bodies import read_json
from hub.api.presenters import snapshot_out
from hub.api.registry import ApiRoutes, json_response
from hub.api.schemas import (
    AcceptedOut,
    CloseIn,
    MessageIn,
    MessageOut,
    RatingIn,
    ReadIn,
    SnapshotOut,
    TypingIn,
)
from hub.errors import NotFound
from hub.models import Conversation
from hub.store.conversations import get_conversation, live_messages

CONVERSATION_AUTH = ("conversationToken", "botKey")
PATH = "/v1/conversations/{conversation_id}"


async def snapshot(request: web.Request, conversation_id: str) -> SnapshotOut:
    async with request.app[keys.DATABASE].lookup() as conn:
        conversation = await get_conversation(conversation_id, conn=conn)
        messages = await live_messages(conversation_id, conn=conn)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id!r} does not exist")
    return snapshot_out(conversation, messages, _typing(request, conversation))


def _typing(request: web.Request, conversation: Conversation) -> bool:
    until = conversation.agent_typing_until
    return until is not None and until > request.app[keys.CLOCK].now()


routes = ApiRoutes()


@routes.route(
    "GET",
    PATH,
    tag="conversation",
    summary="The conversation's state, to restore a chat after a reload",
    responses={200: SnapshotOut},
    auth=CONVERSATION_AUTH,
    errors=(401, 403, 404),
)
async def get_snapshot(request: web.Request) -> web.Response:
    """Status, agent, queue position and every live message with its ticks. Pair it with
    the stream's ``after=lastSeq`` to continue exactly where the snapshot ends."""
    conversation = await authorize_conversation(request)
    return json_response(await snapshot(request, conversation.id))


@routes.route(
    "POST",
    PATH + "/messages",
    tag="conversation",
    summary="Send a user message to the agent side",
    body=MessageIn,
    responses={201: MessageOut, 200: MessageOut},
    auth=CONVERSATION_AUTH,
    errors=(400, 401, 403, 404, 409, 413, 415, 422),
)
async def post_message(request: web.Request) -> web.Response:
    """Stored once per client ``id`` (a replay answers 200 with the first answer). The
    stream then shows ``UPDATE_EXTERNAL`` and, once the provider took it, ``SINGLE_TICK``."""
    conversation = await authorize_conversation(request)
    body = await read_json(request, MessageIn, request.app[keys.SETTINGS].limits)
    stored = await request.app[keys.SERVICE].send_message(
        conversation.id,
        client_id=body.id,
        text=body.message,
        media_id=body.media.id if body.media else None,
    )
    return json_response(
        MessageOut(
            id=body.id, externalId=stored.external_id, seq=stored.seq, duplicate=stored.duplicate
        ),
        200 if stored.duplicate else 201,
    )


@routes.route(
    "POST",
    PATH + "/typing",
    tag="conversation",
    summary="The user is typing, or stopped",
    body=TypingIn,
    responses={200: AcceptedOut},
    auth=CONVERSATION_AUTH,
    errors=(400, 401, 403, 404, 409, 415, 422),
)
async def post_typing(request: web.Request) -> web.Response:
    """Passed to the provider when it takes typing (``forwarded`` says whether it did)."""
    conversation = await authorize_conversation(request)
    body = await read_json(request, TypingIn, request.app[keys.SETTINGS].limits)
    forwarded = await request.app[keys.SERVICE].user_typing(conversation, body.typing)
    return json_response(AcceptedOut(forwarded=forwarded))


@routes.route(
    "POST",
    PATH + "/read",
    tag="conversation",
    summary="The user has read the agent's messages up to one",
    body=ReadIn,
    responses={200: AcceptedOut},
    auth=CONVERSATION_AUTH,
    errors=(400, 401, 403, 404, 415, 422),
)
async def post_read(request: web.Request) -> web.Response:
    conversation = await authorize_conversation(request)
    body = await read_json(request, ReadIn, request.app[keys.SETTINGS].limits)
    await request.app[keys.SERVICE].user_read(conversation.id, body.upTo)
    return json_response(AcceptedOut())


@routes.route(
    "POST",
    PATH + "/close",
    tag="conversation",
    summary="End the chat and return to the bot",
    body=CloseIn,
    responses={200: SnapshotOut},
    auth=CONVERSATION_AUTH,
    errors=(400, 401, 403, 404, 415, 422),
)
async def post_close(request: web.Request) -> web.Response:
    """Idempotent: closing an ended conversation changes nothing and answers its state."""
    conversation = await authorize_conversation(request)
    body = await read_json(request, CloseIn, request.app[keys.SETTINGS].limits)
    await request.app[keys.SERVICE].close(conversation.id, reason=body.reason, by="user")
    return json_response(await snapshot(request, conversation.id))


@routes.route(
    "POST",
    PATH + "/rating",
    tag="conversation",
    summary="Rate the conversation",
    body=RatingIn,
    responses={200: AcceptedOut},
    auth=CONVERSATION_AUTH,
    errors=(400, 401, 403, 404, 415, 422),
)
async def post_rating(request: web.Request) -> web.Response:
    """Usually after the end; a second rating replaces the first."""
    conversation = await authorize_conversation(request)
    body = await read_json(request, RatingIn, request.app[keys.SETTINGS].limits)
    await request.app[keys.SERVICE].rate(
        conversation.id, value=str(body.value), comment=body.comment
    )
    return json_response(AcceptedOut())

"""The conversation: the bot's transcript apart from the live chat, the user's details and
escalation data, notes, and the agent's actions (accept, reply, typing, read, transfer,
close). Actions answer JSON to the script and redirect a plain form post."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from dashboard.access import (
    Opened,
    may_act,
    may_note,
    may_take_over,
    open_conversation,
    require_action,
    watching,
)
from dashboard.forms import answer, fields, flag, text
from dashboard.presenters import (
    as_json,
    details,
    duration,
    link,
    messages,
    rating_of,
    text_to_html,
    transcript,
    user_details,
    user_name,
)
from dashboard.render import page
from dashboard.sessions import Signed, signed_in
from hub import keys
from hub.clock import iso
from hub.errors import Forbidden, Invalid
from hub.store.canned import canned_responses
from hub.store.conversations import live_messages
from hub.store.notes import notes_on

routes = web.RouteTableDef()
PATH = "/conversations/{conversation_id}"
NOTE_LIMIT = 4000
CLOSE_REASONS = {
    "resolved": "Resolved",
    "no-response": "No answer from the user",
    "duplicate": "Duplicate",
    "spam": "Spam or abuse",
    "other": "Other",
}


async def _opened(request: web.Request, signed: Signed) -> Opened:
    return await open_conversation(request, signed, request.match_info["conversation_id"])


async def _transfer_targets(
    request: web.Request, opened: Opened
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Agents who could take the chat now, and the queues that lead to this desk (for
    another provider that transfers: the queues that lead to it, and no agents)."""
    hub = request.config_dict
    conversation = opened.conversation
    agents = [
        {
            "value": f"agent:{agent.id}",
            "label": f"{agent.name} ({agent.presence}, {agent.active} of {agent.max_chats} chats)",
        }
        for agent in await hub[keys.WORKSPACE].agents()
        if agent.id != conversation.agent_id
        and agent.presence != "offline"
        and agent.active < agent.max_chats
        and opened.desk is not None
    ]
    queues = [
        {"value": f"queue:{queue.name}", "label": f"Queue: {queue.name}"}
        for queue in hub[keys.ROUTER].queues
        if queue.enabled and any(step.provider == conversation.provider for step in queue.chain)
    ]
    return agents, queues


async def _chat(request: web.Request, opened: Opened) -> list[dict[str, Any]]:
    async with request.config_dict[keys.DATABASE].read() as conn:
        rows = await live_messages(opened.id, conn=conn)
    return messages(request, rows, read_up_to=opened.conversation.user_read_up_to)


@routes.get(PATH, name="conversation")
@signed_in
async def conversation_page(request: web.Request, signed: Signed) -> web.StreamResponse:
    opened = await _opened(request, signed)
    conversation = opened.conversation
    hub = request.config_dict
    async with hub[keys.DATABASE].read() as conn:
        rows = await live_messages(conversation.id, conn=conn)
        notes = await notes_on(conversation.id, conn=conn) if may_note(opened, signed) else []
        canned = await canned_responses(conn=conn)
    acting = may_act(opened, signed)
    agents, queues = await _transfer_targets(request, opened) if acting else ([], [])
    now = hub[keys.CLOCK].now()
    chat = messages(request, rows, read_up_to=conversation.user_read_up_to)
    last_user = next((m for m in reversed(chat) if m["author"] == "user"), None)
    return page(
        request,
        signed,
        "conversation.html",
        {
            "c": conversation,
            "user": user_name(conversation.user_info),
            "user_details": user_details(conversation.user_info),
            "data": details(conversation.data),
            "transcript": transcript(conversation.transcript),
            "messages": chat,
            "notes": [
                {"body": n.body, "agent_name": n.agent_name, "at": iso(n.created_at)} for n in notes
            ],
            "may_note": may_note(opened, signed),
            "canned": canned,
            "mine": opened.mine,
            "acting": acting,
            "watching": watching(opened, signed),
            "may_take_over": may_take_over(opened, signed),
            "waiting": opened.waiting,
            "agents": agents,
            "queues": queues,
            "close_reasons": CLOSE_REASONS,
            "waited": duration((now - conversation.created_at).total_seconds()),
            "needs_read": bool(opened.mine and last_user and not last_user["read"]),
            "last_user_message": last_user["id"] if last_user else "",
            "limits": hub[keys.SETTINGS].limits,
            "rating": rating_of(conversation.rating_value, conversation.rating_comment),
        },
    )


@routes.get(PATH + "/state", name="conversation_state")
@signed_in
async def conversation_state(request: web.Request, signed: Signed) -> web.StreamResponse:
    """What a page that lost its live channel for a while needs to catch up."""
    opened = await _opened(request, signed)
    conversation = opened.conversation
    return web.json_response(
        {
            "id": conversation.id,
            "status": conversation.status,
            "mine": opened.mine,
            "endReason": conversation.end_reason,
            "readUpTo": conversation.user_read_up_to,
            "rating": rating_of(conversation.rating_value, conversation.rating_comment),
            "messages": [as_json(message) for message in await _chat(request, opened)],
        }
    )


@routes.post(PATH + "/accept", name="accept")
@signed_in
async def accept(request: web.Request, signed: Signed) -> web.StreamResponse:
    opened = await _opened(request, signed)
    if not opened.mine:
        await opened.desk_or_conflict().accept(signed.agent.id, opened.id)
    url = link(request, "conversation", conversation_id=opened.id)
    return answer(request, {"url": url}, to=f"{url}?done=accepted")


@routes.post(PATH + "/takeover", name="takeover")
@signed_in
async def take_over(request: web.Request, signed: Signed) -> web.StreamResponse:
    """An admin takes the chat over from its agent: explicitly, and the agent is told."""
    opened = await _opened(request, signed)
    if not signed.is_admin:
        raise Forbidden("only an admin takes a chat over", code="admins_only")
    await opened.desk_or_conflict().take_over(signed.agent.id, opened.id)
    url = link(request, "conversation", conversation_id=opened.id)
    return answer(request, {"url": url}, to=f"{url}?done=taken-over")


async def send_reply(
    request: web.Request, signed: Signed, conversation_id: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The agent's message (the ``message`` field of ``data``): the form's way, and the
    live socket's (:mod:`dashboard.live`). Returns the message as the page shows it."""
    opened = await open_conversation(request, signed, conversation_id)
    limit = request.config_dict[keys.SETTINGS].limits.max_message_chars
    said = text(data, "message", limit=limit)
    desk = require_action(opened, signed)
    message_id = await desk.reply(signed.agent.id, opened.id, text_to_html(said))
    return {"id": message_id, "author": "agent", "text": said, "tick": "delivered"}


async def send_typing(
    request: web.Request, signed: Signed, conversation_id: str, data: Mapping[str, Any]
) -> bool:
    """The agent is typing, or stopped (the ``typing`` field of ``data``)."""
    opened = await open_conversation(request, signed, conversation_id)
    desk = require_action(opened, signed)
    typing = flag(data, "typing")
    await desk.typing(signed.agent.id, opened.id, typing)
    return typing


@routes.post(PATH + "/messages", name="reply")
@signed_in
async def reply(request: web.Request, signed: Signed) -> web.StreamResponse:
    conversation_id = request.match_info["conversation_id"]
    message = await send_reply(request, signed, conversation_id, await fields(request))
    url = link(request, "conversation", conversation_id=conversation_id)
    return answer(request, {"message": message}, to=url, status=201)


@routes.post(PATH + "/typing", name="typing")
@signed_in
async def typing(request: web.Request, signed: Signed) -> web.StreamResponse:
    conversation_id = request.match_info["conversation_id"]
    typing = await send_typing(request, signed, conversation_id, await fields(request))
    return web.json_response({"typing": typing})


@routes.post(PATH + "/read", name="read")
@signed_in
async def read(request: web.Request, signed: Signed) -> web.StreamResponse:
    """The agent has seen the user's messages up to ``upTo``: the user's DOUBLE_TICK."""
    opened = await _opened(request, signed)
    data = await fields(request)
    up_to = text(data, "upTo", limit=100)
    if not opened.mine:
        raise Forbidden("only the agent in the chat marks it read", code="not_yours")
    await opened.desk_or_conflict().mark_read(signed.agent.id, opened.id, up_to)
    return web.json_response({"readUpTo": up_to})


@routes.post(PATH + "/notes", name="notes")
@signed_in
async def note(request: web.Request, signed: Signed) -> web.StreamResponse:
    opened = await _opened(request, signed)
    if not may_note(opened, signed):
        raise Forbidden("only the conversation's agent adds notes", code="not_yours")
    body = text(await fields(request), "note", limit=NOTE_LIMIT)
    added = await request.config_dict[keys.NOTES].add(opened.id, signed.agent.id, body)
    return answer(
        request,
        {
            "note": {
                "id": added.id,
                "body": added.body,
                "agent_name": signed.agent.display_name,
                "at": iso(added.created_at),
            }
        },
        to=link(request, "conversation", conversation_id=opened.id),
        status=201,
    )


@routes.post(PATH + "/transfer", name="transfer")
@signed_in
async def transfer(request: web.Request, signed: Signed) -> web.StreamResponse:
    opened = await _opened(request, signed)
    target = text(await fields(request), "to", limit=200)
    kind, _, name = target.partition(":")
    if opened.desk is None and may_act(opened, signed):
        # Another provider holds it: the hub asks that provider to transfer it.
        _, queues = await _transfer_targets(request, opened)
        if kind != "queue" or target not in {queue["value"] for queue in queues}:
            raise Invalid("to: choose a queue that leads to this conversation's provider")
        await request.config_dict[keys.SERVICE].transfer(opened.id, queue=name, agent_id=None)
        inbox = link(request, "inbox")
        return answer(request, {"url": inbox}, to=f"{inbox}?done=transferred")
    desk = require_action(opened, signed)
    if kind == "agent" and name:
        await desk.transfer_by(signed.agent.id, opened.id, to_agent=name)
    elif kind == "queue" and name:
        _, queues = await _transfer_targets(request, opened)
        if target not in {queue["value"] for queue in queues}:
            raise Invalid(f"to: queue {name!r} does not lead to this desk")
        await desk.transfer_by(signed.agent.id, opened.id, to_queue=name)
    else:
        raise Invalid("to: choose an agent or a queue")
    inbox = link(request, "inbox")
    return answer(request, {"url": inbox}, to=f"{inbox}?done=transferred")


@routes.post(PATH + "/close", name="close")
@signed_in
async def close(request: web.Request, signed: Signed) -> web.StreamResponse:
    opened = await _opened(request, signed)
    reason = text(await fields(request), "reason", limit=200)
    if reason not in CLOSE_REASONS:
        raise Invalid(f"reason: must be one of {', '.join(CLOSE_REASONS)}")
    desk = require_action(opened, signed)
    await desk.close_by(signed.agent.id, opened.id, reason)
    inbox = link(request, "inbox")
    return answer(request, {"url": inbox}, to=f"{inbox}?done=closed")

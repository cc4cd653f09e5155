"""The closed set of things the hub tells a chatbot, as Chatbot SDK actions.

Each happening on the agent side maps to one or more ``(action, data)`` pairs, and every
envelope in the event log is one of them (docs/protocol.md has the table). Nothing else
in the hub invents action names: the journal refuses any action not listed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Action = tuple[str, dict[str, Any]]

SDK_ACTIONS = frozenset(
    {
        "displayChatbotMessage",
        "displaySystemMessage",
        "displayChatbotActivity",
        "hideChatbotActivity",
        "setChatbotName",
        "setChatbotIcon",
        "updateMessage",
        "disableInput",
        "enableInput",
        "setExternalInfo",
    }
)

# Labels of displaySystemMessage; a chatbot translates them (``translate: true``).
SYSTEM_MESSAGES = frozenset(
    {
        "queue-position",
        "agent-joined",
        "agent-left",
        "no-agents",
        "out-of-hours",
        "unavailable",
        "ticket-created",
        "chat-closed",
        "idle-warning",
    }
)

TICKS = frozenset({"WAITING_TICK", "SINGLE_TICK", "DOUBLE_TICK", "ERROR_TICK"})


def system_message(label: str, **replacements: Any) -> Action:
    if label not in SYSTEM_MESSAGES:
        raise ValueError(f"unknown system message {label!r}")
    data: dict[str, Any] = {"message": label, "translate": True}
    if replacements:
        data["replacements"] = replacements
    return ("displaySystemMessage", data)


def set_name(name: str | None) -> Action:
    if name is None:
        return ("setChatbotName", {"source": "default"})
    return ("setChatbotName", {"source": "name", "name": name})


def set_icon(url: str | None) -> Action:
    if url is None:
        return ("setChatbotIcon", {"source": "default"})
    return ("setChatbotIcon", {"source": "url", "url": url})


def typing(name: str | None) -> Action:
    data: dict[str, Any] = {"type": "writing"}
    if name:
        data["name"] = name
    return ("displayChatbotActivity", data)


def stop_typing() -> Action:
    return ("hideChatbotActivity", {})


def agent_joined(name: str, icon: str | None) -> list[Action]:
    actions = [set_name(name)]
    if icon:
        actions.append(set_icon(icon))
    actions.append(system_message("agent-joined", agentName=name))
    return actions


def agent_message(
    *,
    html: str,
    external_id: str,
    agent_id: str | None,
    agent_name: str | None,
    media: Mapping[str, Any] | None,
) -> Action:
    # displayChatbotMessage has no ``externalId`` key: the hub's ids go in ``custom``.
    data: dict[str, Any] = {
        "type": "answer",
        "message": html,
        "custom": {"externalId": external_id, "agentId": agent_id, "agentName": agent_name},
    }
    if media is not None:
        data["media"] = dict(media)
    return ("displayChatbotMessage", data)


def stored(client_id: str, external_id: str) -> Action:
    data = {"id": client_id, "action": "UPDATE_EXTERNAL", "newExternalId": external_id}
    return ("updateMessage", data)


def tick(external_id: str, tick: str) -> Action:
    if tick not in TICKS:
        raise ValueError(f"unknown tick {tick!r}")
    return ("updateMessage", {"externalId": external_id, "action": tick})


def queue_position(position: int | None, estimated_wait: float | None) -> Action:
    return system_message(
        "queue-position",
        position=position,
        estimatedWait=None if estimated_wait is None else round(estimated_wait),
    )


def back_to_bot(*, announce: bool) -> list[Action]:
    """The return of the chat to the bot, in the order the SDK's own adapter uses."""
    actions: list[Action] = [stop_typing(), set_name(None), set_icon(None)]
    if announce:
        actions.append(system_message("chat-closed"))
    actions.append(("enableInput", {}))
    return actions


def external_info(conversation: Mapping[str, Any], *, attended: bool | None = None) -> Action:
    """``setExternalInfo``: the hub's view of the conversation after every state change.

    ``attended`` is given once per conversation, when it is known whether a person took the
    chat (the first agent joined: ``True``; it ended or became a ticket without one:
    ``False``). Then the data also carries ``attended``, ``chatId``, ``appId`` and ``region``
    at its top level: the keys Inbenta's escalation adapter reads to track
    ``CHAT_ATTENDED`` / ``CHAT_UNATTENDED`` (it tracks every call that has all four)."""
    agent = None
    if conversation.get("agent_name"):
        agent = {
            "id": conversation.get("agent_id"),
            "name": conversation["agent_name"],
            "icon": conversation.get("agent_icon"),
        }
    wait = conversation.get("estimated_wait")
    data: dict[str, Any] = {}
    if attended is not None:
        data.update(
            attended=attended,
            chatId=conversation["id"],
            appId=conversation["bot_id"],
            region=None,
        )
    data.update(
        {
            "hub": {
                "status": conversation["status"],
                "queue": conversation.get("queue"),
                "provider": conversation.get("provider"),
                "position": conversation.get("position"),
                "estimatedWait": None if wait is None else round(wait),
                "agent": agent,
                "reason": conversation.get("end_reason"),
                "ticketId": conversation.get("ticket_id"),
            }
        }
    )
    return ("setExternalInfo", data)

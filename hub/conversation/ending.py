"""Ending a conversation: every end returns the chat to the bot the same way."""

from __future__ import annotations

from typing import Literal

from hub import actions
from hub.journal import ConversationState, Scope


def end(
    scope: Scope,
    conversation: ConversationState,
    *,
    reason: str,
    by: str,
    announce: bool,
    status: Literal["ended", "ticket"] = "ended",
    ticket_id: str | None = None,
) -> None:
    """Mark the conversation ended (or a ticket) and emit the return to the bot."""
    conversation.set(
        status=status,
        owner="bot",
        end_reason=reason,
        ended_by=by,
        ended_at=scope.now,
        position=None,
        estimated_wait=None,
        agent_typing_until=None,
        user_typing_until=None,
        deadline_at=None,
        deadline_kind=None,
        active_at=None,
        idle_warned=False,
    )
    if ticket_id is not None:
        conversation.set(ticket_id=ticket_id)
    scope.emit_all(conversation, actions.back_to_bot(announce=announce))
    # Nobody ever took the chat: it ends unattended (Inbenta's analytics count it so).
    attended = False if conversation["assigned_at"] is None else None
    scope.emit_all(conversation, [actions.external_info(conversation.row, attended=attended)])


def end_as_ticket(scope: Scope, conversation: ConversationState, ticket_id: str) -> None:
    """The provider made a ticket instead of a chat: say so, give its id, back to the bot."""
    scope.emit_all(conversation, [actions.system_message("ticket-created", ticketId=ticket_id)])
    end(
        scope,
        conversation,
        reason="ticket",
        by="provider",
        announce=False,
        status="ticket",
        ticket_id=ticket_id,
    )

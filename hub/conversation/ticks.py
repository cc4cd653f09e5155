"""Message ticks: a user message's status only moves forward, and each step is a tick."""

from __future__ import annotations

import sqlalchemy as sa

from hub import actions
from hub.errors import NotFound
from hub.journal import ConversationState, Scope
from hub.models import Message, table

MESSAGES = table(Message)

# stored -> (waiting ->) delivered -> read; failed is final unless it had been delivered.
_RANK = {"stored": 0, "waiting": 0, "failed": 0, "delivered": 1, "read": 2}
_TICK = {
    "waiting": "WAITING_TICK",
    "delivered": "SINGLE_TICK",
    "read": "DOUBLE_TICK",
    "failed": "ERROR_TICK",
}


async def _status(scope: Scope, conversation_id: str, message_id: str) -> str:
    status = scope.recall(("message-status", message_id))
    if status is None:
        status = await scope.conn.scalar(
            sa.select(MESSAGES.c.status).where(
                MESSAGES.c.id == message_id,
                MESSAGES.c.conversation_id == conversation_id,
                MESSAGES.c.author == "user",
            )
        )
        if status is None:
            raise NotFound(f"message {message_id!r} is not a user message of this conversation")
    known: str = status
    return known


def _moves(current: str, new: str) -> bool:
    if new == "waiting":
        return current == "stored"
    if new == "failed":
        return current in ("stored", "waiting")
    return _RANK[new] > _RANK[current]


async def advance(
    scope: Scope, conversation: ConversationState, message_id: str, status: str
) -> bool:
    """Move one user message to ``status`` and emit its tick; False if it was there already.

    A read also marks every earlier user message read, as the agent has seen them too.
    """
    current = await _status(scope, conversation.id, message_id)
    if not _moves(current, status):
        return False
    targets = [message_id]
    if status == "read":
        earlier = await scope.conn.execute(
            sa.select(MESSAGES.c.id, MESSAGES.c.status)
            .where(
                MESSAGES.c.conversation_id == conversation.id,
                MESSAGES.c.author == "user",
                MESSAGES.c.id != message_id,
                MESSAGES.c.seq
                <= sa.select(MESSAGES.c.seq).where(MESSAGES.c.id == message_id).scalar_subquery(),
            )
            .order_by(MESSAGES.c.seq)
        )
        targets = [
            row.id
            for row in earlier
            if _moves(scope.recall(("message-status", row.id), row.status), "read")
        ] + targets
    for target in targets:
        scope.emit(conversation, *actions.tick(target, _TICK[status]))
        scope.note(("message-status", target), status)
    scope.stage(sa.update(MESSAGES).where(MESSAGES.c.id.in_(targets)).values(status=status))
    return True

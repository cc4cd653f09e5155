"""Sample values for exercising an adapter: a handoff, a user message, two agents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from providers.values import (
    Agent,
    ConversationRef,
    Handoff,
    OutboundMessage,
    TranscriptItem,
    UserInfo,
)

# The agents the kit's agent-side events come from (a desk-like adapter's workspace needs
# them as accounts: ``MemoryWorkspace.add_agent(ANA.id, ANA.name, icon_url=ANA.icon_url)``).
ANA = Agent("agent-ana", "Ana", "https://cdn.example.com/agents/ana.png")
BEN = Agent("agent-ben", "Ben")


def sample_handoff(conversation_id: str = "c_conformance0001", **changes: Any) -> Handoff:
    values: dict[str, Any] = {
        "conversation_id": conversation_id,
        "bot_id": "bot_conformance",
        "session_id": "session-1",
        "queue": "support",
        "user": UserInfo(name="Jo", last_name="Doe", email="jo@example.com", language="en"),
        "inquiry": "My order A-17 is late",
        "transcript": (
            TranscriptItem("guest", "Where is my order?", "2026-11-23T09:58:00Z", "t1"),
            TranscriptItem("assistant", "Let me get you a human.", "2026-11-23T09:58:05Z", "t2"),
        ),
        "data": {"orderId": "A-17"},
        "skills": (),
        "created_at": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    }
    values.update(changes)
    return Handoff(**values)


def sample_message(
    conversation_id: str = "c_conformance0001",
    ref: str | None = None,
    message_id: str = "m_conformance0001",
    text: str = "Hello, is anyone there?",
) -> OutboundMessage:
    return OutboundMessage(
        id=message_id,
        conversation=ConversationRef(conversation_id, ref),
        text=text,
        sent_at=datetime(2026, 11, 23, 10, 1, tzinfo=UTC),
    )

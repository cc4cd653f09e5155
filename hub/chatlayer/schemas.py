"""What Chatlayer POSTs to an Offloading Webhook, and what the hub answers.

Chatlayer's bodies are read leniently where Chatlayer may add fields (unknown fields are
kept, not refused) and strictly where the hub depends on them: ``event``, ``botId``,
``version``, ``sessionId``, and each message's ``actor`` and ``message``. The message
structures themselves (text, quick replies, templates; the user's messageTypes) are read
by :mod:`hub.chatlayer.transcript`, which renders anything it does not know as a
placeholder rather than refusing the whole event.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from hub.chatlayer.settings import Version

MAX_ITEMS = 1000  # messages in one event; the body size limit applies too


class ChatlayerBody(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatlayerItem(ChatlayerBody):
    """One item of ``messages`` or ``transcript``: who spoke, and Chatlayer's message."""

    actor: Literal["bot", "user"]
    message: dict[str, Any]
    timestamp: str | None = Field(None, max_length=64)


class EventBase(ChatlayerBody):
    botId: str = Field(min_length=1, max_length=100, description="Chatlayer's bot id")
    version: Version = Field(description="The bot version: DRAFT or LIVE.")
    sessionId: str = Field(min_length=1, max_length=200, description="The user's session id")
    timestamp: str | None = Field(None, max_length=64)
    channel: str | None = Field(None, max_length=100)


class MessagesEvent(EventBase):
    """Every user and bot message of every session, also before any offload."""

    event: Literal["messages"]
    messages: list[ChatlayerItem] = Field(max_length=MAX_ITEMS)


class OffloadEvent(EventBase):
    """The bot reached a "Send to offload provider" action."""

    event: Literal["offload"]
    payload: dict[str, Any] = Field(
        default_factory=dict, description="What the bot builder configured in the action."
    )
    transcript: list[ChatlayerItem] = Field(default_factory=list, max_length=MAX_ITEMS)


class EventKind(ChatlayerBody):
    """The first look at a body: which event it is (the rest is read by its own model)."""

    event: str = Field(min_length=1, max_length=40)


class ChatlayerEventIn(
    RootModel[Annotated[MessagesEvent | OffloadEvent, Field(discriminator="event")]]
):
    """A Chatlayer Offloading Webhook event: ``messages`` or ``offload``."""


class ChallengeOut(BaseModel):
    """The health check's answer."""

    status: Literal["ok"] = "ok"


class MessagesOut(BaseModel):
    """Recorded (Chatlayer expects no body; this one is for people reading logs)."""

    status: Literal["ok"] = "ok"
    recorded: int = Field(description="Messages new to the kept history.")
    relayed: int = Field(description="User messages passed on to an open chat with an agent.")
    ignored: str | None = Field(None, description="Why nothing was recorded, if so.")


OffloadReason = Literal["out-of-hours", "no-agents", "disabled", "ticket", "ended"]


class OffloadOut(BaseModel):
    """The offload's answer: Chatlayer pauses the bot when ``offloadSuccess`` is true."""

    offloadSuccess: bool
    pauseBot: bool
    offloading: Literal["opened", "closed", "disabled"] = Field(
        description="Chatlayer's offloading dialog that fits: opened (waiting for an agent), "
        "closed (outside hours, or a ticket), disabled (nobody can take it now)."
    )
    reason: OffloadReason | None = Field(
        None, description="Why nobody chats, when offloadSuccess is false."
    )
    ticketId: str | None = None
    conversationId: str | None = None
    status: Literal["queued", "assigned", "ended", "ticket"] | None = None

"""The events the platform posts to the hub, validated.

Envelope (the same shape as the hub's own events)::

    {"id": "evt-1", "type": "agent.message", "conversation": {"id": "c_..."},
     "data": {"html": "<p>Hi</p>", "agent": {"id": "a1", "name": "Ana"}}}

Types are strict (a string is not a number) and unknown keys are ignored, so a platform
can add its own fields without breaking the hub. A body is read with :func:`decode` (the
text and JSON rules of :mod:`providers.input_rules`), then each event with :func:`parse`.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from providers.context import ProviderContext
from providers.input_rules import InputError, PageUrl, loads
from providers.values import Agent

M = TypeVar("M", bound="Model")

MAX_ID_CHARS = 200
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
Text = Annotated[str, Field(max_length=100_000)]
Label = Annotated[str, Field(min_length=1, max_length=100)]


class Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)


class Data(Model):
    """The ``data`` of one event type. ``start`` tells the hub through the context (the
    report is taken when it is called; the awaitable says when it is stored), ``answer``
    turns its result into what the answer adds to ``{"ok": true, "id": ...}``."""

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        raise NotImplementedError

    def answer(self, result: Any) -> dict[str, Any]:
        return {}


def _agent(agent: AgentIn | None) -> Agent | None:
    return agent.agent() if agent is not None else None


class AgentIn(Model):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=200)]
    icon_url: PageUrl | None = Field(None, alias="iconUrl")

    def agent(self) -> Agent:
        return Agent(self.id, self.name, self.icon_url)


class ConversationIn(Model):
    id: Id


class Envelope(Model):
    id: Id | None = None
    type: Label
    conversation: ConversationIn
    data: dict[str, Any] = Field(default_factory=dict)


class AgentJoined(Data):
    agent: AgentIn

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        return context.agent_joined(conversation_id, self.agent.agent(), event_id=event_id)


class AgentLeft(Data):
    reason: Label | None = None

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        return context.agent_left(conversation_id, reason=self.reason, event_id=event_id)


class MediaIn(Model):
    """A file the agent sent, inline: its bytes as base64 (the event's size limit holds)."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Annotated[
        str, Field(min_length=3, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    ] = Field(alias="contentType")
    content: Annotated[str, Field(min_length=1)]

    def decoded(self) -> bytes:
        try:
            return base64.b64decode(self.content, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("media.content: not valid base64") from None


class AgentMessage(Data):
    html: Text | None = None
    text: Text | None = None
    agent: AgentIn | None = None
    media: MediaIn | None = None

    @model_validator(mode="after")
    def _one_body(self) -> AgentMessage:
        if self.html is not None and self.text is not None:
            raise ValueError("give one of html and text")
        if self.html is None and self.text is None and self.media is None:
            raise ValueError("give html, text or media")
        if self.media is not None:
            self.media.decoded()
        return self

    @property
    def markup(self) -> str:
        """The message as HTML (plain text is escaped; the hub sanitises either way)."""
        if self.html is not None:
            return self.html
        return html.escape(self.text or "").replace("\n", "<br>")

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        if self.media is not None:
            return self._with_media(context, conversation_id, event_id)
        return context.agent_message(
            conversation_id, self.markup, agent=_agent(self.agent), event_id=event_id
        )

    async def _with_media(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> tuple[str, str]:
        """Two steps: the file is stored first, then the message that carries it."""
        assert self.media is not None
        stored = await context.store_media(
            conversation_id,
            self.media.name,
            self.media.content_type,
            self.media.decoded(),
            event_id=event_id,
        )
        message_id = await context.agent_message(
            conversation_id,
            self.markup,
            agent=_agent(self.agent),
            event_id=event_id,
            media_id=stored.id,
        )
        return message_id, stored.id

    def answer(self, result: Any) -> dict[str, Any]:
        if isinstance(result, tuple):
            message_id, media_id = result
            return {"messageId": message_id, "mediaId": media_id}
        return {"messageId": result}


class AgentTyping(Data):
    typing: bool
    agent: AgentIn | None = None

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        return context.agent_typing(conversation_id, self.typing, agent=_agent(self.agent))


class AgentProfile(Data):
    agent: AgentIn

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        return context.agent_profile(conversation_id, self.agent.agent(), event_id=event_id)


class MessageStatus(Data):
    message_id: Id = Field(alias="messageId")
    status: Literal["delivered", "read", "failed"]

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        return context.message_status(
            conversation_id, self.message_id, self.status, event_id=event_id
        )


class QueuePosition(Data):
    position: Annotated[int, Field(ge=0)] | None = None
    estimated_wait: Annotated[float, Field(ge=0)] | None = Field(None, alias="estimatedWaitSeconds")

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        return context.queue_update(conversation_id, self.position, self.estimated_wait)


class TicketCreated(Data):
    ticket_id: Id = Field(alias="ticketId")

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        return context.ticket_created(conversation_id, self.ticket_id, event_id=event_id)


class ConversationClosed(Data):
    reason: Label = "closed-by-agent"

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        return context.conversation_closed(conversation_id, self.reason, event_id=event_id)


class TransferRequest(Data):
    """The platform hands the chat on: to a hub queue, a hub desk agent, or the next step."""

    queue: Label | None = None
    agent_id: Id | None = Field(None, alias="agentId")
    next_step: bool = Field(False, alias="nextStep")

    @model_validator(mode="after")
    def _one_target(self) -> TransferRequest:
        if sum((self.queue is not None, self.agent_id is not None, self.next_step)) != 1:
            raise ValueError("give exactly one of queue, agentId and nextStep: true")
        return self

    def start(
        self, context: ProviderContext, conversation_id: str, event_id: str
    ) -> Awaitable[Any]:
        return context.request_transfer(
            conversation_id,
            queue=self.queue,
            agent_id=self.agent_id,
            next_step=self.next_step,
            event_id=event_id,
        )


DATA_MODELS: dict[str, type[Data]] = {
    "agent.joined": AgentJoined,
    "agent.left": AgentLeft,
    "agent.message": AgentMessage,
    "agent.typing": AgentTyping,
    "agent.profile": AgentProfile,
    "message.status": MessageStatus,
    "queue.position": QueuePosition,
    "ticket.created": TicketCreated,
    "conversation.closed": ConversationClosed,
    "conversation.transfer": TransferRequest,
}


class Invalid(ValueError):
    """The body is not a valid event; the message names the field."""


__all__ = ["DATA_MODELS", "Incoming", "InputError", "Invalid", "decode", "parse"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One validated event: its id, type, the hub's conversation id and its data."""

    id: str
    type: str
    conversation_id: str
    data: Data

    @property
    def steps(self) -> int:
        """How many calls to the hub applying it takes (an agent file is stored first):
        an event of more than one step is applied alone, so order holds."""
        return 2 if getattr(self.data, "media", None) is not None else 1

    def start(self, context: ProviderContext) -> Awaitable[Any]:
        """Tell the hub now; the awaitable gives the context's result once it is stored.
        Events started one after the other are applied in that order."""
        return self.data.start(context, self.conversation_id, self.id)

    def answer(self, result: Any) -> dict[str, Any]:
        return self.data.answer(result)

    async def apply(self, context: ProviderContext) -> dict[str, Any]:
        """Tell the hub; raises what the context raises (``UnknownConversation``,
        ``ConversationEnded``), and ``Invalid`` for what the hub refuses as wrong (a
        transfer to a queue that does not exist, say): answer it as 422."""
        try:
            return self.answer(await self.start(context))
        except Invalid:
            raise
        except ValueError as exc:
            raise Invalid(str(exc)) from None


def decode(raw: bytes | str) -> Any:
    """A body or a frame as JSON, under the hub's rules: no lone surrogate or NUL in any
    string, at most 32 levels deep, no duplicate keys, finite numbers. Raises
    :class:`~providers.input_rules.InputError` (answer 400 with its ``code``)."""
    return loads(raw)


def parse(payload: Any, header_event_id: str | None) -> Incoming:
    """Validate a decoded JSON body; raises ``Invalid`` naming the first problem."""
    if not isinstance(payload, dict):
        raise Invalid("the body must be a JSON object")
    envelope = _validate(Envelope, payload, "")
    model = DATA_MODELS.get(envelope.type)
    if model is None:
        known = ", ".join(sorted(DATA_MODELS))
        raise Invalid(f"type: unknown event type {envelope.type!r} (known: {known})")
    data = _validate(model, envelope.data, "data")
    event_id = envelope.id or header_event_id
    if event_id is None:
        raise Invalid("id: every event needs an id (in the body or the Hub-Event-Id header)")
    if header_event_id is not None and header_event_id != event_id:
        raise Invalid("id: the body's id and the Hub-Event-Id header differ")
    if not 1 <= len(event_id) <= MAX_ID_CHARS:
        raise Invalid(f"id: must be 1 to {MAX_ID_CHARS} characters")
    return Incoming(
        id=event_id, type=envelope.type, conversation_id=envelope.conversation.id, data=data
    )


def _validate(model: type[M], value: Any, prefix: str) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join([prefix] * bool(prefix) + [str(part) for part in error["loc"]])
        message = error["msg"].removeprefix("Value error, ")
        raise Invalid(f"{location}: {message}" if location else message) from None

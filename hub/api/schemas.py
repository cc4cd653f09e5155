"""Request and response bodies of the v1 API (camelCase on the wire, as the SDK speaks).

Limits that the operator configures (message length, transcript length) are checked
against the ``limits`` in the validation context, so the error names the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from hub.settings import Limits


def _limits(info: ValidationInfo) -> Limits:
    context = info.context or {}
    return context.get("limits") or Limits()


class Body(BaseModel):
    """A request body: unknown fields are errors, so a typo is not silently ignored; types
    are strict (``"yes"`` is not a boolean, ``false`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


# -- requests -------------------------------------------------------------------------------

MAX_SKILLS = 20
Skill = Annotated[str, Field(min_length=1, max_length=100)]


LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$"
Language = Annotated[str, Field(max_length=20, pattern=LANGUAGE_PATTERN)]
QueueName = Annotated[str, Field(max_length=40)]
ConversationStatus = Literal["queued", "assigned", "ended", "ticket"]


def _message_length(value: str, info: ValidationInfo) -> str:
    limit = _limits(info).max_message_chars
    if len(value) > limit:
        raise ValueError(f"is longer than {limit} characters")
    return value


# A message's text: at most the operator's max_message_chars.
MessageText = Annotated[str, AfterValidator(_message_length)]


class AvailabilityQuery(Body):
    """``GET /v1/availability``'s query (``skills`` comes comma-separated)."""

    queue: QueueName | None = None
    language: Language | None = None
    skills: list[Skill] = Field(default_factory=list, max_length=MAX_SKILLS)


class UserIn(Body):
    name: str | None = Field(None, max_length=200)
    lastName: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    language: Language | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class TranscriptItemIn(BaseModel):
    """One item of ``getConversationTranscript()``; fields beyond these are kept as they are."""

    model_config = ConfigDict(extra="allow", strict=True)

    user: Literal["guest", "assistant"]
    message: MessageText
    datetime: str | None = Field(None, max_length=64)
    id: str | None = Field(None, max_length=100)
    externalId: str | None = Field(None, max_length=100)


class EscalationIn(Body):
    sessionId: str = Field(min_length=1, max_length=200)
    user: UserIn = Field(default_factory=UserIn)
    inquiry: str = ""
    queue: QueueName | None = None
    skills: list[Skill] = Field(default_factory=list, max_length=MAX_SKILLS)
    transcript: list[TranscriptItemIn] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("inquiry")
    @classmethod
    def _inquiry(cls, value: str, info: ValidationInfo) -> str:
        limit = _limits(info).max_inquiry_chars
        if len(value) > limit:
            raise ValueError(f"is longer than {limit} characters")
        return value

    @field_validator("transcript")
    @classmethod
    def _transcript(cls, value: list[TranscriptItemIn], info: ValidationInfo) -> Any:
        limit = _limits(info).max_transcript_items
        if len(value) > limit:
            raise ValueError(f"has {len(value)} items; at most {limit} are accepted")
        return value


class MediaRef(Body):
    id: str = Field(min_length=1, max_length=40)


class MessageIn(Body):
    id: str = Field(min_length=1, max_length=100, description="The client's own message id.")
    message: MessageText = ""
    media: MediaRef | None = None


class TypingIn(Body):
    typing: bool


class ReadIn(Body):
    upTo: str = Field(min_length=1, max_length=40, description="externalId of an agent message")


class CloseIn(Body):
    reason: str = Field("closed-by-user", min_length=1, max_length=200)


class RatingIn(Body):
    value: Annotated[str, Field(min_length=1, max_length=40)] | int = Field(
        description="The SDK's rating value, e.g. '1'..'5' or 'yes'/'no'."
    )
    comment: str | None = Field(None, max_length=2000)

    @field_validator("value")
    @classmethod
    def _value(cls, value: str | int) -> str:
        text = str(value)
        if not 1 <= len(text) <= 40:
            raise ValueError("must be 1 to 40 characters")
        return text


# -- responses ------------------------------------------------------------------------------


class ErrorDetail(Out):
    code: str
    message: str


class ErrorOut(Out):
    error: ErrorDetail


class AvailabilityOut(Out):
    open: bool
    reason: Literal["open", "closed", "disabled", "no-agents"]
    queue: str | None
    agentsOnline: int
    estimatedWaitSeconds: int | None
    ticketFallback: bool = Field(
        description="An offline step (an email ticket) would take the escalation."
    )


class EscalationOut(Out):
    conversationId: str
    token: str = Field(description="The conversation token: Bearer, or ?token= on the stream.")
    status: ConversationStatus
    queue: str
    position: int | None
    estimatedWait: int | None
    reason: str | None
    ticketId: str | None
    eventsUrl: str


class MessageOut(Out):
    id: str
    externalId: str
    seq: int
    duplicate: bool


class MediaOut(Out):
    id: str
    name: str
    contentType: str
    size: int
    url: str
    message: MessageOut | None = None


class AcceptedOut(Out):
    ok: bool = True
    forwarded: bool | None = None


class EnvelopeOut(Out):
    seq: int
    conversationId: str
    at: str
    action: str
    data: dict[str, Any]


class EventsPageOut(Out):
    events: list[EnvelopeOut]
    next: int = Field(description="Pass as ?after= to get what comes next.")


class AgentOut(Out):
    id: str | None
    name: str
    icon: str | None


class SnapshotMessageOut(Out):
    externalId: str
    id: str | None = Field(description="The client's id, for user messages.")
    author: Literal["user", "agent"]
    message: str
    media: dict[str, Any] | None
    agentName: str | None
    status: str | None = Field(description="stored, waiting, delivered, read or failed")
    seq: int
    at: str


class SnapshotOut(Out):
    conversationId: str
    botId: str
    sessionId: str
    status: ConversationStatus
    queue: str
    provider: str | None
    position: int | None
    estimatedWait: int | None
    agent: AgentOut | None
    agentTyping: bool
    reason: str | None
    ticketId: str | None
    user: dict[str, Any]
    inquiry: str
    rating: dict[str, Any] | None
    lastSeq: int
    createdAt: str
    endedAt: str | None
    messages: list[SnapshotMessageOut]

"""The Chatlayer integrations declared in the config file: ``[chatlayer.<name>]``.

One integration is one "Webhook" offloading provider in one Chatlayer bot's settings: the
hub serves it at ``/v1/chatlayer/<name>``, checks Chatlayer's Verify Token, files its
conversations under the hub bot ``bot``, and answers through Chatlayer's API with
``api_url`` and ``api_token``.

This module must not import :mod:`hub.settings` (which imports it), so the two patterns
it shares with it are repeated here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.actions import SYSTEM_MESSAGES

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"  # as hub.settings.NAME_PATTERN
BOT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"  # a hub bot id, as queues' ``bots`` check it
DEFAULT_API_URL = "https://api.chatlayer.ai"
Version = Literal["DRAFT", "LIVE"]
VERSIONS: tuple[Version, ...] = ("DRAFT", "LIVE")
HandBack = Literal["conversation-action", "dialogstate", "session-variables", "none"]

# What the user reads, as a bot message, for each system message of the chat; "" sends
# nothing. ``{agentName}``, ``{ticketId}``, ``{minutes}``, ``{position}`` and
# ``{estimatedWait}`` are filled in from the message's replacements.
DEFAULT_TEXTS: dict[str, str] = {
    "agent-joined": "{agentName} joined the chat.",
    "agent-left": "{agentName} left the chat.",
    "no-agents": "Sorry, no one can answer right now.",
    "out-of-hours": "Sorry, we are closed right now.",
    "unavailable": "Sorry, the chat is not available right now.",
    "ticket-created": "We made ticket {ticketId} of your question; we will get back to you.",
    "idle-warning": "Are you still there? The chat closes in {minutes} minutes.",
    "chat-closed": "The chat has ended.",
    "queue-position": "",
}


class ChatlayerSettings(BaseModel):
    """One Chatlayer bot's Offloading Webhook."""

    model_config = ConfigDict(extra="forbid")

    bot: str = Field(pattern=BOT_ID_PATTERN, description="the hub bot id of these conversations")
    verify_token: SecretStr = Field(description="Chatlayer's Verify Token for this webhook")
    api_url: str = Field(DEFAULT_API_URL, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    api_token: SecretStr = Field(description="a Chatlayer API access token")
    queue: str | None = Field(None, pattern=NAME_PATTERN)
    chatlayer_bot_id: str | None = Field(None, min_length=1, max_length=100)
    versions: list[Version] = Field(default_factory=lambda: list(VERSIONS), min_length=1)
    history_limit: int = Field(50, ge=1, le=1000)
    history_hours: float = Field(24.0, gt=0)
    show_agent_name: bool = False
    texts: dict[str, str] = Field(default_factory=dict)
    # How the session goes back to the bot when the chat ends (hub.chatlayer.client).
    hand_back: HandBack = "conversation-action"
    resume_dialogstate: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _dialogstate_for_its_strategy(self) -> ChatlayerSettings:
        if self.hand_back == "dialogstate" and self.resume_dialogstate is None:
            raise ValueError("hand_back 'dialogstate' needs resume_dialogstate")
        if self.hand_back != "dialogstate" and self.resume_dialogstate is not None:
            raise ValueError(
                "resume_dialogstate is only used with hand_back = 'dialogstate' "
                f"(hand_back is {self.hand_back!r})"
            )
        return self

    @field_validator("verify_token")
    @classmethod
    def _long_token(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("api_token")
    @classmethod
    def _api_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("texts")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for label, text in value.items():
            if label not in SYSTEM_MESSAGES:
                known = ", ".join(sorted(SYSTEM_MESSAGES))
                raise ValueError(f"{label!r} is not a system message (known: {known})")
            if len(text) > 1000:
                raise ValueError(f"the text of {label!r} is longer than 1000 characters")
        return value

    def text(self, label: str, replacements: dict[str, Any] | None = None) -> str:
        """The text the user reads for system message ``label`` ("" for none)."""
        template = self.texts.get(label, DEFAULT_TEXTS.get(label, ""))
        values = replacements or {}
        return re.sub(
            r"\{(\w+)\}",
            lambda match: "" if values.get(match[1]) is None else str(values[match[1]]),
            template,
        ).strip()

    def accepts(self, version: str) -> bool:
        return version in self.versions


def _check_integrations(
    value: dict[str, ChatlayerSettings], info: ValidationInfo
) -> dict[str, ChatlayerSettings]:
    """Names, one integration per hub bot, and queues that exist (``info.data`` holds the
    settings validated before ``chatlayer``: ``queues`` among them)."""
    owners: dict[str, str] = {}
    queues = {queue.name for queue in info.data.get("queues") or []}
    for name, integration in value.items():
        if not re.match(NAME_PATTERN, name):
            raise ValueError(
                f"{name!r} is not a valid name (lower-case letters, digits, '-' and '_')"
            )
        if integration.bot in owners:
            raise ValueError(
                f"{name}.bot: bot {integration.bot!r} already belongs to chatlayer."
                f"{owners[integration.bot]} (one integration per hub bot)"
            )
        owners[integration.bot] = name
        queue = integration.queue
        if queue is not None and "queues" in info.data and queue not in queues:
            known = ", ".join(sorted(queues)) or "none"
            raise ValueError(f"{name}.queue: unknown queue {queue!r} (configured: {known})")
    return value


ChatlayerIntegrations = Annotated[dict[str, ChatlayerSettings], AfterValidator(_check_integrations)]

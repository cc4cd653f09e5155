"""What the platform answers the hub: to ``conversation.opened``, and at ``status_url``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    """Strict types; fields the hub does not know are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, strict=True)


class OpenAnswer(_Answer):
    """The body of a 2xx answer to ``conversation.opened`` (every field optional)."""

    ref: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    status: Literal["queued", "assigned"] = "queued"
    position: Annotated[int, Field(ge=0)] | None = None
    estimated_wait: Annotated[float, Field(ge=0)] | None = Field(None, alias="estimatedWaitSeconds")
    ticket_id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, alias="ticketId"
    )


class StatusAnswer(_Answer):
    """The answer of ``status_url``."""

    open: bool
    reason: Literal["open", "closed", "disabled", "no-agents"] | None = None
    agents_online: Annotated[int, Field(ge=0)] | None = Field(None, alias="agentsOnline")
    estimated_wait: Annotated[float, Field(ge=0)] | None = Field(None, alias="estimatedWaitSeconds")

"""The configuration of one webhook instance (a ``[providers.NAME]`` table with
``type = "webhook"``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from providers.base import ProviderConfig
from providers.net import ForbiddenAddress, check_literal

MIN_SECRET_CHARS = 24


class WebhookConfig(ProviderConfig):
    # Where the hub POSTs its events (the agent platform's endpoint).
    url: str
    # Shared secret: signs the hub's requests and checks the platform's.
    secret: SecretStr
    # During a rotation: also accepted on the platform's requests (never used to sign).
    previous_secret: SecretStr | None = None
    # Optional GET endpoint answering whether agents can take a chat now.
    status_url: str | None = None
    # Private, loopback and link-local destinations are refused unless this is true.
    allow_private_network: bool = False
    # Seconds one call to the platform may take (the hub's provider timeout still applies).
    timeout_seconds: float = Field(8.0, gt=0, le=120)
    # Seconds between health probes while the hub runs; 0 probes only at start.
    health_check_seconds: float = Field(30.0, ge=0)
    # Largest event body (or batch, or stream frame) the platform may send the hub.
    max_event_bytes: int = Field(256 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Most events in one batch POST or one stream frame.
    max_batch_events: int = Field(500, ge=1, le=10_000)
    # How long the download links of the user's files (sent with messages) stay valid.
    media_link_seconds: int = Field(7 * 24 * 3600, ge=60)

    @field_validator("secret", "previous_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters")
        return value

    @model_validator(mode="after")
    def _urls(self) -> WebhookConfig:
        for name in ("url", "status_url"):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                check_literal(value, allow_private=self.allow_private_network)
            except (ForbiddenAddress, ValueError) as exc:
                raise ValueError(f"{name}: {exc}") from None
        return self

    @property
    def secrets(self) -> list[str]:
        """The secrets a platform's request may be signed with (current first)."""
        keys = [self.secret.get_secret_value()]
        if self.previous_secret is not None:
            keys.append(self.previous_secret.get_secret_value())
        return keys

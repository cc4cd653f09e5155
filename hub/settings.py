"""Settings: environment variables (``OFFLOAD_HUB_*``) over an optional TOML config file.

Provider instances are declared by name with a ``type`` (the adapter's entry-point name)
and the adapter's own keys; those keys are validated against the adapter's config model
when the providers are loaded (:mod:`hub.plugins`). Everything else is validated here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hub.chatlayer.settings import ChatlayerIntegrations
from hub.hours import BusinessHours
from hub.security.proxies import parse_networks

ENV_PREFIX = "OFFLOAD_HUB_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the problem."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Limits(Strict):
    """Size limits on what chatbots send. Every one is answered with a clear 4xx."""

    max_body_bytes: int = Field(256 * 1024, ge=1024)
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    upload_types: list[str] = Field(
        default_factory=lambda: [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "text/plain",
        ]
    )
    max_transcript_items: int = Field(200, ge=0)
    max_message_chars: int = Field(10_000, ge=1)
    max_inquiry_chars: int = Field(4_000, ge=1)


class RateLimit(Strict):
    """A token bucket: ``burst`` requests at once, refilled at ``per_second`` (0: no limit)."""

    per_second: float = Field(ge=0)
    burst: int = Field(ge=1)


class RateLimits(Strict):
    """429 with Retry-After past these, on /v1/ and /providers/ (hub/api/rate_limits.py).
    Generous by default: a person, a bot or a platform in normal use stays far below."""

    per_bot: RateLimit = Field(default_factory=lambda: RateLimit(per_second=200, burst=400))
    per_conversation: RateLimit = Field(default_factory=lambda: RateLimit(per_second=20, burst=60))
    per_address: RateLimit = Field(default_factory=lambda: RateLimit(per_second=500, burst=1000))


class BotSettings(Strict):
    """A bot declared in the config file (bots can also be added with ``offload-hub bots add``)."""

    name: str = Field(min_length=1, max_length=200)
    secret: SecretStr | None = None
    allowed_origins: list[str] = Field(default_factory=list)
    # Every envelope of the bot's conversations is POSTed here, signed with callback_secret.
    callback_url: str | None = Field(None, pattern=r"^https?://\S+$", max_length=2000)
    callback_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _callback_secret(self) -> BotSettings:
        if self.callback_url and (
            self.callback_secret is None or len(self.callback_secret.get_secret_value()) < 24
        ):
            raise ValueError("callback_url needs a callback_secret of at least 24 characters")
        return self

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("must be at least 24 characters")
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [check_origin(origin) for origin in value]


class ProviderInstanceSettings(BaseModel):
    """One provider instance: ``type`` names the adapter, the other keys are its config."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(min_length=1)
    enabled: bool = True

    def adapter_config(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ChainStep(Strict):
    provider: str
    # Seconds a conversation may wait at this step before it moves on (None: the
    # lifecycle's wait_limit_seconds); the deadline is stored on the conversation.
    wait_limit: float | None = Field(None, gt=0)


class QueueSettings(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    enabled: bool = True
    bots: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    chain: list[ChainStep] = Field(min_length=1)
    # Opening times; without them the queue is always open. While it is closed an
    # escalation goes to the out_of_hours steps (an email ticket, say), or is told
    # "out-of-hours" when there are none.
    hours: BusinessHours | None = None
    out_of_hours: list[ChainStep] = Field(default_factory=list)

    @field_validator("chain", "out_of_hours", mode="before")
    @classmethod
    def _short_steps(cls, value: Any) -> Any:
        # chain = ["desk", "email"] is shorthand for [{provider = "desk"}, ...]
        if isinstance(value, list):
            return [{"provider": step} if isinstance(step, str) else step for step in value]
        return value

    @field_validator("languages")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [language.lower() for language in value]


# The shortest presence timeout: the dashboard heartbeats every third of it, and a
# heartbeat more often than every few seconds is load for nothing.
PRESENCE_FLOOR_SECONDS = 10.0


class Lifecycle(Strict):
    """The conversation clocks; 0 switches a timer off."""

    tick_seconds: float = Field(1.0, gt=0, description="how often due deadlines are looked for")
    agent_typing_seconds: float = Field(6.0, gt=0)
    user_typing_seconds: float = Field(6.0, gt=0)
    idle_warning_seconds: float = Field(600.0, ge=0)
    idle_close_seconds: float = Field(120.0, ge=0)
    presence_timeout_seconds: float = Field(90.0, ge=0)
    # Every queued conversation has a way out: a chain step without a wait_limit of its own
    # gets this one, and a step where nobody who could take the conversation has been
    # online (available) for no_agents_seconds is passed, as if its wait limit had run out.
    wait_limit_seconds: float = Field(600.0, gt=0)
    no_agents_seconds: float = Field(60.0, gt=0)
    position_refresh_seconds: float = Field(30.0, gt=0)
    health_check_seconds: float = Field(60.0, gt=0)
    retention_days: float = Field(0.0, ge=0)
    retention_batch: int = Field(500, ge=1)

    def wait_limit(self, step: ChainStep) -> float:
        """How long a conversation may wait at ``step``: its own limit, or the default."""
        return step.wait_limit if step.wait_limit is not None else self.wait_limit_seconds

    @field_validator("presence_timeout_seconds")
    @classmethod
    def _presence_floor(cls, value: float) -> float:
        if 0 < value < PRESENCE_FLOOR_SECONDS:
            raise ValueError(
                f"must be 0 (off) or at least {PRESENCE_FLOOR_SECONDS:g} seconds (the dashboard "
                "heartbeats every third of it)"
            )
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=None,
    )

    database_url: str = "sqlite+aiosqlite:///./offload-hub.db"
    # PostgreSQL connections for reads, per process (the journal writes on its own).
    database_pool_size: int = Field(10, ge=1, le=200)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    secret_key: SecretStr | None = None
    redis_url: str | None = None
    # Names the Redis channels (prefix:events, prefix:live) or PostgreSQL notification
    # channels (prefix_events, prefix_live) that carry notices between processes; hubs
    # sharing a Redis for different databases need different prefixes.
    notice_prefix: str = Field("offload_hub", pattern=r"^[a-z][a-z0-9_]{0,39}$")
    token_ttl_seconds: int = Field(24 * 3600, ge=60)
    provider_timeout_seconds: float = Field(10.0, gt=0)
    # Deliveries to providers: attempts before a message shows ERROR_TICK, and the first
    # retry's delay (each later one doubles, with jitter, up to retry_max_seconds).
    delivery_attempts: int = Field(6, ge=1, le=50)
    # Bot callbacks: attempts before an envelope is dead-lettered (an admin can resend it).
    callback_attempts: int = Field(10, ge=1, le=50)
    retry_base_seconds: float = Field(1.0, gt=0)
    retry_max_seconds: float = Field(300.0, gt=0)
    allow_private_urls: bool = False
    # Reverse proxies (addresses or networks) whose X-Forwarded-For is believed: the
    # client's address (sign-in throttling, rate limits) is read from it; nobody else's.
    trusted_proxies: list[str] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # "text" (one readable line) or "json" (one JSON object per line, for log collectors).
    log_format: Literal["text", "json"] = "text"
    # When set, /metrics answers only "Authorization: Bearer <metrics_token>".
    metrics_token: SecretStr | None = None
    # The event loop of `offload-hub serve`: uvloop when installed ("auto"), or "asyncio".
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    limits: Limits = Field(default_factory=Limits)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    bots: dict[str, BotSettings] = Field(default_factory=dict)
    providers: dict[str, ProviderInstanceSettings] = Field(default_factory=dict)
    queues: list[QueueSettings] = Field(default_factory=list)
    # Chatlayer Offloading Webhooks, by name (hub/chatlayer; declared after bots and queues,
    # which its validation reads).
    chatlayer: ChatlayerIntegrations = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    @field_validator("secret_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("metrics_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("must be at least 24 characters")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(network) for network in parse_networks(value)]

    @field_validator("bots", "providers")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(
                    f"{name!r} is not a valid name (lower-case letters, digits, '-' and '_')"
                )
        return value

    @model_validator(mode="after")
    def _references(self) -> Settings:
        seen: set[str] = set()
        for index, queue in enumerate(self.queues):
            if queue.name in seen:
                raise ValueError(f"queues.{index}.name: queue {queue.name!r} is declared twice")
            seen.add(queue.name)
            for part in ("chain", "out_of_hours"):
                for step_index, step in enumerate(getattr(queue, part)):
                    if step.provider not in self.providers:
                        known = ", ".join(sorted(self.providers)) or "none"
                        raise ValueError(
                            f"queues.{index}.{part}.{step_index}.provider: unknown provider "
                            f"instance {step.provider!r} (configured: {known})"
                        )
            for bot in queue.bots:
                if not re.match(r"^[A-Za-z0-9_-]{1,40}$", bot):
                    raise ValueError(f"queues.{index}.bots: {bot!r} is not a bot id")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def public_base_url(self) -> str:
        """Where chatbots and agents reach this hub (``public_url``, else the listen address)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


def check_origin(origin: str) -> str:
    origin = origin.rstrip("/")
    if not re.match(r"^https?://[^/\s]+$", origin):
        raise ValueError(f"{origin!r} is not an origin like https://example.com")
    return origin


def load_settings(config_path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and the TOML file, raising ConfigError with the key."""
    path = config_path or os.environ.get(CONFIG_ENV)
    settings_cls: type[Settings] = Settings
    if path:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        settings_cls = type(
            "Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}}
        )
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    except ValueError as exc:  # malformed TOML
        raise ConfigError(f"config error: {path}: {exc}") from None


def describe_validation_error(
    exc: ValidationError, *, prefix: str = "config error", key_prefix: str = ""
) -> str:
    """One line per problem: ``config error: queues.0.chain.1.provider: <what is wrong>``."""
    lines = []
    for error in exc.errors():
        key = ".".join([key_prefix] * bool(key_prefix) + [str(part) for part in error["loc"]])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{prefix}: {key}: {message}" if key else f"{prefix}: {message}")
    return "\n".join(lines)

"""The tables. Query functions live in :mod:`hub.store`; the write path in :mod:`hub.journal`.

Columns are declared with explicit SQLAlchemy types so Alembic's migrations (in
``hub/migrations``) read the same on SQLite and PostgreSQL, and a test proves the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

OPEN_STATUSES = ("queued", "assigned")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _open_only(*statuses: str) -> sa.TextClause:
    listed = ", ".join(f"'{status}'" for status in statuses)
    return sa.text(f"status IN ({listed})")


def is_open(status: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """``status IN ('queued', 'assigned')`` with the values written out, not bound: only
    so can SQLite (and a prepared PostgreSQL plan) use the partial indexes on open rows."""
    return status.in_([sa.literal_column(f"'{value}'") for value in OPEN_STATUSES])


class HubMeta(SQLModel, table=True):
    """Key/value facts about this installation (the token signing key, when not configured)."""

    __tablename__ = "hub_meta"

    key: str = Field(primary_key=True, sa_type=sa.String(60))
    value: str = Field(sa_type=sa.Text)


class Bot(SQLModel, table=True):
    """A registered chatbot instance. ``id`` is public; the secret key is stored as a hash."""

    __tablename__ = "bots"

    id: str = Field(primary_key=True, sa_type=sa.String(40))
    name: str = Field(sa_type=sa.String(200))
    secret_hash: str = Field(sa_type=sa.String(64), unique=True)
    allowed_origins: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Where every envelope of the bot's conversations is POSTed, signed with the secret
    # (kept as it is: the hub must sign with it, unlike the key it only compares).
    callback_url: str | None = Field(default=None, sa_type=sa.String(2000))
    callback_secret: str | None = Field(default=None, sa_type=sa.String(200))
    source: str = Field(default="cli", sa_type=sa.String(10))
    disabled: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Conversation(SQLModel, table=True):
    """One escalation, from the bot's hand-off to the return to the bot."""

    __tablename__ = "conversations"
    __table_args__ = (
        # One open conversation per bot session: a second escalation returns the open one.
        sa.Index(
            "uq_conversations_open_session",
            "bot_id",
            "session_id",
            unique=True,
            sqlite_where=_open_only(*OPEN_STATUSES),
            postgresql_where=_open_only(*OPEN_STATUSES),
        ),
        # The wait estimate: a queue's last waits, newest first, on every availability call.
        sa.Index("ix_conversations_queue_assigned_at", "queue", "assigned_at"),
    )

    id: str = Field(primary_key=True, sa_type=sa.String(40))
    bot_id: str = Field(foreign_key="bots.id", index=True, sa_type=sa.String(40))
    session_id: str = Field(sa_type=sa.String(200))
    # Which chatbot channel opened it, set by the hub (None: the v1 API), e.g.
    # "chatlayer:<integration>": the channel's deliveries trust this, not the user's data.
    channel: str | None = Field(default=None, sa_type=sa.String(60))
    status: str = Field(index=True, sa_type=sa.String(16))
    queue: str = Field(sa_type=sa.String(40))
    chain_step: int = Field(default=0)
    provider: str | None = Field(default=None, sa_type=sa.String(40))
    provider_ref: str | None = Field(default=None, sa_type=sa.String(200))
    owner: str = Field(default="bot", sa_type=sa.String(16))
    agent_id: str | None = Field(default=None, sa_type=sa.String(100))
    agent_name: str | None = Field(default=None, sa_type=sa.String(200))
    agent_icon: str | None = Field(default=None, sa_type=sa.String(2000))
    agent_typing_until: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    user_typing_until: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    language: str | None = Field(default=None, sa_type=sa.String(20))
    user_info: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    inquiry: str = Field(default="", sa_type=sa.Text)
    skills: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    transcript: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    position: int | None = Field(default=None)
    estimated_wait: float | None = Field(default=None)
    ticket_id: str | None = Field(default=None, sa_type=sa.String(200))
    end_reason: str | None = Field(default=None, sa_type=sa.String(200))
    ended_by: str | None = Field(default=None, sa_type=sa.String(16))
    rating_value: str | None = Field(default=None, sa_type=sa.String(40))
    rating_comment: str | None = Field(default=None, sa_type=sa.Text)
    user_read_up_to: str | None = Field(default=None, sa_type=sa.String(40))
    last_seq: int = Field(default=0)
    # The next moment the lifecycle must look at this conversation (routing that did not
    # finish, a wait limit), and what it must do then.
    deadline_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    deadline_kind: str | None = Field(default=None, sa_type=sa.String(20))
    # Queued at a step where nobody who could take it is available, since when (the
    # lifecycle passes the step after ``lifecycle.no_agents_seconds``).
    unattended_since: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    # The idle clock of a chat with an agent: the last message either way (or the
    # assignment); the lifecycle warns, then ends the chat, when it is too old.
    active_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    idle_warned: bool = Field(default=False)
    # Routed while the queue was closed: chain_step counts along its out_of_hours steps.
    after_hours: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Media(SQLModel, table=True):
    __tablename__ = "media"
    __table_args__ = (
        # A file an adapter stored for a platform's event: a replayed event stores nothing.
        sa.UniqueConstraint("conversation_id", "source_event_id", name="uq_media_source_event"),
    )

    id: str = Field(primary_key=True, sa_type=sa.String(40))
    conversation_id: str = Field(foreign_key="conversations.id", index=True, sa_type=sa.String(40))
    uploader: str = Field(sa_type=sa.String(10))
    name: str = Field(sa_type=sa.String(255))
    content_type: str = Field(sa_type=sa.String(100))
    size: int
    sha256: str = Field(sa_type=sa.String(64))
    content: bytes = Field(sa_type=sa.LargeBinary)
    source_event_id: str | None = Field(default=None, sa_type=sa.String(200))
    created_at: datetime = Field(sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """A user or agent message of the live chat (the bot's history is the transcript)."""

    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "client_id", name="uq_messages_client_id"),
        sa.UniqueConstraint("conversation_id", "source_event_id", name="uq_messages_source_event"),
    )

    id: str = Field(primary_key=True, sa_type=sa.String(40))
    # Not indexed alone: uq_messages_client_id starts with it, and serves its lookups.
    conversation_id: str = Field(foreign_key="conversations.id", sa_type=sa.String(40))
    author: str = Field(sa_type=sa.String(10))
    client_id: str | None = Field(default=None, sa_type=sa.String(100))
    source_event_id: str | None = Field(default=None, sa_type=sa.String(200))
    body: str = Field(default="", sa_type=sa.Text)
    media_id: str | None = Field(default=None, foreign_key="media.id", sa_type=sa.String(40))
    agent_id: str | None = Field(default=None, sa_type=sa.String(100))
    agent_name: str | None = Field(default=None, sa_type=sa.String(200))
    status: str = Field(default="stored", sa_type=sa.String(10))
    seq: int
    created_at: datetime = Field(sa_type=UTCDateTime)


class Event(SQLModel, table=True):
    """The per-conversation event log: what the chatbot sees, in order, never rewritten."""

    __tablename__ = "events"

    conversation_id: str = Field(
        foreign_key="conversations.id", primary_key=True, sa_type=sa.String(40)
    )
    seq: int = Field(
        primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False}
    )
    at: datetime = Field(sa_type=UTCDateTime)
    action: str = Field(sa_type=sa.String(40))
    data: str = Field(sa_type=sa.Text)


class ProviderEvent(SQLModel, table=True):
    """Event ids an adapter passed to the context: a replayed or echoed event is a no-op."""

    __tablename__ = "provider_events"

    instance: str = Field(primary_key=True, sa_type=sa.String(40))
    event_id: str = Field(primary_key=True, sa_type=sa.String(200))
    conversation_id: str = Field(foreign_key="conversations.id", index=True, sa_type=sa.String(40))
    created_at: datetime = Field(sa_type=UTCDateTime)


class ProviderLink(SQLModel, table=True):
    """A platform's own id for a conversation (``context.link``), per provider instance."""

    __tablename__ = "provider_links"

    instance: str = Field(primary_key=True, sa_type=sa.String(40))
    platform_id: str = Field(primary_key=True, sa_type=sa.String(200))
    conversation_id: str = Field(foreign_key="conversations.id", index=True, sa_type=sa.String(40))
    created_at: datetime = Field(sa_type=UTCDateTime)


class ProviderValue(SQLModel, table=True):
    """An adapter's own small key-value store (``context.store``), per provider instance."""

    __tablename__ = "provider_values"

    instance: str = Field(primary_key=True, sa_type=sa.String(40))
    key: str = Field(primary_key=True, sa_type=sa.String(200))
    value: Any = Field(default=None, sa_type=sa.JSON)
    expires_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class IdempotencyKey(SQLModel, table=True):
    """An escalation's ``Idempotency-Key``: a replay returns the same conversation."""

    __tablename__ = "idempotency_keys"

    bot_id: str = Field(foreign_key="bots.id", primary_key=True, sa_type=sa.String(40))
    key: str = Field(primary_key=True, sa_type=sa.String(200))
    request_hash: str = Field(sa_type=sa.String(64))
    conversation_id: str = Field(foreign_key="conversations.id", sa_type=sa.String(40))
    created_at: datetime = Field(sa_type=UTCDateTime)


class Outbox(SQLModel, table=True):
    """Work for the outside world, written in the same transaction as the change behind it.

    ``target`` names who receives it (``provider:<instance>``, ``callback:<bot>``,
    ``chatlayer:<integration>``); rows of one (target, conversation) lane are delivered
    in ``id`` order.
    """

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_lane", "target", "conversation_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, sa_type=sa.String(40))
    target: str = Field(sa_type=sa.String(60))
    conversation_id: str | None = Field(
        default=None, foreign_key="conversations.id", sa_type=sa.String(40)
    )
    kind: str = Field(sa_type=sa.String(20))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default="pending", index=True, sa_type=sa.String(10))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AgentAccount(SQLModel, table=True):
    """A person who answers chats in the dashboard (the desk provider's agents)."""

    __tablename__ = "agents"

    id: str = Field(primary_key=True, sa_type=sa.String(40))
    email: str = Field(unique=True, sa_type=sa.String(320))
    display_name: str = Field(sa_type=sa.String(200))
    avatar_url: str | None = Field(default=None, sa_type=sa.String(2000))
    password_hash: str = Field(sa_type=sa.String(200))
    role: str = Field(default="agent", sa_type=sa.String(10))
    max_chats: int = Field(default=3)
    skills: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    languages: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    presence: str = Field(default="offline", sa_type=sa.String(10))
    last_seen_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class AgentSession(SQLModel, table=True):
    """A signed-in dashboard session; only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "agent_sessions"

    token_hash: str = Field(primary_key=True, sa_type=sa.String(64))
    agent_id: str = Field(foreign_key="agents.id", index=True, sa_type=sa.String(40))
    csrf_token: str = Field(sa_type=sa.String(64))
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per account and per address, to slow guessing down."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, sa_type=sa.String(400))
    failures: int = Field(default=0)
    last_failure_at: datetime = Field(sa_type=UTCDateTime)
    blocked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeskEntry(SQLModel, table=True):
    """A conversation waiting at a desk instance, maybe offered to one agent."""

    __tablename__ = "desk_queue"

    conversation_id: str = Field(
        foreign_key="conversations.id", primary_key=True, sa_type=sa.String(40)
    )
    instance: str = Field(index=True, sa_type=sa.String(40))
    queue: str = Field(sa_type=sa.String(40))
    language: str | None = Field(default=None, sa_type=sa.String(20))
    skills: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    queued_at: datetime = Field(sa_type=UTCDateTime)
    offered_to: str | None = Field(
        default=None, foreign_key="agents.id", index=True, sa_type=sa.String(40)
    )
    offered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Agents not to offer it to until a moment: {agent id: ISO 8601 UTC}. They let an
    # offer of it expire, or sent it back to the queue.
    passed: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)


class Note(SQLModel, table=True):
    """An agent's internal note on a conversation; the user never sees it."""

    __tablename__ = "notes"

    id: str = Field(primary_key=True, sa_type=sa.String(40))
    conversation_id: str = Field(foreign_key="conversations.id", index=True, sa_type=sa.String(40))
    agent_id: str = Field(foreign_key="agents.id", sa_type=sa.String(40))
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


class CannedResponse(SQLModel, table=True):
    """A saved reply agents can insert."""

    __tablename__ = "canned_responses"

    id: str = Field(primary_key=True, sa_type=sa.String(40))
    title: str = Field(sa_type=sa.String(200))
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


def table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a model, for the hot path's bulk statements."""
    # SQLModel sets __table__ on a table model when the class is made; its stubs omit it.
    return model.__table__  # type: ignore[attr-defined,no-any-return]


class ChatlayerSession(SQLModel, table=True):
    """A Chatlayer session an integration has heard of: where its agent replies go (the
    Chatlayer bot and version), and when it was last active (the history's purge)."""

    __tablename__ = "chatlayer_sessions"

    integration: str = Field(primary_key=True, sa_type=sa.String(40))
    session_id: str = Field(primary_key=True, sa_type=sa.String(200))
    chatlayer_bot_id: str = Field(sa_type=sa.String(100))
    version: str = Field(sa_type=sa.String(10))
    channel: str | None = Field(default=None, sa_type=sa.String(100))
    updated_at: datetime = Field(index=True, sa_type=UTCDateTime)


class ChatlayerMessage(SQLModel, table=True):
    """One message of a Chatlayer session's bot-side history (user and bot, as Chatlayer
    sent it), kept to become the transcript of an offload; the last few per session."""

    __tablename__ = "chatlayer_messages"
    __table_args__ = (
        sa.UniqueConstraint("integration", "session_id", "key", name="uq_chatlayer_messages_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    integration: str = Field(sa_type=sa.String(40))
    session_id: str = Field(sa_type=sa.String(200))
    # Chatlayer's message id, or a hash of the message: a replayed event adds nothing.
    key: str = Field(sa_type=sa.String(64))
    actor: str = Field(sa_type=sa.String(10))
    message: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    sent_at: str | None = Field(default=None, sa_type=sa.String(64))
    received_at: datetime = Field(sa_type=UTCDateTime)


# The models are built without validation where the database already typed the values
# (``model_construct``); their attributes work only once SQLAlchemy's mappers are set up.
orm.configure_mappers()

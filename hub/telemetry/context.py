"""What a log line is about: the request, conversation, bot and provider instance ids.

The request middleware (:mod:`hub.telemetry.requests`) starts every request with a fresh
context holding its request id; code that learns an id binds it (the v1 auth binds the
bot and the conversation it resolved). Every log line written in that task, and in the
tasks it starts, carries them (:mod:`hub.telemetry.logs`). Outside a request (the
journal, the scheduler) code can bind ids for a stretch with :func:`log_context`.

Each request runs in its own asyncio task, so ids bound in one never reach another.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token

# The names of the ids, as they appear in log lines.
REQUEST_ID = "request_id"
CONVERSATION_ID = "conversation_id"
BOT_ID = "bot_id"
PROVIDER = "provider"
AGENT_ID = "agent_id"

_EMPTY: Mapping[str, str] = {}
_ids: ContextVar[Mapping[str, str]] = ContextVar("offload_hub_log_ids", default=_EMPTY)


def current_ids() -> Mapping[str, str]:
    """The ids known here (read-only)."""
    return _ids.get()


def bind(
    *,
    conversation: str | None = None,
    bot: str | None = None,
    provider: str | None = None,
    agent: str | None = None,
) -> None:
    """Add ids to the current context (the rest of the request or task); None adds nothing."""
    given = {
        CONVERSATION_ID: conversation,
        BOT_ID: bot,
        PROVIDER: provider,
        AGENT_ID: agent,
    }
    new = {name: value for name, value in given.items() if value is not None}
    if new:
        _ids.set({**_ids.get(), **new})


def start(request_id: str) -> Token[Mapping[str, str]]:
    """A fresh context for one request; :func:`finish` puts the previous one back."""
    return _ids.set({REQUEST_ID: request_id})


def finish(token: Token[Mapping[str, str]]) -> None:
    _ids.reset(token)


@contextmanager
def log_context(
    *,
    conversation: str | None = None,
    bot: str | None = None,
    provider: str | None = None,
    agent: str | None = None,
) -> Iterator[None]:
    """Bind ids for the ``with`` block only."""
    token = _ids.set(_ids.get())
    try:
        bind(conversation=conversation, bot=bot, provider=provider, agent=agent)
        yield
    finally:
        _ids.reset(token)

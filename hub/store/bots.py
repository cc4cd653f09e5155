"""Bots: registration, lookup by key, and the bots declared in the config file.

The functions that write take the connection of a journal unit (:mod:`hub.agents.bots` runs them).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.ids import new_id
from hub.models import Bot, table
from hub.security.keys import hash_secret, new_bot_secret
from hub.settings import BotSettings
from hub.writer import WriteConnection

BOTS = table(Bot)


# Built once: a statement made per call costs SQLAlchemy its cache key every time.
_BY_ID = sa.select(BOTS).where(BOTS.c.id == sa.bindparam("id"))
_BY_SECRET = sa.select(BOTS).where(BOTS.c.secret_hash == sa.bindparam("hash"))


def _bot(row: sa.Row[Any]) -> Bot:
    # The values are already Python's (SQLAlchemy's types read them): built, not validated.
    return Bot.model_construct(**row._mapping)


async def get_bot(bot_id: str, *, conn: AsyncConnection | WriteConnection) -> Bot | None:
    row = (await conn.execute(_BY_ID, {"id": bot_id})).first()
    return None if row is None else _bot(row)


async def bot_by_secret(secret: str, *, conn: AsyncConnection) -> Bot | None:
    row = (await conn.execute(_BY_SECRET, {"hash": hash_secret(secret)})).first()
    return None if row is None else _bot(row)


async def list_bots(*, conn: AsyncConnection) -> list[Bot]:
    rows = await conn.execute(sa.select(BOTS).order_by(BOTS.c.created_at, BOTS.c.id))
    return [_bot(row) for row in rows]


async def create_bot(
    name: str,
    *,
    conn: WriteConnection,
    clock: Clock,
    allowed_origins: list[str] | None = None,
    bot_id: str | None = None,
) -> tuple[Bot, str]:
    """Register a bot; returns it and its secret key (shown once, stored only as a hash)."""
    secret = new_bot_secret()
    row = {
        "id": bot_id or new_id("bot"),
        "name": name,
        "secret_hash": hash_secret(secret),
        "allowed_origins": list(allowed_origins or []),
        "source": "cli",
        "disabled": False,
        "created_at": clock.now(),
    }
    await conn.execute(sa.insert(BOTS).values(**row))
    return Bot.model_validate(row), secret


async def sync_config_bots(
    bots: Mapping[str, BotSettings], *, conn: WriteConnection, clock: Clock
) -> None:
    """Make the bots declared in the config file exist as declared (by id)."""
    for bot_id, declared in bots.items():
        values = {
            "name": declared.name,
            "allowed_origins": list(declared.allowed_origins),
            "source": "config",
            "callback_url": declared.callback_url,
            "callback_secret": (
                declared.callback_secret.get_secret_value()
                if declared.callback_secret is not None
                else None
            ),
        }
        if declared.secret is not None:
            values["secret_hash"] = hash_secret(declared.secret.get_secret_value())
        existing = await get_bot(bot_id, conn=conn)
        if existing is None:
            values.setdefault("secret_hash", hash_secret(new_bot_secret()))
            await conn.execute(
                sa.insert(BOTS).values(id=bot_id, disabled=False, created_at=clock.now(), **values)
            )
        else:
            await conn.execute(sa.update(BOTS).where(BOTS.c.id == bot_id).values(**values))


async def rotate_secret(bot_id: str, *, conn: WriteConnection) -> str:
    """A new secret key for a bot; the old one stops working at once. Shown once."""
    secret = new_bot_secret()
    result = await conn.execute(
        sa.update(BOTS).where(BOTS.c.id == bot_id).values(secret_hash=hash_secret(secret))
    )
    if result.rowcount == 0:
        raise LookupError(f"bot {bot_id!r} does not exist")
    return secret


async def set_bot_disabled(bot_id: str, disabled: bool, *, conn: WriteConnection) -> None:
    result = await conn.execute(
        sa.update(BOTS).where(BOTS.c.id == bot_id).values(disabled=disabled)
    )
    if result.rowcount == 0:
        raise LookupError(f"bot {bot_id!r} does not exist")


async def set_callback(bot_id: str, url: str | None, *, conn: WriteConnection) -> str | None:
    """Point a bot's envelopes at ``url`` (None stops them); returns the new signing secret
    (shown once: the receiver needs it to check ``Hub-Signature``)."""
    secret = None if url is None else secrets.token_urlsafe(32)
    result = await conn.execute(
        sa.update(BOTS).where(BOTS.c.id == bot_id).values(callback_url=url, callback_secret=secret)
    )
    if result.rowcount == 0:
        raise LookupError(f"bot {bot_id!r} does not exist")
    return secret

"""Running Alembic from the hub (``offload-hub db upgrade``, ``serve``, the tests), and
checking a database without changing it (the CLI's read-only commands)."""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from hub.db import create_oneshot_engine


class DatabaseNotReady(Exception):
    """The database is missing, unreachable, or not at this hub's schema; the message is
    one line an operator can act on."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("hub") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (blocking; runs its own event loop)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, url, revision)


def shown_url(url: str) -> str:
    """The URL as it may be printed: without its password."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


async def _current_heads(url: str) -> set[str]:
    engine = create_oneshot_engine(url)
    try:
        async with engine.connect() as conn:
            heads = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
    finally:
        await engine.dispose()
    return set(heads)


async def check_schema(url: str) -> None:
    """Raise :class:`DatabaseNotReady` unless the database at ``url`` exists and is at this
    hub's newest migration. Creates nothing (a missing SQLite file stays missing)."""
    where = shown_url(url)
    upgrade_hint = "run  offload-hub db upgrade  (or start  offload-hub serve)"
    path = _sqlite_file(url)
    if path is not None and not path.is_file():
        raise DatabaseNotReady(f"no database at {path.resolve()}: {upgrade_hint} to create it")
    try:
        current = await _current_heads(url)
    except Exception as exc:  # unreachable server, wrong credentials, not a database
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseNotReady(f"cannot open the database at {where}: {detail}") from None
    scripts = ScriptDirectory.from_config(alembic_config(url))
    heads = set(scripts.get_heads())
    if current == heads:
        return
    if not current:
        raise DatabaseNotReady(f"the database at {where} has no offload-hub tables: {upgrade_hint}")
    known = {revision.revision for revision in scripts.walk_revisions()}
    if current - known:
        raise DatabaseNotReady(
            f"the database at {where} is at revision {', '.join(sorted(current))}, which this "
            f"offload-hub does not know (a newer version migrated it)"
        )
    raise DatabaseNotReady(
        f"the database at {where} is at revision {', '.join(sorted(current))}; this "
        f"offload-hub needs {', '.join(sorted(heads))}: {upgrade_hint}"
    )

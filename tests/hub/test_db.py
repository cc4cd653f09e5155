"""The read pool on PostgreSQL: more concurrent reads than connections wait for one of the
pool's instead of connecting anew, and nothing holds a read connection while it waits for
anything but that connection (so waiting for one cannot deadlock); a connection left idle
is pinged before use, one given back a moment ago is not."""

from __future__ import annotations

import ast
import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from hub import keys
from hub.db import Database, create_database, database_unavailable
from hub.telemetry.logs import log_handler
from tests.conftest import ONE_LIVE_PROVIDER

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub", "dashboard", "providers", "offload_hub")
READS = (".read()", ".lookup()", "reader.connect()")


async def test_more_concurrent_reads_than_connections_reuse_the_pool(postgres_url: str) -> None:
    database = create_database(postgres_url, pool_size=3)
    connects: list[object] = []
    event.listen(database.reader.sync_engine, "connect", lambda conn, record: connects.append(conn))
    in_flight = most = 0

    async def read(n: int) -> int:
        nonlocal in_flight, most
        async with database.lookup() as conn:
            in_flight += 1
            most = max(most, in_flight)
            row = (await conn.execute(sa.select(sa.literal(n), sa.func.pg_sleep(0.005)))).one()
            in_flight -= 1
        return int(row[0])

    try:
        async with asyncio.timeout(60):
            for _ in range(5):  # bursts, with the pool idle in between
                assert await asyncio.gather(*(read(n) for n in range(30))) == list(range(30))
                await asyncio.sleep(0.01)
    finally:
        await database.dispose()
    # Before: the pool grew past its size for a burst and closed what it had grown at
    # every return, so each burst connected again.
    assert most == 3
    assert len(connects) == 3


async def backend(database: Database) -> int:
    async with database.lookup() as conn:
        return int(await conn.scalar(sa.select(sa.func.pg_backend_pid())))


async def terminate(url: str, pid: int) -> None:
    """What a server restart or a proxy's idle timeout does to one connection."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(sa.select(sa.func.pg_terminate_backend(pid))) is True
    finally:
        await engine.dispose()


async def test_a_connection_left_idle_is_pinged_and_a_dead_one_replaced(postgres_url: str) -> None:
    database = create_database(postgres_url, pool_size=1, ping_after=0.05)
    try:
        first = await backend(database)
        await terminate(postgres_url, first)
        await asyncio.sleep(0.1)
        assert await backend(database) != first  # no error: the ping found it dead
    finally:
        await database.dispose()


async def test_a_connection_lost_in_use_fails_the_one_read_that_finds_it(
    postgres_url: str,
) -> None:
    # Given back a moment ago, a connection is used without a ping (a trip to the server
    # saved on every read); if it died in between, that read fails as "unavailable", and
    # the pool replaces it.
    database = create_database(postgres_url, pool_size=1, ping_after=60)
    try:
        first = await backend(database)
        await terminate(postgres_url, first)
        with pytest.raises(sa.exc.DBAPIError) as lost:
            await backend(database)
        assert lost.value.connection_invalidated and database_unavailable(lost.value)
        assert await backend(database) != first
    finally:
        await database.dispose()


def _holds_while_waiting(source: str, where: str) -> list[str]:
    """Awaits inside a block that holds a read connection that are not calls on (or
    with) that connection."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.AsyncWith):
            continue
        item = node.items[0]
        if not any(read in ast.unparse(item.context_expr) for read in READS):
            continue
        name = ast.unparse(item.optional_vars) if item.optional_vars else None
        for statement in node.body:
            for inner in ast.walk(statement):
                suspends = isinstance(
                    inner, ast.Yield | ast.YieldFrom | ast.AsyncFor | ast.AsyncWith
                )
                waits = isinstance(inner, ast.Await) and not _uses(inner.value, name)
                if suspends or waits:
                    found.append(f"{where}:{inner.lineno}")
    return found


def _uses(call: Any, name: str | None) -> bool:
    if name is None or not isinstance(call, ast.Call):
        return False
    on_it = isinstance(call.func, ast.Attribute) and ast.unparse(call.func.value) == name
    given = any(ast.unparse(a) == name for a in call.args) or any(
        ast.unparse(k.value) == name for k in call.keywords
    )
    return on_it or given


def test_no_code_holds_a_read_connection_while_it_waits_for_something_else() -> None:
    offenders = [
        where
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts and path != ROOT / "hub" / "db.py"
        for where in _holds_while_waiting(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert offenders == []


def test_the_check_finds_a_block_that_waits_for_something_else() -> None:
    sample = (
        "async def f(database, other):\n"
        "    async with database.read() as conn:\n"
        "        await conn.execute(1)\n"
        "        await get(1, conn=conn)\n"
        "        await other.lookup_something()\n"
        "        async with database.lookup() as again:\n"
        "            pass\n"
    )
    assert _holds_while_waiting(sample, "sample") == ["sample:5", "sample:6"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_api_answers_a_lost_connection_with_503_and_one_log_line(
    hub_factory: Any, database_url: str
) -> None:
    hub = await hub_factory(database_pool_size=1, **ONE_LIVE_PROVIDER)
    cid = (await hub.chatbot.escalate("s-1", expect=201))["conversationId"]
    path = f"/v1/conversations/{cid}"
    stream = io.StringIO()
    handler = log_handler("text", stream)
    logging.getLogger().addHandler(handler)
    try:
        async with asyncio.timeout(30):
            answers: list[int] = []
            # The hub's own jobs read too: one of them may meet the dead connection
            # first, so kill it again until a request has met it.
            while 503 not in answers and len(answers) < 20:
                await terminate(database_url, await backend(hub.app[keys.DATABASE]))
                response = await hub.client.get(path, headers=hub.chatbot.token_headers(cid))
                answers.append(response.status)
                if response.status == 503:
                    assert await response.json() == {
                        "error": {
                            "code": "unavailable",
                            "message": "the database is unavailable; try again",
                        }
                    }
            assert 503 in answers and set(answers) <= {200, 503}
            # The pool replaced the connection: the next request is answered.
            snapshot = await hub.chatbot.call("GET", path, conversation_id=cid)
            assert snapshot["status"] == "queued"
    finally:
        logging.getLogger().removeHandler(handler)
    # One line an operator can act on (the driver's words for the loss vary: "connection
    # is closed", or a protocol state error when the query crossed the server's goodbye).
    lines = stream.getvalue().splitlines()
    logged = [n for n in lines if f"database unavailable while serving GET {path} (" in n]
    assert logged and all("[SQL:" not in n for n in logged)
    assert not any(n.startswith(("Traceback", "[SQL", "(Background")) for n in lines)

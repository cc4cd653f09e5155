"""The read pool on PostgreSQL: more concurrent reads than connections wait for one of the
pool's instead of connecting anew, and nothing holds a read connection while it waits for
anything but that connection (so waiting for one cannot deadlock)."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from hub.db import create_database

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

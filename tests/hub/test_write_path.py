"""One write path: every change goes through a service and the journal.

Handlers and services never open a transaction of their own: the journal groups every
write of the hub (accounts, sessions, notes, canned responses, bots, adapters' values)
with the rest, and a unit that fails with an expected error (an email already taken)
fails alone, its caller seeing that error.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub import keys
from hub.errors import Conflict, Invalid, NotFound
from hub.journal import Journal, Scope
from hub.models import CannedResponse, table
from hub.settings import BotSettings
from hub.store.meta import META, token_key

ROOT = Path(__file__).resolve().parents[2]
# The writer is the one place that opens write transactions (the journal's own); the
# migrations change the schema, not the application's data.
WRITER = "hub/writer.py"
MIGRATIONS = "hub/migrations/"
PASSWORD = "correct horse battery staple"


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for package in ("hub", "dashboard", "providers", "offload_hub"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name == WRITER or name.startswith(MIGRATIONS):
                continue
            yield name, ast.parse(path.read_text(), name)


def _transactions(module: ast.Module) -> Iterator[tuple[int, str]]:
    """Where a module opens or ends a transaction itself, or writes through an engine."""
    for node in ast.walk(module):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in {"begin", "commit", "rollback"}:
            yield node.lineno, f".{node.attr}"
        # `database.writer.begin()`, `database.writer.connect()`: the writer engine used
        # for anything but handing it to the journal's writer.
        if isinstance(node.value, ast.Attribute) and node.value.attr == "writer":
            owner = node.value.value
            if not (isinstance(owner, ast.Name) and owner.id == "self"):
                yield node.lineno, f".writer.{node.attr}"


def test_no_module_opens_a_write_transaction_of_its_own():
    found = [
        f"{name}:{line}: {what}"
        for name, module in _modules()
        for line, what in _transactions(module)
    ]
    assert found == [], "writes outside the journal:\n" + "\n".join(found)


def test_the_check_sees_a_raw_write():
    raw = ast.parse(
        "async def f(hub):\n"
        "    async with hub[keys.DATABASE].writer.begin() as conn:\n"
        "        await conn.execute(statement)\n"
    )
    assert [what for _, what in _transactions(raw)] == [".begin", ".writer.begin"]


class _Queued:
    """Counts the units submitted to a journal (to know when all of a test's are waiting)."""

    def __init__(self, journal: Journal, monkeypatch: pytest.MonkeyPatch, expected: int) -> None:
        self.count = 0
        self.expected = expected
        self.all = asyncio.Event()
        submit = journal.submit

        def counting(work: Any, **options: Any) -> asyncio.Future[Any]:
            future = submit(work, **options)
            self.count += 1
            if self.count >= self.expected:
                self.all.set()
            return future

        monkeypatch.setattr(journal, "submit", counting)


async def _hold(journal: Journal) -> tuple[asyncio.Event, asyncio.Future[None]]:
    """A unit that keeps the journal in its batch until the event is set: what is submitted
    meanwhile waits, and is written as the next batch, together."""
    started, gate = asyncio.Event(), asyncio.Event()

    async def hold(scope: Scope) -> None:
        started.set()
        await gate.wait()

    held = journal.submit(hold)
    await asyncio.wait_for(started.wait(), 10)
    return gate, held


async def test_a_taken_email_fails_alone_in_a_shared_batch(hub, monkeypatch):
    app = hub.app
    journal = app[keys.JOURNAL]
    accounts = app[keys.AGENTS]
    gate, held = await _hold(journal)
    queued = _Queued(journal, monkeypatch, expected=3)
    calls = asyncio.gather(
        accounts.create("twin@example.com", "One", PASSWORD),
        accounts.create("Twin@Example.com", "Two", PASSWORD),
        app[keys.CANNED].add("Greeting", "Hello, how can I help?"),
        return_exceptions=True,
    )
    await asyncio.wait_for(queued.all.wait(), 30)
    gate.set()
    await held
    first, second, canned = await calls
    outcomes = [first, second]
    errors = [r for r in outcomes if isinstance(r, Exception)]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], Conflict) and errors[0].code == "email_taken"
    created = next(r for r in outcomes if not isinstance(r, Exception))
    assert created.email == "twin@example.com"
    assert [a.email for a in await accounts.all()].count("twin@example.com") == 1
    assert isinstance(canned, CannedResponse)
    async with app[keys.DATABASE].read() as conn:
        titles = list(await conn.scalars(sa.select(table(CannedResponse).c.title)))
    assert titles == ["Greeting"]


async def test_account_changes_are_journal_units(hub):
    accounts = hub.app[keys.AGENTS]
    journal = hub.app[keys.JOURNAL]
    units = journal.units
    agent = await accounts.create("ana@example.com", "Ana", PASSWORD)
    signed = await accounts.sign_in("ana@example.com", PASSWORD, address="203.0.113.9")
    assert (await accounts.session(signed.token)) is not None
    await accounts.seen(agent.id)
    disabled = await accounts.set_disabled(agent.id, True)
    assert disabled.disabled and disabled.presence == "offline"
    assert (await accounts.session(signed.token)) is None  # its sessions ended with it
    with pytest.raises(NotFound):
        await accounts.set_presence("ag_nobody", "online")
    assert journal.units >= units + 5


async def test_bot_changes_keep_their_rules(hub):
    bots = hub.app[keys.BOT_REGISTRY]
    await bots.sync_config({"declared": BotSettings(name="Declared bot")})
    with pytest.raises(Invalid) as refused:
        await bots.rotate_secret("declared")
    assert refused.value.code == "config_bot"
    with pytest.raises(NotFound):
        await bots.rotate_secret("bot_nobody")
    with pytest.raises(NotFound):
        await bots.set_disabled("bot_nobody", True)
    new = await bots.create("Shop bot", allowed_origins=["https://shop.example"])
    rotated = await bots.rotate_secret(new.bot.id)
    assert rotated.secret != new.secret
    read = await hub.app[keys.BOTS].by_id(new.bot.id)
    assert read is not None and not read.disabled
    await bots.set_disabled(new.bot.id, True)
    # The bot directory forgot what it had read: the change is seen at once.
    seen = await hub.app[keys.BOTS].by_id(new.bot.id)
    assert seen is not None and seen.disabled
    assert {bot.id for bot in await bots.all()} >= {"declared", new.bot.id}


async def test_deleting_a_canned_response_that_is_gone(hub):
    canned = hub.app[keys.CANNED]
    added = await canned.add("Bye", "Have a nice day")
    await canned.delete(added.id)
    with pytest.raises(NotFound):
        await canned.delete(added.id)
    assert await canned.all() == []


async def test_an_adapters_writes_in_one_batch_see_each_other(hub, monkeypatch):
    journal = hub.app[keys.JOURNAL]
    context = hub.provider("live").context
    cid = (await hub.chatbot.escalate())["conversationId"]
    other = (await hub.chatbot.escalate("session-2"))["conversationId"]
    gate, held = await _hold(journal)
    queued = _Queued(journal, monkeypatch, expected=5)
    calls = asyncio.gather(
        context.store.add("lock", 1),
        context.store.add("lock", 2),
        context.link(cid, "platform-chat"),
        context.link(cid, "platform-chat"),
        context.link(other, "platform-chat"),
        return_exceptions=True,
    )
    await asyncio.wait_for(queued.all.wait(), 30)
    gate.set()
    await held
    first, second, linked, again, taken = await calls
    assert (first, second) == (True, False)
    assert await context.store.get("lock") == 1
    assert (linked, again) == (None, None)
    assert isinstance(taken, ValueError) and "another conversation" in str(taken)
    assert await context.lookup("platform-chat") == cid


async def test_the_token_key_is_made_once(hub):
    journal = hub.app[keys.JOURNAL]

    async def forget(scope: Scope) -> None:
        await scope.conn.execute(sa.delete(META))

    await journal.run(forget)
    made = await asyncio.gather(*(token_key(journal) for _ in range(3)))
    assert len(set(made)) == 1 and len(made[0]) == 32
    assert await token_key(journal) == made[0]

"""The journal: writes from many requests share a transaction, yet each fails alone.

The bad writes here are units the database itself refuses (a row pointing at nothing, a
string SQLite cannot encode): the edge refuses such input long before, so these tests put
them in the journal directly, beside real requests through the v1 API.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
import sqlalchemy as sa

from hub import keys
from hub.db import create_database
from hub.journal import Journal, Scope
from hub.models import Message, table
from tests.conftest import ONE_LIVE_PROVIDER

MESSAGES = table(Message)

# These tests send a conversation's messages in bursts far past a chatbot's pace: its
# per-conversation rate limit (tests/hub/test_rate_limits.py) is off here.
NO_CONVERSATION_LIMIT = {"rate_limits": {"per_conversation": {"per_second": 0, "burst": 1}}}


@pytest.fixture
async def hub(hub_factory):
    return await hub_factory(**ONE_LIVE_PROVIDER, **NO_CONVERSATION_LIMIT)


def _orphan_message(text: str = "nobody's") -> object:
    """A unit that stages a message for a conversation that does not exist."""

    async def unit(scope: Scope) -> None:
        scope.insert(
            Message,
            {
                "id": "m_orphan",
                "conversation_id": "c_does_not_exist",
                "author": "user",
                "client_id": "orphan",
                "source_event_id": None,
                "body": text,
                "media_id": None,
                "agent_id": None,
                "agent_name": None,
                "status": "stored",
                "seq": 1,
                "created_at": scope.now,
            },
        )

    return unit


async def _stored_bodies(hub) -> list[str]:
    async with hub.app[keys.DATABASE].read() as conn:
        return list(await conn.scalars(sa.select(MESSAGES.c.body).order_by(MESSAGES.c.seq)))


@pytest.mark.parametrize("rounds", [3])
async def test_valid_writes_beside_a_refused_one_all_commit(hub, rounds):
    chatbot = hub.chatbot
    journal: Journal = hub.app[keys.JOURNAL]
    answer = await chatbot.escalate("session-b", expect=201)
    cid = answer["conversationId"]
    batches_before = journal.batches
    sent = []
    for round_ in range(rounds):
        texts = [f"round {round_} message {i}" for i in range(25)]
        sent += texts
        results = await asyncio.gather(
            journal.run(_orphan_message()),
            *(chatbot.send(cid, f"r{round_}-{i}", text) for i, text in enumerate(texts)),
            return_exceptions=True,
        )
        refused, *answers = results
        assert isinstance(refused, Exception), "the database took a row pointing at nothing"
        assert all(isinstance(a, dict) and a["externalId"] for a in answers), answers
    # Everything valid is stored once, in order; the refused unit left nothing behind.
    assert sorted(await _stored_bodies(hub)) == sorted(sent)
    assert journal.batches > batches_before
    events = await chatbot.events(cid)
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_a_string_the_database_cannot_encode_fails_only_its_own_unit(hub):
    chatbot = hub.chatbot
    journal: Journal = hub.app[keys.JOURNAL]
    cid = (await chatbot.escalate("session-c", expect=201))["conversationId"]
    bad = "\ud800" if hub.app[keys.DATABASE].is_sqlite else "a\x00b"
    results = await asyncio.gather(
        journal.run(_orphan_message(bad)),
        *(chatbot.send(cid, f"c{i}", f"fine {i}") for i in range(20)),
        return_exceptions=True,
    )
    assert isinstance(results[0], Exception)
    assert all(isinstance(r, dict) for r in results[1:]), results[1:]
    assert sorted(await _stored_bodies(hub)) == sorted(f"fine {i}" for i in range(20))


async def test_a_crashed_writer_fails_its_batch_and_starts_again(hub, monkeypatch, caplog):
    journal: Journal = hub.app[keys.JOURNAL]
    real = Journal._process
    crashes = []

    async def crash_once(self: Journal, jobs: list) -> None:
        if not crashes:
            crashes.append(len(jobs))
            raise RuntimeError("a bug in the journal")
        await real(self, jobs)

    monkeypatch.setattr(Journal, "_process", crash_once)

    async def noop(scope: Scope) -> str:
        return "done"

    with pytest.raises(RuntimeError, match="a bug in the journal"):
        await asyncio.wait_for(journal.run(noop), 5)
    # The writer is back: later writes go through.
    assert await asyncio.wait_for(journal.run(noop), 5) == "done"
    cid = (await hub.chatbot.escalate("session-d", expect=201))["conversationId"]
    await hub.chatbot.send(cid, "after-crash", "still here")
    assert "still here" in await _stored_bodies(hub)
    assert journal.restarts == 1
    assert "journal's writer failed and restarts" in caplog.text


async def test_the_wal_is_checkpointed_after_commits_and_left_alone_when_idle(tmp_path):
    """The scheduler's checkpoint moves committed pages into the database file, and asks
    SQLite nothing more while nobody writes (an idle hub does no work every second)."""
    path = tmp_path / "hub.db"
    database = create_database(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path)  # a writer of its own, as the journal is
    try:
        other.execute("PRAGMA journal_mode=WAL")
        other.execute("PRAGMA wal_autocheckpoint=0")
        other.execute("CREATE TABLE t (x TEXT)")
        other.commit()
        assert database.lookups is not None
        assert database.lookups.written_since()  # the first time
        assert not database.lookups.written_since()  # nobody wrote since

        other.executemany("INSERT INTO t VALUES (?)", [("x" * 100,)] * 2000)
        other.commit()
        before = path.stat().st_size
        await database.checkpoint()
        assert path.stat().st_size >= before + 200_000  # the rows are in the file now
        assert not database.lookups.written_since()  # the checkpoint took that commit in
    finally:
        other.close()
        await database.dispose()

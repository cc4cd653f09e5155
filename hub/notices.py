"""Notices between hub processes: "conversation X has new events", and the dashboards' live
updates.

With one process (SQLite) there is nothing to tell. With several (PostgreSQL), each process
keeps one subscriber connection: to Redis (pub/sub) when ``redis_url`` is set, otherwise to
PostgreSQL itself (LISTEN/NOTIFY). A notice carries the new heads of the conversations a
batch wrote and, when they are small enough, the envelopes themselves, so the streams of
another process usually send them without reading the database.

Nothing depends on a notice arriving: a stream that hears of a head past its mark reads
the log from the database by seq (:class:`Fetcher`, one query for many conversations), and
when the subscriber connection comes back after a break every stream of the process is
caught up that way, so a Redis restart loses nothing. While the connection is down, the
bus's heads are not trusted (a resuming stream reads the database instead).

Notices a process sent itself come back to it and are ignored (each carries its origin).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from hub.agents.live import LiveChannel, LiveEvent
from hub.eventbus import Envelope, EventBus
from hub.streams import LogReader

log = logging.getLogger(__name__)

EVENTS = "events"
LIVE = "live"
# Envelopes ride along with their notice up to this many bytes (PostgreSQL's NOTIFY takes
# under 8,000 bytes a payload; Redis takes far more).
REDIS_PAYLOAD = 512 * 1024
POSTGRES_PAYLOAD = 7_800
BACKOFF = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

Receive = Callable[[str, str], None]


class Transport(Protocol):
    """One way to carry notices between processes."""

    max_payload: int

    async def run(self, receive: Receive, connected: Callable[[bool], None]) -> None:
        """Subscribe and hand every payload to ``receive(kind, payload)``, forever;
        reconnect with backoff, calling ``connected(False)`` on a break and
        ``connected(True)`` once subscribed again."""
        ...

    async def publish(self, kind: str, payloads: list[str]) -> None: ...

    async def close(self) -> None: ...


class Fetcher:
    """Catches this process's streams up from the database, for many conversations at once."""

    def __init__(self, reader: LogReader, bus: EventBus) -> None:
        self.reader = reader
        self.bus = bus
        self._wanted: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def request(self, conversation_ids: list[str]) -> None:
        self._wanted.update(conversation_ids)
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="notice-fetch")

    async def _drain(self) -> None:
        try:
            while self._wanted:
                wanted, self._wanted = self._wanted, set()
                await asyncio.gather(*(self._catch_up(cid) for cid in wanted))
        finally:
            self._task = None

    async def _catch_up(self, conversation_id: str) -> None:
        while True:
            floor = self.bus.floor(conversation_id)
            if floor is None:
                return  # nobody here watches it any more
            try:
                page, complete = await self.reader.read(conversation_id, floor)
            except Exception as exc:
                log.warning("could not read the log of %s: %s", conversation_id, exc)
                return
            if page:
                self.bus.deliver(page)
            if complete:
                return


class Notices:
    """This process's side of the notices: what it commits goes out, what others commit
    comes in."""

    def __init__(
        self, transport: Transport, bus: EventBus, live: LiveChannel, fetcher: Fetcher
    ) -> None:
        self.transport = transport
        self.bus = bus
        self.live = live
        self.fetcher = fetcher
        self.origin = secrets.token_hex(8)
        self._heads: dict[str, int] = {}
        self._envelopes: list[Envelope] = []
        self._live: list[tuple[str, LiveEvent]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.sent = 0
        self.received = 0
        self.connected = False

    # -- out ------------------------------------------------------------------------------

    def events_committed(self, envelopes: list[Envelope]) -> None:
        heads = self._heads
        for envelope in envelopes:
            heads[envelope.conversation_id] = envelope.seq
        self._envelopes.extend(envelopes)
        self._wake.set()

    def live_event(self, audience: str, event: LiveEvent) -> None:
        self._live.append((audience, event))
        self._wake.set()

    def _payloads(self) -> tuple[list[str], list[str]]:
        """What is waiting to go, as payloads within the transport's size."""
        limit = self.transport.max_payload
        events: list[str] = []
        heads, self._heads = self._heads, {}
        envelopes, self._envelopes = self._envelopes, []
        if heads:
            carried = [[e.conversation_id, e.seq, e.wire] for e in envelopes]
            whole = json.dumps({"o": self.origin, "h": heads, "e": carried})
            if len(whole) <= limit:
                events.append(whole)
            else:  # heads only, in as many notices as it takes
                items = list(heads.items())
                step = max(1, limit // 64)
                for start in range(0, len(items), step):
                    part = dict(items[start : start + step])
                    events.append(json.dumps({"o": self.origin, "h": part}))
        live: list[str] = []
        pending, self._live = self._live, []
        for audience, event in pending:
            text = json.dumps({"o": self.origin, "a": audience, "v": event})
            if len(text) <= limit:
                live.append(text)
            else:
                log.warning(
                    "a live update for %s is too large to share: %d bytes", audience, len(text)
                )
        return events, live

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            events, live = self._payloads()
            try:
                if events:
                    await self.transport.publish(EVENTS, events)
                if live:
                    await self.transport.publish(LIVE, live)
                self.sent += len(events) + len(live)
            except Exception as exc:
                # The other processes catch up from the database when their subscriber
                # connection comes back; nothing is lost by dropping these.
                log.warning(
                    "notices not sent (%d): %s: %s",
                    len(events) + len(live),
                    type(exc).__name__,
                    exc,
                )

    # -- in -------------------------------------------------------------------------------

    def receive(self, kind: str, payload: str) -> None:
        try:
            notice = json.loads(payload)
        except ValueError:
            log.warning("ignoring a malformed %s notice", kind)
            return
        if notice.get("o") == self.origin:
            return
        self.received += 1
        if kind == LIVE:
            self.live.deliver(notice["a"], notice["v"])
            return
        bus = self.bus
        carried: dict[str, list[Envelope]] = {}
        for cid, seq, wire in notice.get("e", ()):
            carried.setdefault(cid, []).append(Envelope.from_wire(cid, seq, wire))
        behind = []
        for cid, head in notice["h"].items():
            floor = bus.floor(cid)
            envelopes = carried.get(cid)
            if floor is not None and envelopes:
                bus.deliver(envelopes)  # the streams read the database for any hole
            elif floor is not None and floor < head:
                behind.append(cid)
            bus.advance(cid, head)
        if behind:
            self.fetcher.request(behind)

    def _connected(self, connected: bool) -> None:
        self.connected = connected
        self.bus.heads_trusted = connected
        if connected:
            # Notices may have been missed while the connection was down.
            self.bus.forget_heads()
            self.fetcher.request(self.bus.watched())

    # -- life -----------------------------------------------------------------------------

    async def start(self) -> None:
        self.bus.heads_trusted = False
        self.bus.forward = self.events_committed
        self.live.forward = self.live_event
        self._tasks = [
            asyncio.create_task(
                self.transport.run(self.receive, self._connected), name="notices-in"
            ),
            asyncio.create_task(self._send_forever(), name="notices-out"),
        ]

    async def stop(self) -> None:
        # What this process committed last still goes out before it leaves.
        with contextlib.suppress(Exception):
            events, live = self._payloads()
            if events:
                await asyncio.wait_for(self.transport.publish(EVENTS, events), 2)
            if live:
                await asyncio.wait_for(self.transport.publish(LIVE, live), 2)
        self.bus.forward = None
        self.live.forward = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.transport.close()


async def with_backoff(
    attempt: Callable[[], Awaitable[None]], name: str, connected: Callable[[bool], None]
) -> None:
    """Run ``attempt`` (which returns or raises when its connection breaks) again and
    again, waiting longer after each failure in a row, and say when it is down."""
    failures = 0
    while True:
        try:
            await attempt()
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if failures == 0:
                log.warning("%s subscriber connection lost: %s: %s", name, type(exc).__name__, exc)
            failures += 1
        connected(False)
        await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])


# -- Redis ------------------------------------------------------------------------------------


class RedisTransport:
    """Redis pub/sub: one subscriber connection and one client for publishing."""

    max_payload = REDIS_PAYLOAD

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as redis

        self._redis = redis
        self.url = url
        self.channels = {EVENTS: f"{prefix}:events", LIVE: f"{prefix}:live"}
        self._kinds = {channel: kind for kind, channel in self.channels.items()}
        self._publisher = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)

    async def run(self, receive: Receive, connected: Callable[[bool], None]) -> None:
        async def attempt() -> None:
            client = self._redis.Redis.from_url(
                self.url, socket_connect_timeout=2, health_check_interval=10
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self.channels.values())
                log.info("notices: subscribed to Redis at %s", _safe(self.url))
                connected(True)
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is None or message.get("type") != "message":
                        continue
                    channel = message["channel"].decode()
                    data = message["data"]
                    receive(
                        self._kinds[channel], data.decode() if isinstance(data, bytes) else data
                    )
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

        await with_backoff(attempt, "Redis", connected)

    async def publish(self, kind: str, payloads: list[str]) -> None:
        channel = self.channels[kind]
        async with self._publisher.pipeline(transaction=False) as pipe:
            for payload in payloads:
                pipe.publish(channel, payload)
            await pipe.execute()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._publisher.aclose()


# -- PostgreSQL -------------------------------------------------------------------------------


class PostgresTransport:
    """PostgreSQL's LISTEN/NOTIFY, on one connection of its own (kept for listening)."""

    max_payload = POSTGRES_PAYLOAD

    def __init__(self, dsn: str, prefix: str) -> None:
        self.dsn = dsn
        self.channels = {EVENTS: f"{prefix}_events", LIVE: f"{prefix}_live"}
        self._kinds = {channel: kind for kind, channel in self.channels.items()}
        self._connection: Any = None

    async def run(self, receive: Receive, connected: Callable[[bool], None]) -> None:
        import asyncpg

        async def attempt() -> None:
            connection = await asyncpg.connect(self.dsn, timeout=5)
            lost = asyncio.get_running_loop().create_future()

            def on_notify(_conn: Any, _pid: int, channel: str, payload: str) -> None:
                receive(self._kinds[channel], payload)

            def on_lost(_conn: Any) -> None:
                if not lost.done():
                    lost.set_exception(ConnectionError("the listening connection closed"))

            try:
                connection.add_termination_listener(on_lost)
                for channel in self.channels.values():
                    await connection.add_listener(channel, on_notify)
                self._connection = connection
                log.info("notices: listening on PostgreSQL")
                connected(True)
                while True:  # a dead connection that never said so is found by a ping
                    done, _ = await asyncio.wait([lost], timeout=15)
                    if done:
                        lost.result()
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), 5)
            finally:
                self._connection = None
                connection.remove_termination_listener(on_lost)
                if lost.done() and not lost.cancelled():
                    lost.exception()  # retrieved: the break is already being handled
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)

        await with_backoff(attempt, "PostgreSQL", connected)

    async def publish(self, kind: str, payloads: list[str]) -> None:
        connection = self._connection
        if connection is None:
            raise ConnectionError("not connected to PostgreSQL")
        channel = self.channels[kind]
        await connection.executemany("SELECT pg_notify($1, $2)", [(channel, p) for p in payloads])

    async def close(self) -> None:
        pass


def _safe(url: str) -> str:
    """A URL for the logs, without its password."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"

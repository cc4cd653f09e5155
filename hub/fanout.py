"""Envelopes to WebSocket streams, written by one sender for the whole process.

A chatbot's WebSocket stream has one task of its own, the request handler, which reads
the socket (a close, the heartbeat's pongs) and sends the stream's backlog when it opens.
Live envelopes are not sent by that task: the bus pushes them into the stream's
:class:`SocketStream`, which tells the :class:`Fanout`, and the fan-out's one task writes
them to every stream that has something new. A batch of envelopes for many conversations
wakes one task, not one per stream, and an idle stream holds no task, no generator and no
future of its own beyond its handler.

Writes almost never wait (the socket's buffer has room). A stream whose client reads so
slowly that more than :data:`MAX_BUFFERED` bytes wait in its buffer would hold everyone
else up: it is closed with 1013 ("try again later") and its chatbot resumes with
``?after=`` from what it has. A hole in a stream's seqs (an envelope another process
committed arrived before the one before it) is filled from the database by a task of
that stream alone, while the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import WSCloseCode, web

from hub.eventbus import Envelope, Subscription
from hub.streams import LogReader
from hub.telemetry.metrics import HubMetrics

log = logging.getLogger(__name__)

MAX_BUFFERED = 1024 * 1024


class SocketStream(Subscription):
    """A WebSocket stream's subscription: what arrives goes to the fan-out."""

    __slots__ = ("fanout", "live", "transport", "ws")

    def __init__(self, conversation_id: str, ws: web.WebSocketResponse, fanout: Fanout) -> None:
        super().__init__(conversation_id)
        self.ws = ws
        self.fanout = fanout
        self.transport: Any = None
        # False while the handler sends the backlog (or a task fills a hole): the fan-out
        # leaves the stream alone until then.
        self.live = False

    def _wake(self) -> None:
        if self.live:
            self.fanout.ready(self)

    def take(self) -> list[Envelope]:
        pending, self._pending = self._pending, []
        return pending

    def go_live(self) -> None:
        self.live = True
        if self._pending:
            self.fanout.ready(self)

    def close(self, code: int) -> None:
        super().close(code)
        # The handler's read loop ends when the socket closes.
        going_away = code == WSCloseCode.GOING_AWAY
        message = b"hub going away: reconnect with ?after=" if going_away else b""
        self.fanout.spawn(self.ws.close(code=code, message=message))


class Fanout:
    """The process's one writer of live envelopes to WebSocket streams."""

    def __init__(self, reader: LogReader, metrics: HubMetrics | None = None) -> None:
        self.reader = reader
        self.metrics = metrics
        self._ready: dict[SocketStream, None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def ready(self, stream: SocketStream) -> None:
        self._ready[stream] = None
        self._wake.set()

    def spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._send_forever(), name="fanout")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            ready, self._ready = self._ready, {}
            for stream in ready:
                if stream.live and not stream.closed:
                    try:
                        await self._send(stream)
                    except (ConnectionResetError, RuntimeError):
                        stream.closed = True  # the client went away; its handler ends

    async def _send(self, stream: SocketStream) -> None:
        mark = stream.mark
        fresh = [envelope for envelope in stream.take() if envelope.seq > mark]
        if not fresh:
            return
        if fresh[0].seq != mark + 1 or fresh[-1].seq - fresh[0].seq + 1 != len(fresh):
            stream.live = False
            self.spawn(self._fill(stream, fresh[-1].seq))
            return
        transport = stream.transport
        if transport is not None and transport.get_write_buffer_size() > MAX_BUFFERED:
            log.info("stream of %s closed: its client reads too slowly", stream.conversation_id)
            stream.close(WSCloseCode.TRY_AGAIN_LATER)
            return
        ws = stream.ws
        for envelope in fresh:
            await ws.send_str(envelope.wire)
        stream.mark = fresh[-1].seq
        committed = fresh[-1].committed_at
        if self.metrics is not None and committed is not None:
            self.metrics.relay_latency(
                time.monotonic() - committed, count=len(fresh), transport="websocket"
            )

    async def _fill(self, stream: SocketStream, until: int) -> None:
        """The hole before ``until``, from the database, then live again."""
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            while stream.mark < until and not stream.closed:
                page, _ = await self.reader.read(stream.conversation_id, stream.mark)
                if not page:
                    break
                for envelope in page:
                    await stream.ws.send_str(envelope.wire)
                stream.mark = page[-1].seq
            stream.go_live()

"""A reconnect storm: thousands of chatbot streams resume at once after a hub restart.

Every stream is open and up to date when the hub is stopped (SIGTERM: each stream gets
"going away"). Its chatbot reconnects again and again until the new process answers.
Half resume from the seq they last saw; the other half from two envelopes earlier (a
page that kept an older mark), so the hub must read those backlogs. The figure is the
time from the new process answering its health check until every stream has resumed and
received what it asked for; the checks count what was lost or came twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.hub import Conversation, HubUnderTest
from bench.procs import wait_ready


@dataclass
class _Chatbot:
    conversation: Conversation
    url: str
    seqs: list[int] = field(default_factory=list)  # every envelope, as received
    rewind: int = 0
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    lost: int = 0  # a connection skipped past a seq it owed
    repeated: int = 0  # a connection sent a seq at or below where it was asked to start
    _owed: int = 0  # envelopes the resumed stream still owes this chatbot

    async def follow(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Keep the stream open as a chatbot does. Each connection asks for what follows
        ``after`` (the last seq seen, or a little earlier when ``rewind``) and must send
        exactly the seqs after it, in order and once: what it skips is lost, what it sends
        again is repeated. Envelopes written after the restart (the hub's own clocks keep
        running) are new seqs, neither."""
        first = True
        while not stop.is_set():
            after = self.seqs[-1] if self.seqs else 0
            if not first:
                after = max(0, after - self.rewind)
                self._owed = (self.seqs[-1] if self.seqs else 0) - after
            try:
                async with session.ws_connect(f"{self.url}&after={after}", max_msg_size=0) as ws:
                    if not first and self._owed == 0:
                        self.resumed.set()
                    self.ready.set()
                    expected = after + 1
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            break
                        seq = json.loads(frame.data)["seq"]
                        if seq < expected:
                            self.repeated += 1
                        else:
                            self.lost += seq - expected
                            expected = seq + 1
                        self.seqs.append(seq)
                        if not first:
                            self._owed -= 1
                            if self._owed <= 0:
                                self.resumed.set()
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.02 + random.random() * 0.05)
                continue
            first = False


async def storm(
    hub: HubUnderTest, conversations: list[Conversation], *, timeout: float = 60.0
) -> dict[str, Any]:
    bots = [_Chatbot(c, hub.stream_url(c).rsplit("&after=", 1)[0]) for c in conversations]
    for index, bot in enumerate(bots):
        bot.rewind = 2 if index % 2 else 0
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(bot.follow(session, stop)) for bot in bots]
        await asyncio.wait_for(asyncio.gather(*(bot.ready.wait() for bot in bots)), timeout)
        await asyncio.sleep(1.0)  # every stream has its backlog
        hub.server.stop()
        hub.server.restart()
        await wait_ready(hub.server, "/readyz", timeout=60)
        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(bot.resumed.wait() for bot in bots)), timeout)
        took = time.perf_counter() - started
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    lost = sum(bot.lost for bot in bots)
    repeated = sum(bot.repeated for bot in bots)
    return {
        "streams": len(bots),
        "resumedWithBacklog": sum(1 for bot in bots if bot.rewind),
        "secondsToAllResumed": round(took, 3),
        "checks": {"lost": lost, "repeated": repeated},
        "correct": lost == 0 and repeated == 0,
    }

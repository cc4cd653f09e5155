"""The chatbot side of a relay: streams that record what arrives, and check it.

A :class:`Tally` is shared by every stream of a run. Each message the load client sends
carries its own id (``m<n>``) in its text; the tally records when it was sent and when it
arrived, and checks, per conversation, that every message arrives once and in the order
it was sent, and that the stream's seqs have no gaps.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp


def message_text(n: int) -> str:
    return f"m{n} hello from the agent side"


def message_number(text: str) -> int:
    return int(text[1 : text.index(" ")])


@dataclass
class Tally:
    sent_at: dict[int, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    arrivals: int = 0
    repeated: int = 0
    out_of_order: int = 0
    seq_gaps: int = 0
    # per conversation: the last message number and seq seen
    _last: dict[str, tuple[int, int]] = field(default_factory=dict)
    _seen: set[int] = field(default_factory=set)
    expected: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def sent(self, n: int) -> None:
        self.sent_at[n] = time.perf_counter()

    def arrived(self, conversation: str, seq: int, n: int, *, check_seq: bool = True) -> None:
        now = time.perf_counter()
        if n not in self.sent_at:  # not this run's (a backlog of an earlier one)
            self.mark(conversation, seq)
            return
        if n in self._seen:
            self.repeated += 1
            return
        self._seen.add(n)
        self.arrivals += 1
        sent = self.sent_at.get(n)
        if sent is not None:
            self.latencies.append(now - sent)
        last = self._last.get(conversation)
        if last is not None:
            if n < last[0]:
                self.out_of_order += 1
            if check_seq and seq != last[1] + 1:
                self.seq_gaps += 1
        self._last[conversation] = (n, seq)
        if self.arrivals >= self.expected > 0:
            self.done.set()

    def mark(self, conversation: str, seq: int) -> None:
        """A non-message envelope (the agent joining, say) also takes a seq."""
        last = self._last.get(conversation)
        if last is not None:
            self._last[conversation] = (last[0], seq)
        else:
            self._last[conversation] = (-1, seq)

    def reset(self, expected: int) -> None:
        """Start counting afresh (after a warm-up); seqs carry on per conversation."""
        self.sent_at.clear()
        self.latencies.clear()
        self._seen.clear()
        self.arrivals = self.repeated = self.out_of_order = self.seq_gaps = 0
        self.expected = expected
        self.done = asyncio.Event()

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.arrivals)

    def correct(self) -> bool:
        return not (self.lost or self.repeated or self.out_of_order or self.seq_gaps)

    def checks(self) -> dict[str, int]:
        return {
            "lost": self.lost,
            "repeated": self.repeated,
            "outOfOrder": self.out_of_order,
            "seqGaps": self.seq_gaps,
        }


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def follow_ws(
    session: aiohttp.ClientSession,
    url: str,
    conversation: str,
    tally: Tally,
    ready: Callable[[], None],
    *,
    check_seq: bool = True,
) -> None:
    """A chatbot on a WebSocket stream of envelopes (the hub's or a bare baseline's)."""
    async with session.ws_connect(url, autoping=True, max_msg_size=0) as ws:
        ready()
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            envelope = json.loads(frame.data)
            record(envelope, conversation, tally, check_seq=check_seq)


def record(envelope: dict[str, Any], conversation: str, tally: Tally, *, check_seq: bool) -> None:
    data = envelope.get("data") or {}
    message = data.get("message") if envelope.get("action") == "displayChatbotMessage" else None
    if isinstance(message, str) and message.startswith("m") and " " in message:
        tally.arrived(conversation, envelope["seq"], message_number(message), check_seq=check_seq)
    else:
        tally.mark(conversation, envelope["seq"])

"""In-process fan-out of committed envelopes to the streams that watch a conversation.

The journal publishes here after every commit; envelopes another hub process committed
arrive through :mod:`hub.notices` and are delivered here too. A stream subscribes before
it reads the backlog from the database, so nothing falls between the two; envelopes it has
already sent (``seq`` at or below its mark) are dropped, and a gap is filled from the
database by the stream itself (:mod:`hub.streams`).

The bus also knows each conversation's *head*, the last seq committed as far as this
process has heard, so a stream that reconnects already up to date costs no database
read. Heads are only trusted while the process hears everything (no notice transport, or
one that is connected): see :attr:`EventBus.heads_trusted`.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson

from hub.clock import iso

T = TypeVar("T")
S = TypeVar("S", bound="Subscription")


class Envelope:
    """One committed event, with its wire form built once for every transport."""

    __slots__ = ("_wire", "action", "at", "committed_at", "conversation_id", "data_json", "seq")

    @classmethod
    def from_wire(cls, conversation_id: str, seq: int, wire: str) -> Envelope:
        """An envelope as another process sent it: its wire text is kept as it is."""
        envelope = cls.__new__(cls)
        envelope.conversation_id = conversation_id
        envelope.seq = seq
        envelope._wire = wire
        # Only the wire text is known: the parts are None (as_dict() reads the wire instead).
        envelope.at = envelope.action = envelope.data_json = None  # type: ignore[assignment]
        envelope.committed_at = time.monotonic()  # heard of now
        return envelope

    def __init__(
        self, conversation_id: str, seq: int, at: datetime | str, action: str, data_json: str
    ) -> None:
        self.conversation_id = conversation_id
        self.seq = seq
        self.at = at if isinstance(at, str) else iso(at)
        self.action = action
        self.data_json = data_json
        self._wire: str | None = None
        # When this process committed it (time.monotonic()); None when read back from the
        # database (a backlog), which the relay latency does not count.
        self.committed_at: float | None = None

    @property
    def wire(self) -> str:
        """The JSON text sent to chatbots (ids and action names need no escaping)."""
        if self._wire is None:
            self._wire = (
                f'{{"seq":{self.seq},"conversationId":"{self.conversation_id}",'
                f'"at":"{self.at}","action":"{self.action}","data":{self.data_json}}}'
            )
        return self._wire

    def as_dict(self) -> dict[str, Any]:
        if self.action is None:
            return orjson.loads(self.wire)
        return {
            "seq": self.seq,
            "conversationId": self.conversation_id,
            "at": self.at,
            "action": self.action,
            "data": orjson.loads(self.data_json),
        }

    def __repr__(self) -> str:
        return f"Envelope({self.conversation_id}#{self.seq} {self.action})"


class Mailbox(Generic[T]):
    """What one listener has not taken yet, and a way to wait for more."""

    __slots__ = ("_pending", "_waiter", "close_code", "closed")

    def __init__(self) -> None:
        self._pending: list[T] = []
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.close_code: int | None = None

    def push(self, item: T) -> None:
        self._pending.append(item)
        self._wake()

    def close(self, code: int) -> None:
        self.closed = True
        self.close_code = code
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, seconds: float | None = None) -> list[T]:
        """What arrived since the last call; waits for something (or closing, or timeout)."""
        if not self._pending and not self.closed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                if seconds is None:
                    await self._waiter
                else:
                    await asyncio.wait_for(self._waiter, seconds)
            except TimeoutError:
                pass
            finally:
                self._waiter = None
        pending, self._pending = self._pending, []
        return pending


class Subscription(Mailbox[Envelope]):
    """A stream's mailbox for one conversation; ``mark`` is the last seq it has sent."""

    __slots__ = ("conversation_id", "mark")

    def __init__(self, conversation_id: str) -> None:
        super().__init__()
        self.conversation_id = conversation_id
        self.mark = 0


class EventBus:
    # Heads kept at most: past this, the oldest half is forgotten (a forgotten head only
    # costs a reconnecting stream one read).
    MAX_HEADS = 200_000

    def __init__(self) -> None:
        self._subscriptions: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._heads: dict[str, int] = {}
        # False while notices from other processes may be missed (their transport is down).
        self.heads_trusted = True
        # Called with what this process committed, for the other processes (hub.notices).
        self.forward: Callable[[list[Envelope]], None] | None = None

    def subscribe(self, conversation_id: str) -> Subscription:
        return self.add(Subscription(conversation_id))

    def add(self, subscription: S) -> S:
        """Start delivering to ``subscription`` (a stream's own kind of subscription)."""
        self._subscriptions[subscription.conversation_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscriptions.get(subscription.conversation_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscriptions[subscription.conversation_id]

    def publish(self, envelopes: list[Envelope]) -> None:
        """What this process committed: to its own streams, and on to the others."""
        self.deliver(envelopes)
        if self.forward is not None:
            self.forward(envelopes)

    def deliver(self, envelopes: list[Envelope]) -> None:
        """Committed envelopes, to this process's streams only."""
        subscriptions = self._subscriptions
        for envelope in envelopes:
            self.advance(envelope.conversation_id, envelope.seq)
            subscribers = subscriptions.get(envelope.conversation_id)
            if subscribers:
                for subscription in subscribers:
                    subscription.push(envelope)

    # -- heads ---------------------------------------------------------------------------

    def advance(self, conversation_id: str, seq: int) -> None:
        """The conversation's log has reached ``seq`` (committed here or elsewhere)."""
        heads = self._heads
        if seq > heads.get(conversation_id, 0):
            if len(heads) >= self.MAX_HEADS and conversation_id not in heads:
                for key in list(heads)[: self.MAX_HEADS // 2]:
                    del heads[key]
            heads[conversation_id] = seq

    def seed(self, heads: dict[str, int]) -> None:
        """Heads read from the database (at start, or after notices may have been missed)."""
        for conversation_id, seq in heads.items():
            self.advance(conversation_id, seq)

    def forget_heads(self) -> None:
        self._heads.clear()

    def knows(self, conversation_id: str) -> bool:
        """This process has heard of the conversation's log (it exists)."""
        return conversation_id in self._heads

    def up_to_date(self, conversation_id: str, after: int) -> bool:
        """True when nothing after ``after`` can be in the log: no need to read it."""
        return self.heads_trusted and self._heads.get(conversation_id, -1) == after

    def floor(self, conversation_id: str) -> int | None:
        """The lowest mark among this process's streams of the conversation (None: none)."""
        subscribers = self._subscriptions.get(conversation_id)
        if not subscribers:
            return None
        return min(subscription.mark for subscription in subscribers)

    # -- the streams -----------------------------------------------------------------------

    def watched(self) -> list[str]:
        return list(self._subscriptions)

    def watching(self, conversation_id: str) -> int:
        return len(self._subscriptions.get(conversation_id, ()))

    @property
    def stream_count(self) -> int:
        return sum(len(subscribers) for subscribers in self._subscriptions.values())

    def close_all(self, code: int) -> None:
        for subscribers in list(self._subscriptions.values()):
            for subscription in list(subscribers):
                subscription.close(code)

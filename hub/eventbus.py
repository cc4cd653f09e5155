"""In-process fan-out of committed envelopes to the streams that watch a conversation.

The journal publishes here after every commit. A stream subscribes before it reads the
backlog from the database, so nothing falls between the two; envelopes it has already
sent (``seq`` at or below its mark) are dropped, and a gap (an envelope written by another
hub process) is filled from the database by the stream itself (:mod:`hub.streams`).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import datetime
from typing import Any, Generic, TypeVar

from hub.clock import iso

T = TypeVar("T")


class Envelope:
    """One committed event, with its wire form built once for every transport."""

    __slots__ = ("_wire", "action", "at", "conversation_id", "data_json", "seq")

    def __init__(
        self, conversation_id: str, seq: int, at: datetime | str, action: str, data_json: str
    ) -> None:
        self.conversation_id = conversation_id
        self.seq = seq
        self.at = at if isinstance(at, str) else iso(at)
        self.action = action
        self.data_json = data_json
        self._wire: str | None = None

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
        return {
            "seq": self.seq,
            "conversationId": self.conversation_id,
            "at": self.at,
            "action": self.action,
            "data": json.loads(self.data_json),
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
    """A stream's mailbox for one conversation."""

    __slots__ = ("conversation_id",)

    def __init__(self, conversation_id: str) -> None:
        super().__init__()
        self.conversation_id = conversation_id


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: defaultdict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, conversation_id: str) -> Subscription:
        subscription = Subscription(conversation_id)
        self._subscriptions[conversation_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscriptions.get(subscription.conversation_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscriptions[subscription.conversation_id]

    def publish(self, envelopes: list[Envelope]) -> None:
        subscriptions = self._subscriptions
        for envelope in envelopes:
            subscribers = subscriptions.get(envelope.conversation_id)
            if subscribers:
                for subscription in subscribers:
                    subscription.push(envelope)

    def watching(self, conversation_id: str) -> int:
        return len(self._subscriptions.get(conversation_id, ()))

    @property
    def stream_count(self) -> int:
        return sum(len(subscribers) for subscribers in self._subscriptions.values())

    def close_all(self, code: int) -> None:
        for subscribers in list(self._subscriptions.values()):
            for subscription in list(subscribers):
                subscription.close(code)

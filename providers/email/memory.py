"""What an email instance remembers between calls, in memory only (bounded).

The ids are derived from the conversation, so the memory is an optimisation and a guard,
not the source of truth: after a restart a reply is still matched to its conversation,
but a repeated ``open``/``deliver`` would be sent again (with the same Message-ID, which
lets the receiving side recognise the duplicate).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from providers.email.compose import Thread

V = TypeVar("V")

DEFAULT_CAPACITY = 10_000


class Bounded(Generic[V]):
    """A mapping that forgets its oldest entries past ``capacity``."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        return self._items.get(key)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def put(self, key: Hashable, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


class KeyedLocks:
    """One lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Memory:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.threads: Bounded[Thread] = Bounded(capacity)  # by conversation id
        self.tickets: Bounded[str] = Bounded(capacity)  # ticket id -> conversation id
        self.sent: Bounded[bool] = Bounded(capacity)  # ("msg", id), ("close", conversation)
        self.locks = KeyedLocks()

    def remember(self, thread: Thread) -> None:
        self.threads.put(thread.conversation_id, thread)
        self.tickets.put(thread.ticket_id, thread.conversation_id)

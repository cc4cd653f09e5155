"""The dashboards' live channel: events for one agent, or for every agent of a desk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from hub.eventbus import Mailbox

LiveEvent = dict[str, Any]
# A control event that ends the listeners of an audience in every process (a sign-out on
# one process closes the dashboards open on the others).
CLOSE = "_close"


class Listener(Mailbox[LiveEvent]):
    __slots__ = ("audiences",)

    def __init__(self, audiences: frozenset[str]) -> None:
        super().__init__()
        self.audiences = audiences


class LiveChannel:
    """Audiences (an agent's id, ``desk:<instance>``) and who listens to each. What this
    process publishes also goes to the other processes (``forward``, set by
    :mod:`hub.notices`); what they publish arrives through :meth:`deliver`."""

    def __init__(self) -> None:
        self._listeners: defaultdict[str, set[Listener]] = defaultdict(set)
        self.forward: Callable[[str, LiveEvent], None] | None = None

    def listen(self, audiences: Iterable[str]) -> Listener:
        listener = Listener(frozenset(audiences))
        for audience in listener.audiences:
            self._listeners[audience].add(listener)
        return listener

    def leave(self, listener: Listener) -> None:
        for audience in listener.audiences:
            listeners = self._listeners.get(audience)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[audience]

    def publish(self, audience: str, event: LiveEvent) -> None:
        self.deliver(audience, event)
        if self.forward is not None:
            self.forward(audience, event)

    def deliver(self, audience: str, event: LiveEvent) -> None:
        """To this process's listeners only."""
        if CLOSE in event:
            self._close(audience, int(event[CLOSE]))
            return
        for listener in self._listeners.get(audience, ()):
            listener.push(event)

    def listening(self, audience: str) -> int:
        return len(self._listeners.get(audience, ()))

    def close(self, audience: str, code: int) -> None:
        """End every listener of ``audience``, in every process (their sockets close with
        ``code``)."""
        self._close(audience, code)
        if self.forward is not None:
            self.forward(audience, {CLOSE: code})

    def _close(self, audience: str, code: int) -> None:
        for listener in list(self._listeners.get(audience, ())):
            listener.close(code)

    def close_all(self, code: int) -> None:
        for listeners in list(self._listeners.values()):
            for listener in list(listeners):
                listener.close(code)

"""What an adapter leaves behind after ``stop()``: tasks still running, HTTP sessions or
connectors still open."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from contextvars import Context, ContextVar
from typing import Any
from unittest import mock

import aiohttp

_WATCHING: ContextVar[Leftovers | None] = ContextVar("providers_testing_leftovers", default=None)


class Leftovers:
    """Watch an adapter from before ``start()`` to after ``stop()``.

    Inside ``watching()``, every task created from the watched code (the adapter's calls,
    and the tasks they start, however deep) is noted, and so is every
    ``aiohttp.ClientSession`` and connector created. Tasks that other code creates
    meanwhile (a test server answering the adapter, say) are not the adapter's and are not
    noted. ``remaining()`` then lists what is still there: a noted task that has not
    finished (one that was cancelled but not awaited gets ``grace`` seconds to finish),
    a session or connector not closed.
    """

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []
        self.sessions: list[aiohttp.ClientSession] = []
        self.connectors: list[aiohttp.BaseConnector] = []

    @contextlib.contextmanager
    def watching(self) -> Iterator[Leftovers]:
        loop = asyncio.get_running_loop()
        previous_factory = loop.get_task_factory()
        session_init = aiohttp.ClientSession.__init__
        connector_init = aiohttp.BaseConnector.__init__
        sessions, connectors, tasks = self.sessions, self.connectors, self.tasks

        def task_factory(
            loop: asyncio.AbstractEventLoop,
            coro: Coroutine[Any, Any, Any],
            context: Context | None = None,
        ) -> asyncio.Task[Any]:
            if previous_factory is not None:
                # typeshed's task factory takes no context and makes a Future; asyncio's
                # passes a context since 3.11 and every factory makes a Task.
                made = (
                    previous_factory(loop, coro)
                    if context is None
                    else previous_factory(loop, coro, context=context)  # type: ignore[call-arg]
                )
                task: asyncio.Task[Any] = made  # type: ignore[assignment]
            else:
                task = asyncio.Task(coro, loop=loop, context=context)
            watcher = context.get(_WATCHING) if context is not None else _WATCHING.get()
            if watcher is self:
                tasks.append(task)
            return task

        def new_session(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
            sessions.append(session)
            session_init(session, *args, **kwargs)

        def new_connector(connector: aiohttp.BaseConnector, *args: Any, **kwargs: Any) -> None:
            connectors.append(connector)
            connector_init(connector, *args, **kwargs)

        token = _WATCHING.set(self)
        # typeshed's factory type has no context parameter (asyncio passes one since 3.11).
        loop.set_task_factory(task_factory)  # type: ignore[arg-type]
        try:
            with (
                mock.patch.object(aiohttp.ClientSession, "__init__", new_session),
                mock.patch.object(aiohttp.BaseConnector, "__init__", new_connector),
            ):
                yield self
        finally:
            loop.set_task_factory(previous_factory)
            _WATCHING.reset(token)

    async def remaining(self, grace: float = 1.0, *, let_finish: bool = False) -> list[str]:
        """What is left, described for an assertion message ([] when nothing is).

        With ``let_finish``, every noted task gets ``grace`` seconds to end by itself
        (work started by a call after ``stop()`` may finish; it must not run on)."""
        await asyncio.sleep(0)  # a task cancelled just now sees its cancellation
        waiting = [
            task for task in self.tasks if not task.done() and (let_finish or task.cancelling())
        ]
        if waiting:
            await asyncio.wait(waiting, timeout=grace)
        found = [f"task still running: {describe(task)}" for task in self.tasks if not task.done()]
        found += [
            "aiohttp.ClientSession left open (close it in stop(), or use context.http)"
            for session in self.sessions
            if not session.closed
        ]
        found += [
            f"{type(connector).__name__} left open"
            for connector in self.connectors
            if not connector.closed
        ]
        return found


def describe(task: asyncio.Task[Any]) -> str:
    coroutine = task.get_coro()
    code = getattr(coroutine, "cr_code", None) or getattr(coroutine, "gi_code", None)
    where = f" ({code.co_qualname} in {code.co_filename}:{code.co_firstlineno})" if code else ""
    return f"{task.get_name()}{where}"

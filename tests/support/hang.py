"""A watchdog for the suite (a pytest plugin, loaded by tests/conftest.py).

Every test bounds its own run, but a task that survives its cancellation hangs the
event loop's tear-down, after the test's own bound, and then the whole run waits until CI
kills it with nothing in the log but the test's "F". So each test, its set-up and
tear-down included, runs under a timer: past ``OFFLOAD_HUB_TEST_HANG_SECONDS`` (600 by
default, far above any test's own bound) the failures so far are printed in full, then
the pending asyncio tasks with their stacks and every thread's, and the run stops with
exit status 3."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import linecache
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import pytest

LIMIT_ENV = "OFFLOAD_HUB_TEST_HANG_SECONDS"
DEFAULT_LIMIT_SECONDS = 600.0
EXIT_STATUS = 3


def report(name: str, seconds: float, out: TextIO) -> None:
    """What is still running: the pending tasks (from any thread), then every thread."""
    print(f"\n{name} still running after {seconds:g} s; its pending tasks:", file=out)
    pending = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
    for task in pending:
        print(f"--- {task!r}", file=out)
        for frame in _awaiting(task.get_coro()):
            code = frame.f_code
            print(
                f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}', file=out
            )
            if line := linecache.getline(code.co_filename, frame.f_lineno).strip():
                print(f"    {line}", file=out)
    print("--- every thread:", file=out, flush=True)
    faulthandler.dump_traceback(file=out)
    out.flush()


def failures(config: pytest.Config, out: TextIO) -> None:
    """The run's failures so far, in full: pytest would print them only at its end."""
    reporter = config.pluginmanager.getplugin("terminalreporter")
    for failed in reporter.stats.get("failed", []) if reporter is not None else []:
        print(f"\n--- FAILED {failed.nodeid} ({failed.when})\n{failed.longreprtext}", file=out)


def _awaiting(coroutine: Any) -> Iterator[Any]:
    """The frames of a task's coroutine and of what it awaits, down to where it waits
    (``Task.print_stack`` shows only the outermost)."""
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "ag_frame", None)
        if frame is None:
            frame = getattr(coroutine, "gi_frame", None)
        if frame is not None:
            yield frame
        coroutine = (
            getattr(coroutine, "cr_await", None)
            or getattr(coroutine, "ag_await", None)
            or getattr(coroutine, "gi_yieldfrom", None)
        )


@contextmanager
def watchdog(config: pytest.Config, name: str, seconds: float) -> Iterator[None]:
    def fire() -> None:
        # pytest holds the output while a test runs: give the terminal back first (the
        # test's thread is stuck, so nothing else touches it).
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.suspend_global_capture(in_=False)
        failures(config, sys.stderr)
        report(name, seconds, sys.stderr)
        os._exit(EXIT_STATUS)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
    seconds = float(os.environ.get(LIMIT_ENV, DEFAULT_LIMIT_SECONDS))
    with watchdog(item.config, item.nodeid, seconds):
        yield

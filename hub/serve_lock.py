"""One serving process per SQLite file.

SQLite is the embedded, single-process database: two hub processes on one file would
each believe their own streams hear every write, and they do not (there is no notice
transport between them). The first process to serve a file holds an exclusive lock on
``<file>.serve-lock``; a second one is refused with a message that says what to do.
The lock is the operating system's, so it goes away with the process, even after kill -9.

Several apps of one process (the test suite starts two hubs side by side) share it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import sqlalchemy as sa

from hub.settings import ConfigError

_held: dict[Path, tuple[int, int]] = {}  # lock file -> (descriptor, apps holding it)


def lock_path(database_url: str) -> Path | None:
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve().with_name(Path(url.database).name + ".serve-lock")


def acquire(database_url: str) -> Path | None:
    """Take the file's serving lock (or join this process's hold on it)."""
    path = lock_path(database_url)
    if path is None:
        return None
    if path in _held:
        descriptor, count = _held[path]
        _held[path] = (descriptor, count + 1)
        return path
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode(errors="replace").strip() or "another process"
        os.close(descriptor)
        database = path.with_name(path.name.removesuffix(".serve-lock"))
        raise ConfigError(
            f"the SQLite database {database} is already served by offload-hub (pid {holder}); "
            "SQLite takes one hub process: stop that one, or use PostgreSQL "
            "(and Redis) to run several"
        ) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, str(os.getpid()).encode())
    _held[path] = (descriptor, 1)
    return path


def release(path: Path | None) -> None:
    if path is None or path not in _held:
        return
    descriptor, count = _held[path]
    if count > 1:
        _held[path] = (descriptor, count - 1)
        return
    del _held[path]
    os.close(descriptor)  # closing the descriptor releases the lock

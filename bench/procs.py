"""Server processes under test: started pinned to their own core, measured from outside.

Every figure the suite reports about a server comes from the operating system's view of
its process (CPU seconds of all its threads, resident memory), never from the server
itself, so the hub and the baselines are measured the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
CORES = os.cpu_count() or 1
# With two cores or more the server gets core 0 and the load client the others, so the
# client's own work never steals the server's core.
SERVER_CORE = 0
CLIENT_CORES = tuple(range(1, CORES)) if CORES > 1 else (0,)


def pin_client() -> None:
    """Pin the calling (load client) process away from the server's core."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, CLIENT_CORES)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process: where it listens, and its CPU and memory as the OS counts them."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    _ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self._ps = psutil.Process(self.process.pid)

    def restart(self) -> subprocess.Popen[bytes]:
        """Start the same command again (after :meth:`stop`), on the same port."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        self._ps = psutil.Process(self.process.pid)
        return self.process

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        times = self._ps.cpu_times()
        return float(times.user + times.system)

    def rss_bytes(self) -> int:
        return int(self._ps.memory_info().rss)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    log_dir: Path,
    env: dict[str, str] | None = None,
    core: int | None = SERVER_CORE,
) -> Server:
    """Start ``argv`` (a Python module and its arguments) pinned to ``core``."""
    log_path = log_dir / f"{name}.log"
    command = [sys.executable, *argv]
    if core is not None and CORES > 1:
        command = ["taskset", "-c", str(core), *command]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment
        )
    return Server(name, port, process, log_path, command, environment)


async def wait_ready(server: Server, path: str = "/healthz", timeout: float = 30.0) -> None:
    """Wait until ``path`` answers 200 (the process printing is not enough)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(server.base + path) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer {path} within {timeout}s")


async def settle_cpu(server: Any, *, quiet: float = 0.05, within: float = 5.0) -> None:
    """Wait until the server is idle (background work after a phase is not billed to the
    next one): two reads ``quiet`` seconds apart with no CPU used between them."""
    deadline = time.monotonic() + within
    last = server.cpu_seconds()
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet)
        now = server.cpu_seconds()
        if now - last < 0.002:
            return
        last = now

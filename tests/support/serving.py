"""A hub run as its own process, as an operator runs it: ``offload-hub serve --port 0``."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


@asynccontextmanager
async def serving(
    args: list[str], env: dict[str, str], cwd: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``python -m offload_hub ARGS`` on a port the system picks, until the block ends; yields the
    process (its standard error is a pipe, for the logs) and the address from its banner."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "offload_hub",
        *args,
        "--port",
        "0",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = ""
        async with asyncio.timeout(60):
            while (found := re.search(r"listening on (http://\S+)", banner)) is None:
                line = await process.stdout.readline()
                assert line, f"the hub stopped: {banner}"
                banner += line.decode()
        yield process, found.group(1)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)

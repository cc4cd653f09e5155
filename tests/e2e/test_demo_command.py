"""``offload-hub demo`` run as a user runs it: a separate process on a free port, twice on the
same database (the demo bot and agent are made once and brought up to date)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFLOAD_HUB_")}
    env["OFFLOAD_HUB_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def demo(tmp_path: Path, port: int) -> AsyncIterator[str]:
    """``offload-hub demo --port PORT`` until the block ends; yields its banner."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "offload_hub",
        "demo",
        "--port",
        str(port),
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        banner = ""
        while "demo page:" not in banner:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line, f"the demo command stopped: {banner}"
            banner += line.decode()
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        yield banner
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)
    assert process.returncode == 0


async def signs_in(base: str, email: str, password: str) -> bool:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        async with session.get(f"{base}/dashboard/login") as response:
            found = CSRF.search(await response.text())
            assert found
        form = {"csrf_token": found.group(1), "email": email, "password": password}
        async with session.post(
            f"{base}/dashboard/login", data=form, allow_redirects=False
        ) as response:
            return response.status == 303


async def availability_from(base: str, origin: str) -> int:
    headers = {"X-Bot-Id": "demo", "Origin": origin}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/v1/availability", headers=headers) as response,
    ):
        return response.status


def listed(tmp_path: Path, what: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "offload_hub", what, "list", "--json"],
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


async def test_the_demo_command_serves_the_page_with_its_bot_and_agent(tmp_path: Path) -> None:
    async with asyncio.timeout(90):
        first_port = _free_port()
        first = f"http://127.0.0.1:{first_port}"
        async with demo(tmp_path, first_port) as banner:
            assert f"{first}/demo/" in banner
            assert f"{first}/dashboard/" in banner
            email, password = re.search(r"sign in as (\S+)\s+password: (\S+)", banner).groups()  # type: ignore[union-attr]
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{first}/demo") as response:
                    assert response.url.path == "/demo/"
                    page = await response.text()
                    policy = response.headers["Content-Security-Policy"]
                assert 'data-bot-id="demo"' in page
                assert '<script src="/static/offload-hub-adapter.js">' in page
                assert "script-src 'self'" in policy
                for path, marker in (
                    ("/static/offload-hub-adapter.js", "OffloadHub"),
                    ("/demo/static/chatbot.js", "DemoChatbot"),
                    ("/demo/static/demo.js", "escalateToAgent"),
                ):
                    async with session.get(first + path) as response:
                        assert response.status == 200, path
                        assert response.content_type in (
                            "application/javascript",
                            "text/javascript",
                        )
                        assert marker in await response.text()
            assert await signs_in(first, email, password)
            assert await availability_from(first, first) == 200
            assert await availability_from(first, f"http://localhost:{first_port}") == 200
            assert await availability_from(first, "https://elsewhere.example") == 403

        # Again, on another port: the same bot follows the hub's origin; a new password.
        second_port = _free_port()
        second = f"http://127.0.0.1:{second_port}"
        async with demo(tmp_path, second_port) as banner:
            again = re.search(r"password: (\S+)", banner).group(1)  # type: ignore[union-attr]
            assert again != password
            assert await signs_in(second, email, again)
            assert await availability_from(second, second) == 200
            assert await availability_from(second, first) == 403

    bots = listed(tmp_path, "bots")
    assert [bot["id"] for bot in bots] == ["demo"]
    assert bots[0]["allowedOrigins"] == [second, f"http://localhost:{second_port}"]
    agents = listed(tmp_path, "agents")
    assert [agent["email"] for agent in agents] == [email]

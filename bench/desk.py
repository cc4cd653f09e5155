"""A desk agent as a person uses the dashboard: added with the CLI, signed in through the
sign-in form (its CSRF token read off the page), set Online, accepting chats, and sending
messages over the dashboard's live socket."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.procs import ROOT

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">|name="csrf_token" value="([^"]+)"')


def add_agent(config: Path, email: str, max_chats: int) -> str:
    """``offload-hub agents add`` with a generated password; returns the password."""
    command = [sys.executable, "-m", "offload_hub", "--config", str(config), "agents", "add", email]
    done = subprocess.run(
        [*command, "--max-chats", str(max_chats), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(done.stdout)["password"])


def _csrf(page: str) -> str:
    found = CSRF.search(page)
    if found is None:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1) or found.group(2)


@dataclass
class Agent:
    base: str
    session: aiohttp.ClientSession
    csrf: str = ""

    async def sign_in(self, email: str, password: str) -> None:
        async with self.session.get(f"{self.base}/dashboard/login") as page:
            token = _csrf(await page.text())
        async with self.session.post(
            f"{self.base}/dashboard/login",
            data={"csrf_token": token, "email": email, "password": password},
            allow_redirects=False,
        ) as answer:
            if answer.status != 303:
                raise RuntimeError(f"sign-in refused: {answer.status} {await answer.text()}")
        async with self.session.get(f"{self.base}/dashboard/") as inbox:
            self.csrf = _csrf(await inbox.text())

    async def post(self, path: str, payload: dict[str, object]) -> dict[str, object]:
        headers = {"X-CSRF-Token": self.csrf, "Accept": "application/json"}
        async with self.session.post(
            f"{self.base}/dashboard{path}", json=payload, headers=headers
        ) as answer:
            body = await answer.json()
            if answer.status >= 400:
                raise RuntimeError(f"{path}: {answer.status} {body}")
            return body  # type: ignore[no-any-return]

    async def online(self) -> None:
        await self.post("/status", {"presence": "online"})

    async def accept(self, conversation_id: str) -> None:
        await self.post(f"/conversations/{conversation_id}/accept", {})

    def live_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/dashboard/live"

"""Playing agents without a browser: a signed-in HTTP session per agent, and the hub set-up
the dashboard tests share (a desk in one queue)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from yarl import URL

from hub import keys
from hub.agents.presence import set_presence
from tests.support.chatbot import Hub

DESK = {
    "providers": {"desk": {"type": "desk"}},
    "queues": [{"name": "support", "chain": ["desk"]}, {"name": "vip", "chain": ["desk"]}],
}
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def add_agent(
    hub: Hub, name: str, *, online: bool = True, role: str = "agent", **options: Any
) -> str:
    account = await hub.app[keys.AGENTS].create(
        f"{name.lower()}@example.com", name, PASSWORD, role=role, **options
    )
    if online:
        await set_presence(hub.app, account.id, "online")
    return account.id


def csrf_of(page: str) -> str:
    found = CSRF_META.search(page) or CSRF_FIELD.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class AgentSession:
    """One agent's browser, as plain HTTP: its own cookie jar against the test server."""

    client: TestClient
    http: aiohttp.ClientSession
    csrf: str = ""

    def url(self, path: str) -> URL:
        return self.client.make_url(path)

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.http.get(self.url(path), **kwargs)

    async def post(
        self, path: str, *, csrf: bool = True, json: Any = None, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        headers = dict(kwargs.pop("headers", {}))
        if json is not None:
            headers.setdefault("Accept", "application/json")
            if csrf:
                headers.setdefault("X-CSRF-Token", self.csrf)
            return await self.http.post(self.url(path), json=json, headers=headers, **kwargs)
        data = dict(kwargs.pop("data", {}))
        if csrf:
            data.setdefault("csrf_token", self.csrf)
        return await self.http.post(
            self.url(path), data=data, headers=headers, allow_redirects=False, **kwargs
        )

    async def attempt_sign_in(self, email: str, password: str) -> aiohttp.ClientResponse:
        """Fill in the sign-in form as a browser does (its token included) and post it."""
        form = await (await self.get("/dashboard/login")).text()
        return await self.http.post(
            self.url("/dashboard/login"),
            data={"csrf_token": csrf_of(form), "email": email, "password": password},
            allow_redirects=False,
        )

    async def sign_in(
        self, email: str, password: str = PASSWORD, *, expect: int = 303
    ) -> aiohttp.ClientResponse:
        response = await self.attempt_sign_in(email, password)
        assert response.status == expect, (response.status, await response.text())
        if expect == 303:
            inbox = await self.get("/dashboard/")
            assert inbox.status == 200
            self.csrf = csrf_of(await inbox.text())
        return response

    async def close(self) -> None:
        await self.http.close()


async def agent_session(client: TestClient) -> AgentSession:
    return AgentSession(client, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))

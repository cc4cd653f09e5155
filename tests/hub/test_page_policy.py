"""The demo page and the dashboard serve one Content-Security-Policy."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from hub.demo.page import create_demo_page
from hub.security.headers import content_security_policy


async def test_the_demo_page_serves_the_hub_policy() -> None:
    async with TestClient(TestServer(create_demo_page("demo"))) as client:
        response = await client.get("/")
        assert response.status == 200
        policy = response.headers["Content-Security-Policy"]
        assert policy == content_security_policy(client.make_url("/").raw_authority)
    assert "object-src 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy

"""Behind a reverse proxy: only the proxies the operator trusts have their X-Forwarded-For
believed, so sign-in throttling counts each client's own address (not the proxy's, and
not whatever a client claims)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.clock import ManualClock
from hub.security.proxies import client_address, parse_networks
from hub.settings import ConfigError, load_settings
from tests.dashboard.support import DESK, AgentSession, add_agent

TIME_LIMIT = 60
# Wrong passwords from one address before it is slowed down: the next one is refused (429).
BLOCKED_AFTER = 6


@pytest.mark.parametrize(
    ("peer", "headers", "trusted", "client"),
    [
        # No proxy trusted: the header is ignored.
        ("203.0.113.9", ["198.51.100.1"], [], "203.0.113.9"),
        # From a trusted proxy: the entry it added.
        ("10.0.0.2", ["198.51.100.1"], ["10.0.0.0/8"], "198.51.100.1"),
        # A client's own entry on the left is not believed: the proxy's entry is.
        ("10.0.0.2", ["1.2.3.4, 198.51.100.1"], ["10.0.0.0/8"], "198.51.100.1"),
        # Two trusted proxies in a row, two headers: the first untrusted from the right.
        ("10.0.0.2", ["198.51.100.1, 10.0.0.7", "10.0.0.9"], ["10.0.0.0/8"], "198.51.100.1"),
        # From an untrusted peer: whatever the header says.
        ("203.0.113.9", ["198.51.100.1"], ["10.0.0.0/8"], "203.0.113.9"),
        # Ports and IPv6.
        ("::1", ["[2001:db8::5]:443"], ["::1"], "2001:db8::5"),
        ("10.0.0.2", ["198.51.100.1:51234"], ["10.0.0.2"], "198.51.100.1"),
        # Garbage from a trusted proxy: nothing left of it is believed.
        ("10.0.0.2", ["not-an-address"], ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", [], ["10.0.0.0/8"], "10.0.0.2"),
    ],
)
def test_the_client_address(peer, headers, trusted, client):
    assert client_address(peer, headers, parse_networks(trusted)) == client


def test_a_bad_trusted_proxy_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError) as refused:
        load_settings(trusted_proxies=["10.0.0.0/8", "proxy.internal"])
    assert str(refused.value) == (
        "config error: trusted_proxies: 'proxy.internal' is not an IP address or network"
    )


ACCOUNTS = iter(range(1_000_000))


async def failures_from(session: AgentSession, address: str | None, count: int) -> list[int]:
    """``count`` wrong passwords, each for an account never tried before (so only the
    address can be throttled)."""
    statuses = []
    for _ in range(count):
        headers = {} if address is None else {"X-Forwarded-For": address}
        form = await (await session.get("/dashboard/login")).text()
        token = form.split('name="csrf_token" value="')[1].split('"')[0]
        response = await session.http.post(
            session.url("/dashboard/login"),
            data={
                "csrf_token": token,
                "email": f"nobody{next(ACCOUNTS)}@example.com",
                "password": "wrong password",
            },
            headers=headers,
            allow_redirects=False,
        )
        statuses.append(response.status)
    return statuses


async def test_sign_in_throttling_counts_the_client_behind_a_trusted_proxy(
    hub_factory: Any, browsers: Any
):
    async with asyncio.timeout(TIME_LIMIT):
        # The test client connects from 127.0.0.1: that is the proxy here.
        hub = await hub_factory(clock=ManualClock(), **DESK, trusted_proxies=["127.0.0.1"])
        await add_agent(hub, "Ana")
        browser = await browsers(hub)
        statuses = await failures_from(browser, "198.51.100.1", BLOCKED_AFTER + 1)
        assert statuses == [401] * BLOCKED_AFTER + [429]
        # Another client behind the same proxy is not slowed down by the first one.
        assert await failures_from(browser, "198.51.100.2", 1) == [401]
        assert (
            await browser.attempt_sign_in("ana@example.com", "correct horse battery")
        ).status == (303)


async def test_without_trusted_proxies_the_header_is_ignored(hub_factory: Any, browsers: Any):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(clock=ManualClock(), **DESK)  # nothing trusted
        browser = await browsers(hub)
        # A client claiming a new address at each attempt is still counted as itself.
        statuses = []
        for attempt in range(BLOCKED_AFTER + 1):
            statuses += await failures_from(browser, f"198.51.100.{attempt + 10}", 1)
        assert statuses == [401] * BLOCKED_AFTER + [429]

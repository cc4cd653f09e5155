"""Presence that matches the screen: an open dashboard heartbeats every third of the
presence timeout, so its agent never shows offline, however short the timeout; a
dashboard that goes away takes its agent offline within the timeout; a timeout below the
floor is a config error naming the key."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from hub import keys
from hub.agents.presence import heartbeat_seconds
from hub.settings import ConfigError, Lifecycle, load_settings
from tests.dashboard.browser import go_online, open_tab, sign_in
from tests.dashboard.support import DESK, add_agent
from tests.support.chatbot import Hub

SHORT_TIMEOUT = 10.0


@pytest.mark.parametrize(
    ("timeout", "beat"), [(90, 30), (300, 30), (30, 10), (10, 10 / 3), (0, 30)]
)
def test_the_heartbeat_is_a_third_of_the_timeout_at_most(timeout, beat):
    assert heartbeat_seconds(Lifecycle(presence_timeout_seconds=timeout)) == pytest.approx(beat)


@pytest.mark.parametrize("timeout", [1, 5, 9.5])
def test_a_timeout_below_the_floor_is_a_config_error_naming_the_key(timeout):
    with pytest.raises(ConfigError) as refused:
        load_settings(lifecycle={"presence_timeout_seconds": timeout})
    assert str(refused.value) == (
        "config error: lifecycle.presence_timeout_seconds: must be 0 (off) or at least 10 "
        "seconds (the dashboard heartbeats every third of it)"
    )


async def presence(hub: Hub, agent_id: str) -> str:
    return (await hub.app[keys.AGENTS].require(agent_id)).presence


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_open_dashboard_keeps_its_agent_online(hub_factory: Any, browser: Browser):
    async with asyncio.timeout(90):
        hub: Hub = await hub_factory(
            **DESK,
            lifecycle={"presence_timeout_seconds": SHORT_TIMEOUT, "tick_seconds": 0.25},
        )
        ana_id = await add_agent(hub, "Ana", online=False)
        tab = await open_tab(browser)
        base = str(hub.client.make_url("/dashboard/"))
        await sign_in(tab, base, "ana@example.com")
        await go_online(tab)
        status = tab.page.get_by_label("Status")

        # Twice the timeout with the dashboard open (in the background, even): always online,
        # in the hub and on the screen.
        loop = asyncio.get_running_loop()
        until = loop.time() + 2 * SHORT_TIMEOUT
        while loop.time() < until:
            assert await presence(hub, ana_id) == "online"
            await expect(status).to_have_value("online")
            await asyncio.sleep(0.5)  # the span under test, not a synchronisation
        assert (await hub.chatbot.call("GET", "/v1/availability"))["agentsOnline"] == 1

        # The dashboard goes away (the window is closed): offline within the timeout.
        gone_at = loop.time()
        await tab.page.context.close()
        while await presence(hub, ana_id) != "offline":
            assert loop.time() - gone_at < SHORT_TIMEOUT + 5, "still online"
            await asyncio.sleep(0.25)
        assert (await hub.chatbot.call("GET", "/v1/availability"))["agentsOnline"] == 0

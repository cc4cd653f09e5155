"""Waiting, as the user in the demo widget lives it, in a real headless Chromium: the queue
message is as visible as the messages around it and says the wait is unknown on a hub
that measured none (the same as availability and the escalation's answer); when the only
agent goes away, the user is told nobody is available and the bot answers again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, expect

from hub.settings import Settings
from tests.dashboard.browser import screenshot_path
from tests.e2e.conftest import start_demo_hub
from tests.e2e.test_demo_widget import agent_signs_in, open_widget

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

NO_ESTIMATE = "You are number 1 in the queue. We cannot estimate the wait yet."


def luminance(rgb: str) -> float:
    """The relative luminance of a CSS ``rgb(r, g, b)`` colour (WCAG 2.1)."""
    channels = [int(part) / 255 for part in rgb[rgb.index("(") + 1 : -1].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    lighter, darker = sorted((luminance(one), luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


async def looks(text: Locator) -> dict[str, Any]:
    """How a message's text is drawn: its size, weight, and colour on its own box."""
    return await text.evaluate(  # type: ignore[no-any-return]
        """(el) => {
            const style = getComputedStyle(el);
            let box = el, background = "rgba(0, 0, 0, 0)";
            while (box && background === "rgba(0, 0, 0, 0)") {
                background = getComputedStyle(box).backgroundColor;
                box = box.parentElement;
            }
            return {size: parseFloat(style.fontSize), weight: parseInt(style.fontWeight),
                    color: style.color, background};
        }"""
    )


async def test_waiting_is_visible_honest_and_ends_with_the_bot_back(
    aiohttp_client: Any, make_settings: Callable[..., Settings], browser: Browser
) -> None:
    async with asyncio.timeout(120):
        hub = await start_demo_hub(
            aiohttp_client,
            make_settings(lifecycle={"tick_seconds": 0.25, "no_agents_seconds": 2}),
        )
        agent_tab = await agent_signs_in(browser, hub)
        user_tab, widget = await open_widget(browser, hub)
        headers = {"X-Bot-Id": "demo", "Origin": hub.base}
        availability = await (await hub.client.get("/v1/availability", headers=headers)).json()
        assert (availability["open"], availability["estimatedWaitSeconds"]) == (True, None)

        # -- the user asks for a person: the queue message, as readable as the bot ---------
        await widget.say("Where is my parcel?")
        await widget.choose("Talk to a person")
        queue_message = widget.message(NO_ESTIMATE)
        await expect(queue_message).to_have_count(1)
        shown = await looks(queue_message.locator("p"))
        said = await looks(
            widget.message("Of course: let me find you a person.").locator(".chatbot-bubble")
        )
        assert shown["size"] >= said["size"]
        assert shown["weight"] >= said["weight"]
        assert contrast(shown["color"], shown["background"]) >= 7  # WCAG AAA, not grey-on-white
        assert shown["background"] not in ("rgba(0, 0, 0, 0)", said["background"])
        await user_tab.page.screenshot(path=str(screenshot_path("demo-queue.png")))

        # -- the only agent goes away: after no_agents_seconds the user hears it and the
        #    bot is back --------------------------------------------------------------------
        await agent_tab.page.get_by_label("Status").select_option(label="Away")
        await expect(agent_tab.page.get_by_text("You are away.")).to_be_visible()
        await expect(widget.message("No agent is available right now.")).to_have_count(1)
        await widget.name_is("Demo bot")
        await expect(widget.box).to_be_enabled()
        await widget.say("Has my order shipped?")
        await expect(widget.log).to_contain_text("Orders usually arrive within 3 working days")
        lines = await widget.lines()
        assert lines.index(NO_ESTIMATE) < lines.index("No agent is available right now.")
        for tab in (agent_tab, user_tab):
            tab.assert_no_problems()

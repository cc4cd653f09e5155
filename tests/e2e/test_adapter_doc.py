"""docs/adapter.md's HTML snippet, as a bot's page would use it, in a real headless Chromium:
served from another origin than the hub's, with the Inbenta SDK's script answered by a
stand-in built on the demo widget (the real one needs Inbenta's servers). The adapter
configured exactly as the snippet says escalates to the snippet's queue, relays the chat
both ways and gives the chat back to the bot with the snippet's labels."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Route, expect

from hub.demo import DEMO_AGENT_EMAIL, DEMO_BOT_ID
from hub.settings import Settings
from tests.dashboard.browser import go_online, open_tab, sign_in
from tests.e2e.conftest import start_demo_hub

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "adapter.md").read_text()
WIDGET = (ROOT / "hub" / "demo" / "static" / "chatbot.js").read_text()
# The SDK's build call, answered by the demo widget (same actions and subscriptions).
SDK_STAND_IN = """
window.InbentaChatbotSDK = {
  buildWithDomainCredentials: function (auth, conf) {
    var place = document.createElement('div');
    document.body.appendChild(place);
    return DemoChatbot.build(place, {
      name: conf.labels[conf.lang]['interface-title'],
      labels: conf.labels[conf.lang],
      adapters: conf.adapters,
      storageKey: 'sdk-stand-in',
      answer: function (messageData, chatBot) {
        chatBot.actions.displayChatbotMessage({type: 'answer', message: 'The bot heard you.'});
      }
    });
  }
};
"""


def snippet() -> str:
    found = re.search(r"<!-- checked: snippet -->\s*```html\n(.*?)```", DOC, re.S)
    assert found, "docs/adapter.md has no checked snippet"
    return found.group(1)


async def test_the_documented_snippet_hands_a_chat_over(
    aiohttp_client: Any,
    aiohttp_server: Any,
    make_settings: Callable[..., Settings],
    browser: Browser,
) -> None:
    async with asyncio.timeout(90):
        # The bot's site, on its own origin.
        shop = web.Application()
        page_html: dict[str, str] = {}

        async def index(request: web.Request) -> web.Response:
            return web.Response(text=page_html["html"], content_type="text/html")

        shop.router.add_get("/", index)
        shop_server = await aiohttp_server(shop)
        shop_url = str(shop_server.make_url("/"))
        shop_origin = shop_url.rstrip("/")

        hub = await start_demo_hub(
            aiohttp_client,
            make_settings(
                providers={"desk": {"type": "desk"}},
                queues=[{"name": "support", "chain": ["desk"]}],
            ),
            other_origins=(shop_origin,),
        )
        html = snippet()
        assert "https://hub.example.com/static/offload-hub-adapter.js" in html
        page_html["html"] = html.replace("https://hub.example.com", hub.base).replace(
            "bot_6n2k3example", DEMO_BOT_ID
        )

        agent_tab = await open_tab(browser)
        agent = agent_tab.page
        await sign_in(agent_tab, hub.dashboard_url, DEMO_AGENT_EMAIL, hub.agent_password)
        await go_online(agent_tab)

        user_tab = await open_tab(browser)
        page = user_tab.page

        async def sdk(route: Route) -> None:
            await route.fulfill(
                status=200, content_type="text/javascript", body=WIDGET + SDK_STAND_IN
            )

        await page.context.route("https://sdk.inbenta.io/**", sdk)
        await page.goto(shop_url)
        chat = page.get_by_role("region", name="Chat")
        log = chat.get_by_role("log", name="Conversation")
        await expect(chat.get_by_role("heading", level=2)).to_have_text("Shop assistant")

        # The bot talks, then escalates as the doc shows.
        await chat.get_by_label("Your message").fill("Where is my order?")
        await chat.get_by_role("button", name="Send").click()
        await expect(log).to_contain_text("The bot heard you.")
        await page.get_by_role("button", name="Talk to a person").click()
        await expect(log).to_contain_text("You are number 1 in the queue")

        row = agent.get_by_role("table", name="Waiting").get_by_role("row")
        row = row.filter(has_text="My order A-17 is late")
        await expect(row).to_contain_text("Jo Doe")
        await expect(row).to_contain_text("support")
        await row.get_by_role("button", name="Accept").click()
        await expect(agent.get_by_role("region", name="Escalation data")).to_contain_text("A-17")
        await expect(agent.get_by_role("region", name="Bot transcript")).to_contain_text(
            "The bot heard you."
        )
        await expect(chat.get_by_role("heading", level=2)).to_have_text("Ana")

        await agent.get_by_label("Message", exact=True).fill("Hi Jo, Ana here.")
        await agent.get_by_role("button", name="Send", exact=True).click()
        await expect(log).to_contain_text("Hi Jo, Ana here.")
        await chat.get_by_label("Your message").fill("Hello Ana!")
        await chat.get_by_role("button", name="Send").click()
        await expect(agent.get_by_role("log")).to_contain_text("Hello Ana!")
        sent = log.locator(":scope > ol > li").filter(has_text="Hello Ana!")
        await expect(sent.get_by_role("img")).to_have_attribute("title", "Read")

        await agent.get_by_role("button", name="Close conversation").click()
        survey = chat.get_by_role("form", name="How was your chat?")
        await survey.get_by_role("button", name="Skip").click()
        await expect(log).to_contain_text("The chat with the agent has ended.")
        await expect(chat.get_by_role("heading", level=2)).to_have_text("Shop assistant")
        for tab in (agent_tab, user_tab):
            tab.assert_no_problems()

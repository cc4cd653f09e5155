"""In a real Chromium: markup hidden in what customers and bots send stays text on every
path it takes to the screen (the server's templates, the script's live rows and messages,
the notices), with the Content Security Policy switched off so escaping alone is tested.
And the admins' live overview and the bot key shown once."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from hub import keys
from tests.dashboard.browser import go_online, open_tab, sign_in
from tests.dashboard.support import DESK, add_agent

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=2</script>"
BREAKOUT = '"></template><svg onload="window.__xss=3">'


async def test_injected_markup_is_shown_as_text_and_never_runs(
    hub_factory: Any, browser: Browser
) -> None:
    async with asyncio.timeout(60):
        hub = await hub_factory(**DESK)
        await add_agent(hub, "Ana", online=False)
        base = str(hub.client.make_url("/dashboard/"))
        tab = await open_tab(browser, bypass_csp=True)
        page = tab.page
        await sign_in(tab, base, "ana@example.com")
        await go_online(tab)

        cid = (
            await hub.chatbot.escalate(
                "s1",
                user={"name": IMG, "lastName": BREAKOUT, "email": "x@example.com"},
                inquiry=f"help {SCRIPT}",
                transcript=[
                    {"user": "guest", "message": f"guest says {IMG}"},
                    {"user": "assistant", "message": f"bot says <b>bold</b> {SCRIPT} {IMG}"},
                ],
                data={"field": BREAKOUT, IMG: "key"},
            )
        )["conversationId"]
        # Drawn by the script from the live channel and JSON.
        row = page.get_by_role("table", name="Waiting").get_by_role("row").filter(has_text="help")
        await expect(row).to_contain_text(f"help {SCRIPT}")
        await expect(row).to_contain_text(f"{IMG} {BREAKOUT}")
        await expect(page.get_by_text(f"New conversation waiting: {IMG}")).to_be_visible()
        # Drawn by the server.
        await page.reload()
        await expect(row).to_contain_text(f"help {SCRIPT}")

        await row.get_by_role("button", name="Accept").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"{IMG} {BREAKOUT}")
        transcript = page.get_by_role("region", name="Bot transcript")
        await expect(transcript).to_contain_text(f"guest says {IMG}")
        # The bot's answer is HTML, as the user saw it: formatting kept, the rest dropped.
        await expect(transcript).to_contain_text("bot says bold")
        await expect(transcript.locator(".from-bot b")).to_have_text("bold")
        await expect(transcript).not_to_contain_text("<b>")
        await expect(page.get_by_role("region", name="Escalation data")).to_contain_text(BREAKOUT)
        await hub.chatbot.send(cid, "u1", f"live {IMG} {SCRIPT} {BREAKOUT}")
        await expect(page.get_by_role("log")).to_contain_text(f"live {IMG} {SCRIPT} {BREAKOUT}")
        await hub.chatbot.call(
            "POST", f"/v1/conversations/{cid}/typing", conversation_id=cid, json={"typing": True}
        )
        await expect(page.get_by_text(f"{IMG} {BREAKOUT} is typing…")).to_be_visible()

        assert await page.evaluate("window.__xss") is None
        assert await page.locator("img[src=x], svg, script:not([src])").count() == 0
        tab.assert_no_problems()


async def test_the_admins_live_overview_and_a_bot_key_shown_once(
    hub_factory: Any, browser: Browser
) -> None:
    async with asyncio.timeout(60):
        hub = await hub_factory(**DESK)
        await add_agent(hub, "Boss", role="admin", online=False)
        ana = await add_agent(hub, "Ana")
        base = str(hub.client.make_url("/dashboard/"))
        tab = await open_tab(browser)
        page = tab.page
        await sign_in(tab, base, "boss@example.com")

        await page.get_by_role("link", name="Overview").click()
        figures = {
            key: page.get_by_role("term")
            .filter(has_text=re.compile(f"^{label}$"))
            .locator("xpath=following-sibling::dd[1]")
            for key, label in (
                ("waiting", "Waiting"),
                ("active", "Active chats"),
                ("online", "Agents online"),
            )
        }
        await expect(figures["online"]).to_have_text("1")
        await expect(figures["waiting"]).to_have_text("0")
        cid = (await hub.chatbot.escalate("s1", inquiry="where is it"))["conversationId"]
        await expect(figures["waiting"]).to_have_text("1")
        waiting = page.get_by_role("table", name="Waiting")
        await expect(waiting).to_contain_text("where is it")
        await hub.app[keys.WORKSPACE].desks["desk"].accept(ana, cid)
        await expect(figures["active"]).to_have_text("1")
        await expect(figures["waiting"]).to_have_text("0")
        agents = page.get_by_role("table", name="Agents")
        await expect(agents.get_by_role("row", name="Ana")).to_contain_text("1 of 3")

        await page.get_by_role("link", name="Bots").click()
        await page.get_by_label("Name").fill("Help centre bot")
        await page.get_by_label("Allowed origins").fill("https://help.example.com")
        await page.get_by_role("button", name="Add bot").click()
        key = await page.get_by_label("Secret key").input_value()
        assert key
        status = (
            await hub.client.get("/v1/availability", headers={"Authorization": f"Bearer {key}"})
        ).status
        assert status == 200
        await page.get_by_role("link", name="Bots").click()
        await expect(page.get_by_role("row", name="Help centre bot")).to_be_visible()
        await expect(page.get_by_label("Secret key")).to_have_count(0)
        assert key not in await page.content()
        tab.assert_no_problems()

"""The demo as a user and an agent live it, in a real headless Chromium: a visitor on the demo
page asks the bot for a person, the demo agent (signed in to the dashboard in a second
browser context) accepts and chats; the widget shows the agent's name, typing, messages and
ticks, survives leaving the page and reloading it with nothing lost or shown twice, and
returns to the bot when the agent closes. The second test leaves from the widget's side,
over the long-poll transport, with a file on the way."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from aiohttp import WSCloseCode
from playwright.async_api import Browser, Locator, Page, expect

from hub import keys
from hub.demo import DEMO_AGENT_EMAIL, DEMO_BOT_ID
from tests.dashboard.browser import Tab, go_online, open_tab, screenshot_path, sign_in
from tests.e2e.conftest import DemoHub

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


class Widget:
    """The demo page's chatbot, through its accessible names."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.chat = page.get_by_role("region", name="Chat")
        self.log = self.chat.get_by_role("log", name="Conversation")
        self.box = self.chat.get_by_label("Your message")
        self.activity = self.chat.get_by_role("status")

    @property
    def items(self) -> Locator:
        return self.log.locator(":scope > ol > li")

    def message(self, text: str) -> Locator:
        return self.items.filter(has_text=text)

    async def name_is(self, name: str) -> None:
        await expect(self.chat.get_by_role("heading", level=2)).to_have_text(name)

    async def say(self, text: str) -> None:
        await self.box.fill(text)
        await self.chat.get_by_role("button", name="Send").click()
        await expect(self.message(text)).to_have_count(1)

    async def choose(self, label: str) -> None:
        await self.log.get_by_role("button", name=label, disabled=False).click()

    async def lines(self) -> list[str]:
        return [line.strip() for line in await self.items.all_inner_texts()]

    async def tick(self, text: str, title: str) -> None:
        await expect(self.message(text).get_by_role("img")).to_have_attribute("title", title)


async def open_widget(browser: Browser, hub: DemoHub, query: str = "") -> tuple[Tab, Widget]:
    tab = await open_tab(browser, width=1180, height=760)
    await tab.page.goto(hub.demo_url + query)
    widget = Widget(tab.page)
    await expect(widget.log).to_contain_text("I am the offload-hub demo bot")
    await widget.name_is("Demo bot")
    return tab, widget


async def agent_signs_in(browser: Browser, hub: DemoHub) -> Tab:
    tab = await open_tab(browser)
    await sign_in(tab, hub.dashboard_url, DEMO_AGENT_EMAIL, hub.agent_password)
    await go_online(tab)
    return tab


async def accept(agent: Page, inquiry: str) -> Locator:
    """The agent accepts the waiting chat with this inquiry; returns the chat's log."""
    row = agent.get_by_role("table", name="Waiting").get_by_role("row").filter(has_text=inquiry)
    await expect(row).to_contain_text("Demo visitor")
    await row.get_by_role("button", name="Accept").click()
    await expect(agent.get_by_role("heading", name="Demo visitor", level=1)).to_be_visible()
    return agent.get_by_role("log")


async def agent_says(agent: Page, text: str) -> None:
    await agent.get_by_label("Message", exact=True).fill(text)
    await agent.get_by_role("button", name="Send", exact=True).click()
    await expect(
        agent.get_by_role("log").get_by_role("listitem").filter(has_text=text)
    ).to_be_visible()


async def test_a_handoff_from_the_demo_widget(demo_hub: DemoHub, browser: Browser) -> None:
    async with asyncio.timeout(120):
        agent_tab = await agent_signs_in(browser, demo_hub)
        agent = agent_tab.page
        user_tab, widget = await open_widget(browser, demo_hub)

        # -- the bot answers; the visitor asks for a person ------------------------------------
        await widget.say("My parcel A-17 has not arrived")
        await expect(widget.log).to_contain_text("Orders usually arrive within 3 working days")
        await widget.choose("Talk to a person")
        await expect(widget.log).to_contain_text("Of course: let me find you a person.")
        await expect(widget.log).to_contain_text(re.compile(r"You are number 1 in the queue"))

        # -- the chat arrives in the dashboard, with the bot's transcript ----------------------
        chat = await accept(agent, "My parcel A-17 has not arrived")
        transcript = agent.get_by_role("region", name="Bot transcript")
        await expect(transcript).to_contain_text("Orders usually arrive within")
        await widget.name_is("Ana")
        await expect(widget.log).to_contain_text("Ana has joined the chat.")

        # -- the agent types and writes: typing, then her message under her name ------------
        await agent.get_by_label("Message", exact=True).press_sequentially("Hello")
        await expect(widget.activity).to_have_text("Ana is typing…")
        await agent.get_by_label("Message", exact=True).fill("")
        await agent_says(agent, "Hello, I am Ana. Let me look at A-17.")
        said = widget.message("Let me look at A-17.")
        await expect(said).to_contain_text("Ana")
        await expect(widget.activity).to_be_hidden()
        # The widget read it: the agent sees her message read.
        mine = chat.get_by_role("listitem").filter(has_text="Let me look at A-17.")
        await expect(mine).to_contain_text("✓✓ Read")

        # -- the visitor types and writes: typing on the agent's side, ticks on the widget ---
        await widget.box.press_sequentially("Thank")
        await expect(agent.get_by_text("Demo visitor is typing…")).to_be_visible()
        await widget.box.fill("")
        await widget.say("Thank you, it was due on Monday.")
        await expect(chat).to_contain_text("it was due on Monday.")
        await widget.tick("it was due on Monday.", "Read")
        assert await widget.message("it was due on Monday.").get_attribute("data-tick") == "double"
        await user_tab.page.screenshot(path=str(screenshot_path("demo.png")))

        # -- the page goes away; the agent writes meanwhile; the page comes back -------------
        before = await widget.lines()
        await user_tab.page.goto("about:blank")
        await agent_says(agent, "Found it: it is at the depot.")
        await user_tab.page.goto(demo_hub.demo_url)
        widget = Widget(user_tab.page)
        await expect(widget.message("it is at the depot.")).to_have_count(1)
        await widget.name_is("Ana")
        after = await widget.lines()
        assert after[: len(before)] == before
        assert len(after) == len(before) + 1 and "it is at the depot." in after[-1]

        # -- a plain reload: the same conversation, nothing twice ------------------------------
        await user_tab.page.reload()
        widget = Widget(user_tab.page)
        await expect(widget.message("it is at the depot.")).to_have_count(1)
        await widget.name_is("Ana")
        assert await widget.lines() == after
        await widget.tick("it was due on Monday.", "Read")
        # ...and the chat goes on, both ways.
        await widget.say("Great, I will pick it up.")
        await expect(chat).to_contain_text("I will pick it up.")
        await widget.tick("I will pick it up.", "Read")
        await agent_says(agent, "Have a nice day!")
        await expect(widget.message("Have a nice day!")).to_have_count(1)

        # -- the hub drops every stream ("going away"): the widget resumes where it was -------
        demo_hub.app[keys.BUS].close_all(WSCloseCode.GOING_AWAY)
        await agent_says(agent, "Anything else?")
        await expect(widget.message("Anything else?")).to_have_count(1)

        # -- the agent closes: back to the bot ----------------------------------------------------
        await agent.get_by_label("Reason").select_option(label="Resolved")
        await agent.get_by_role("button", name="Close conversation").click()
        await expect(agent.get_by_text("The conversation is closed")).to_be_visible()
        # The satisfaction survey, in the SDK's custom conversation window (in place of the
        # messages and the input): skipped here.
        survey = widget.chat.get_by_role("form", name="How was your chat?")
        await expect(survey).to_be_visible()
        await widget.name_is("Demo bot")
        await survey.get_by_role("button", name="Skip").click()
        await expect(survey).to_be_hidden()
        await expect(widget.log).to_contain_text("The chat with the agent has ended.")
        await expect(widget.box).to_be_enabled()
        await widget.say("How long does a delivery take?")
        await expect(widget.items.last).to_contain_text("Orders usually arrive")
        # The bot answered it: it never went to the hub (a forwarded message gets ticks).
        asked = widget.message("How long does a delivery take?")
        assert await asked.get_attribute("data-tick") is None

        # Every message of the chat is in the widget once, in order.
        texts = await widget.lines()
        for line in (
            "Hello, I am Ana. Let me look at A-17.",
            "Thank you, it was due on Monday.",
            "Found it: it is at the depot.",
            "Great, I will pick it up.",
            "Have a nice day!",
            "Anything else?",
        ):
            assert sum(line in text for text in texts) == 1, (line, texts)
        positions = [
            next(i for i, text in enumerate(texts) if line in text)
            for line in ("Let me look at A-17.", "due on Monday", "at the depot", "pick it up")
        ]
        assert positions == sorted(positions)
        for tab in (agent_tab, user_tab):
            tab.assert_no_problems()


async def test_leaving_from_the_widget_over_long_polling(
    demo_hub: DemoHub, browser: Browser
) -> None:
    async with asyncio.timeout(90):
        agent_tab = await agent_signs_in(browser, demo_hub)
        agent = agent_tab.page
        user_tab, widget = await open_widget(browser, demo_hub, "?transport=poll")

        await widget.say("Can I talk to a human please?")
        await expect(widget.log).to_contain_text("Of course: let me find you a person.")
        chat = await accept(agent, "Can I talk to a human please?")
        await widget.name_is("Ana")

        # A file from the visitor reaches the agent.
        await widget.chat.get_by_role("button", name="Attach a file").wait_for()
        await user_tab.page.locator(".chatbot-file-input").set_input_files(
            files=[{"name": "receipt.txt", "mimeType": "text/plain", "buffer": b"A-17 paid"}]
        )
        await expect(chat.get_by_role("link", name="receipt.txt")).to_be_visible()
        await widget.tick("receipt.txt", "Read")
        await agent_says(agent, "Thanks for the receipt.")
        await expect(widget.message("Thanks for the receipt.")).to_have_count(1)

        # A chatbot that comes back from a reload without its messages: the adapter shows
        # the chat's messages again from the hub's state, once each, with their ticks.
        await user_tab.page.evaluate("sessionStorage.removeItem('offload-hub-demo-chatbot')")
        await user_tab.page.reload()
        widget = Widget(user_tab.page)
        await expect(widget.message("Thanks for the receipt.")).to_have_count(1)
        await expect(widget.message("receipt.txt")).to_have_count(1)
        await widget.tick("receipt.txt", "Read")
        await widget.name_is("Ana")

        # The close button asks its own question once (the SDK's exitConversation): "no"
        # keeps the chat, "yes" ends it, and the chat stays on the page with the bot.
        question = widget.chat.get_by_role("alertdialog")
        await widget.chat.get_by_role("button", name="Close chat").click()
        await expect(question).to_contain_text("Do you want to end this conversation?")
        await question.get_by_role("button", name="No").click()
        await expect(question).to_be_hidden()
        await widget.say("Actually, one more thing.")
        await expect(chat).to_contain_text("one more thing.")
        await widget.chat.get_by_role("button", name="Close chat").click()
        await question.get_by_role("button", name="Yes").click()
        await expect(question).to_be_hidden()
        await expect(agent.get_by_text("This conversation has ended")).to_be_visible()
        await widget.name_is("Demo bot")

        # The survey: a rating and a comment reach the hub; then the chat is there again.
        survey = widget.chat.get_by_role("form", name="How was your chat?")
        await survey.get_by_label("4 - Good").check()
        await survey.get_by_label("Anything to add? (optional)").fill("Quick and kind.")
        await survey.get_by_role("button", name="Send").click()
        await expect(widget.log).to_contain_text("Thank you for your feedback.")
        await expect(widget.log).to_contain_text("The chat with the agent has ended.")
        assert await widget.message("Actually, one more thing.").count() == 1
        last = json.loads(
            await user_tab.page.evaluate(f"sessionStorage.getItem('offload-hub:{DEMO_BOT_ID}')")
        )["last"]
        snapshot = await demo_hub.client.get(
            f"/v1/conversations/{last['conversationId']}",
            headers={"Authorization": f"Bearer {last['token']}"},
        )
        assert (await snapshot.json())["rating"] == {"value": "4", "comment": "Quick and kind."}
        for tab in (agent_tab, user_tab):
            tab.assert_no_problems()


async def test_nobody_online_the_bot_keeps_the_chat(demo_hub: DemoHub, browser: Browser) -> None:
    async with asyncio.timeout(60):
        user_tab, widget = await open_widget(browser, demo_hub)
        await widget.choose("Talk to a person")
        await expect(widget.log).to_contain_text("No agent is available right now.")
        await widget.name_is("Demo bot")
        await expect(widget.box).to_be_enabled()
        await expect(widget.chat.get_by_role("button", name="Attach a file")).to_be_hidden()
        # The bot answers again, and a reload does not bring the ended chat back.
        await user_tab.page.reload()
        widget = Widget(user_tab.page)
        await expect(widget.message("No agent is available right now.")).to_have_count(1)
        await widget.say("How long does a delivery take?")
        await expect(widget.items.last).to_contain_text("Orders usually arrive")
        user_tab.assert_no_problems()

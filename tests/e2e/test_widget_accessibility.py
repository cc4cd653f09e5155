"""The demo widget as users of a screen reader, a keyboard or zoom meet it, in a real
headless Chromium, with the page's Content-Security-Policy in force: axe-core (WCAG 2.1 A
and AA, best practices) finds nothing serious or critical with the bot, minimised, queued,
mid-chat, in the close question, the survey and back with the bot; at 640x360 (1280x720
at 200 %) the window stays on screen and Tab reaches each of its controls with a focus
ring of 3:1; a whole chat works by keyboard alone, focus going into the window when it
opens, to the message box when the chat starts and back to the launcher when it closes;
the log gets each message once, added, never redrawn."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, Page, expect

from hub import keys
from hub.agents.presence import set_presence
from hub.demo import DEMO_AGENT_EMAIL, DEMO_BOT_ID
from providers.workspace import Desk
from tests.dashboard.accessibility import assert_keyboard_reaches_everything, audit, tab_to
from tests.dashboard.browser import Tab, open_tab, screenshot_path
from tests.e2e.conftest import DemoHub
from tests.e2e.test_demo_widget import Widget

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

LARGE = {"width": 1180, "height": 760}
SMALL = {"width": 640, "height": 360}  # 1280x720 at 200 %
WIDGET = "#demo-chatbot"
QUEUED = "You are number 1 in the queue"


async def check(tab: Tab, state: str, *, within: str | None = WIDGET) -> None:
    """axe on the page as it is; then, at 640x360, Tab reaches every control of the widget
    (of the whole page with ``within=None``), each on screen and not covered."""
    await audit(tab, f"widget, {state}")
    await tab.page.set_viewport_size(SMALL)
    try:
        await assert_keyboard_reaches_everything(
            tab.page, f"widget, {state}, at 640x360", within=within
        )
    finally:
        await tab.page.set_viewport_size(LARGE)


async def the_desk(hub: DemoHub) -> tuple[Desk, str]:
    """The demo's desk and its agent (Ana), online."""
    agent = next(a for a in await hub.app[keys.AGENTS].all() if a.email == DEMO_AGENT_EMAIL)
    await set_presence(hub.app, agent.id, "online")
    desk = next(iter(hub.app[keys.WORKSPACE].desks.values()))
    return desk, agent.id


async def conversation_of(page: Page) -> str:
    handle = await page.wait_for_function(
        f"""() => {{
            const saved = JSON.parse(sessionStorage.getItem('offload-hub:{DEMO_BOT_ID}') || '{{}}');
            return saved.chat && saved.chat.conversationId;
        }}"""
    )
    return str(await handle.json_value())


async def demo_page(browser: Browser, hub: DemoHub) -> tuple[Tab, Widget]:
    tab = await open_tab(browser, **LARGE)
    await tab.page.goto(hub.demo_url)
    widget = Widget(tab.page)
    await expect(widget.log).to_contain_text("I am the offload-hub demo bot")
    return tab, widget


async def test_the_widget_passes_axe_in_every_state_and_stays_on_screen(
    demo_hub: DemoHub, browser: Browser
) -> None:
    async with asyncio.timeout(150):
        desk, ana = await the_desk(demo_hub)
        tab, widget = await demo_page(browser, demo_hub)
        page = tab.page
        await check(tab, "with the bot")
        await widget.say("Where is my parcel?")
        await expect(widget.log).to_contain_text("Orders usually arrive")
        await check(tab, "the bot answered")

        await widget.chat.get_by_role("button", name="Minimise chat").click()
        await expect(page.get_by_role("button", name="Open chat")).to_be_visible()
        await check(tab, "minimised", within=None)
        await page.get_by_role("button", name="Open chat").click()

        await widget.choose("Talk to a person")
        await expect(widget.log).to_contain_text(QUEUED)
        await check(tab, "queued")

        cid = await conversation_of(page)
        await desk.accept(ana, cid)
        await widget.name_is("Ana")
        await desk.reply(ana, cid, "<p>Hello, I am Ana.</p>")
        await expect(widget.message("Hello, I am Ana.")).to_have_count(1)
        await widget.say("My parcel A-17 is late.")
        await widget.tick("My parcel A-17 is late.", "Sent")
        await desk.typing(ana, cid, True)
        await expect(widget.activity).to_have_text("Ana is typing…")
        await check(tab, "mid-chat")
        await page.set_viewport_size(SMALL)
        await widget.box.focus()
        await page.screenshot(path=str(screenshot_path("widget-zoomed.png")))
        await page.set_viewport_size(LARGE)

        await widget.chat.get_by_role("button", name="Close chat").click()
        question = widget.chat.get_by_role("alertdialog")
        await expect(question).to_contain_text("Do you want to end this conversation?")
        await audit(tab, "widget, the close question")
        await question.get_by_role("button", name="Yes").click()
        survey = widget.chat.get_by_role("form", name="How was your chat?")
        await expect(survey).to_be_visible()
        await check(tab, "the survey")
        await survey.get_by_role("button", name="Skip").click()
        await expect(widget.log).to_contain_text("The chat with the agent has ended.")
        await widget.name_is("Demo bot")
        await check(tab, "ended, with the bot again")
        tab.assert_no_problems()


LIST_LOG = """() => {
    const list = document.querySelector('#demo-chatbot [role="log"] > ol');
    window.__log = {added: 0, removed: 0};
    new MutationObserver((changes) => {
        for (const change of changes) {
            window.__log.added += change.addedNodes.length;
            window.__log.removed += change.removedNodes.length;
        }
    }).observe(list, {childList: true});
    return list.children.length;
}"""


async def test_a_whole_chat_by_keyboard(demo_hub: DemoHub, browser: Browser) -> None:
    async with asyncio.timeout(120):
        desk, ana = await the_desk(demo_hub)
        tab, widget = await demo_page(browser, demo_hub)
        page = tab.page
        keys_ = page.keyboard
        launcher = page.get_by_role("button", name="Open chat")
        minimise = widget.chat.get_by_role("button", name="Minimise chat")
        before = await page.evaluate(LIST_LOG)

        # -- open: the window closes to its launcher and opens to the message box ---------
        await tab_to(page, minimise)
        await keys_.press("Enter")
        await expect(launcher).to_be_focused()
        await keys_.press("Enter")
        await expect(widget.box).to_be_focused()

        # -- escalate: the chosen option goes, focus stays in the window and is on the
        #    message box once the chat has started --------------------------------------
        await tab_to(page, widget.log.get_by_role("button", name="Talk to a person"), shift=True)
        await keys_.press("Enter")
        await expect(widget.log).to_contain_text(QUEUED)
        await expect(widget.box).to_be_enabled()
        await expect(widget.box).to_be_focused()
        cid = await conversation_of(page)
        await desk.accept(ana, cid)
        await expect(widget.log).to_contain_text("Ana has joined the chat.")
        await expect(widget.box).to_be_focused()  # messages coming in leave focus there

        # -- send: Enter sends; the box keeps focus --------------------------------------
        await keys_.type("My parcel A-17 is late.")
        await keys_.press("Enter")
        await expect(widget.message("My parcel A-17 is late.")).to_have_count(1)
        await expect(widget.box).to_have_value("")
        await expect(widget.box).to_be_focused()
        await desk.reply(ana, cid, "<p>Let me look.</p>")
        await expect(widget.message("Let me look.")).to_have_count(1)
        await widget.tick("My parcel A-17 is late.", "Sent")
        await expect(widget.box).to_be_focused()
        await page.screenshot(path=str(screenshot_path("widget-focus.png")))

        # -- Escape closes the window to the launcher; Enter brings it back ----------------
        await keys_.press("Escape")
        await expect(widget.chat).to_be_hidden()
        await expect(launcher).to_be_focused()
        await keys_.press("Enter")
        await expect(widget.box).to_be_focused()

        # -- close: the question keeps focus among its answers; Escape answers no --------
        close = widget.chat.get_by_role("button", name="Close chat")
        await tab_to(page, close, shift=True)
        await keys_.press("Enter")
        question = widget.chat.get_by_role("alertdialog")
        await expect(question.get_by_role("button", name="Yes")).to_be_focused()
        await keys_.press("Tab")
        await expect(question.get_by_role("button", name="No")).to_be_focused()
        await keys_.press("Tab")
        await expect(question.get_by_role("button", name="Yes")).to_be_focused()
        await keys_.press("Escape")
        await expect(question).to_be_hidden()
        await expect(close).to_be_focused()
        await keys_.press("Enter")
        await expect(question.get_by_role("button", name="Yes")).to_be_focused()
        await keys_.press("Enter")
        survey = widget.chat.get_by_role("form", name="How was your chat?")
        await expect(survey).to_be_visible()
        await expect(survey.get_by_role("radio").first).to_be_focused()
        await tab_to(page, survey.get_by_role("button", name="Skip"))
        await keys_.press("Enter")
        await expect(widget.log).to_contain_text("The chat with the agent has ended.")
        await expect(widget.box).to_be_focused()

        # The log was added to, a message at a time, never redrawn.
        lines = await widget.lines()
        changes = await page.evaluate("window.__log")
        assert changes["removed"] == 0, changes
        assert changes["added"] == len(lines) - before, (changes, before, lines)
        assert sum("My parcel A-17 is late." in line for line in lines) == 1

        # -- and the window closes to its launcher ----------------------------------------
        await tab_to(page, minimise, shift=True)
        await keys_.press("Enter")
        await expect(launcher).to_be_focused()
        tab.assert_no_problems()

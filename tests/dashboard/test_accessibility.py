"""The dashboard as people who use a screen reader, a keyboard or zoom meet it, in a real
headless Chromium. On every page, in the states agents and admins see, axe-core (WCAG 2.1
A and AA, and best practices) finds nothing serious or critical, with the pages' own
Content-Security-Policy in force; at 640x360 (1280x720 zoomed to 200 %) Tab reaches every
control, each on screen and with a focus ring of at least 3:1. An agent's whole work is
done by keyboard alone, focus landing where the next step is after each step; notices
are announced once, an offer's kept while it is pending. Screenshots of the focus states
for docs/images are taken on the way (OFFLOAD_HUB_SCREENSHOTS=1)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from hub import keys
from hub.agents.presence import set_presence
from tests.dashboard.accessibility import assert_keyboard_reaches_everything, audit, tab_to
from tests.dashboard.browser import Tab, go_online, open_tab, screenshot_path, sign_in
from tests.dashboard.support import DESK, PASSWORD, add_agent
from tests.hub.test_callbacks import Receiver, with_callback
from tests.providers.smtp_server import MailServer
from tests.providers.test_email import SECRET
from tests.support.chatbot import Hub

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

LARGE = {"width": 1440, "height": 900}
SMALL = {"width": 640, "height": 360}  # 1280x720 at 200 %
TRANSCRIPT = [
    {"user": "guest", "message": "Where is my parcel?"},
    {"user": "assistant", "message": "It left our warehouse on <b>Monday</b>."},
]


async def check(tab: Tab, state: str) -> None:
    """axe on the page as it is; then, at 640x360, Tab reaches every control."""
    await audit(tab, state)
    page = tab.page
    await page.set_viewport_size(SMALL)
    try:
        await assert_keyboard_reaches_everything(page, f"{state}, at 640x360")
    finally:
        await page.set_viewport_size(LARGE)


async def desk_and_mail(hub_factory: Any, plain: MailServer, **options: Any) -> Hub:
    """The desk, then email tickets when nobody takes a chat."""
    hub: Hub = await hub_factory(
        providers={
            "desk": {"type": "desk"},
            "mail": {"type": "email", **plain.config(inbound_secret=SECRET, timeout=1.0)},
        },
        queues=[
            {"name": "support", "chain": ["desk", "mail"]},
            {"name": "vip", "chain": ["desk", "mail"]},
        ],
        **options,
    )
    return hub


async def test_an_agents_pages_pass_axe_and_the_keyboard_reaches_everything(
    hub_factory: Any, browser: Browser, plain: MailServer
) -> None:
    async with asyncio.timeout(240):
        hub = await desk_and_mail(hub_factory, plain)
        chatbot = hub.chatbot
        ana_id = await add_agent(hub, "Ana", online=False)
        ben_id = await add_agent(hub, "Ben", online=False)
        base = str(hub.client.make_url("/dashboard/"))
        # Nobody online: this one becomes a ticket.
        ticket = await chatbot.escalate(
            "t1", user={"name": "Jo Doe", "email": "jo@example.com"}, inquiry="Where is my bill?"
        )
        assert ticket["status"] == "ticket"

        # -- signed out --------------------------------------------------------------------
        ana_tab = await open_tab(browser)
        ana = ana_tab.page
        await ana.goto(base)
        await expect(ana.get_by_label("Email")).to_be_focused()
        await check(ana_tab, "signed out: sign in")
        await ana.get_by_label("Email").fill("ana@example.com")
        await ana.get_by_label("Password").fill("not her password")
        await ana.get_by_role("button", name="Sign in").click()
        await expect(ana.get_by_role("alert")).to_be_visible()
        await expect(ana.get_by_label("Password")).to_be_focused()
        await check(ana_tab, "signed out: a wrong password")
        ana_tab.problems.clear()  # the browser logs the 401: expected here

        # -- the inbox, with an offer ----------------------------------------------------
        await sign_in(ana_tab, base, "ana@example.com")
        await go_online(ana_tab)
        cid = (
            await chatbot.escalate(
                "s1",
                user={"name": "Zoe", "email": "zoe@example.com"},
                inquiry="My parcel never arrived",
                transcript=TRANSCRIPT,
                data={"orderId": "A-1001"},
            )
        )["conversationId"]
        waiting = ana.get_by_role("table", name="Waiting")
        row = waiting.get_by_role("row").filter(has_text="My parcel never arrived")
        await expect(row).to_contain_text("Offered to you")
        await expect(ana.get_by_role("status").filter(has_text="New conversation")).to_be_visible()
        await check(ana_tab, "inbox, an offer")

        # -- mid-chat ----------------------------------------------------------------------
        await row.get_by_role("button", name="Accept").click()
        await expect(ana.get_by_role("heading", name="Zoe", level=1)).to_be_visible()
        await expect(ana.get_by_label("Message", exact=True)).to_be_focused()
        await expect(ana.get_by_text("Connected")).to_be_visible()
        log = ana.get_by_role("log")
        await chatbot.send(cid, "u1", "Hello, is anyone there?")
        await expect(log).to_contain_text("is anyone there?")
        await ana.get_by_label("Message", exact=True).fill("Hello Zoe, Ana here.")
        await ana.keyboard.press("Enter")
        await expect(log.get_by_role("listitem").filter(has_text="Ana here.")).to_contain_text(
            "Delivered"
        )
        await chatbot.call(
            "POST", f"/v1/conversations/{cid}/typing", conversation_id=cid, json={"typing": True}
        )
        await expect(ana.get_by_text("Zoe is typing…")).to_be_visible()
        await ana.get_by_label("Note", exact=True).fill("Gold customer.")
        await ana.get_by_role("button", name="Add note").click()
        await expect(ana.get_by_role("region", name="Internal notes")).to_contain_text("Gold")
        await check(ana_tab, "mid-chat")

        # -- the transfer --------------------------------------------------------------------
        ben_tab = await open_tab(browser)
        ben = ben_tab.page
        await sign_in(ben_tab, base, "ben@example.com")
        await set_presence(hub.app, ben_id, "online")
        await ana.reload()
        await ana.get_by_label("Transfer to").select_option(label="Ben (online, 0 of 3 chats)")
        await check(ana_tab, "a transfer, chosen")
        await ana.get_by_role("button", name="Transfer", exact=True).click()
        await expect(ana.get_by_text("The conversation was transferred.")).to_be_visible()
        await expect(ana.get_by_role("heading", name="Inbox", level=1)).to_be_focused()
        await check(ana_tab, "inbox, after a transfer")
        await expect(ben.get_by_text("A conversation was transferred to you.")).to_be_visible()
        await check(ben_tab, "inbox, a chat transferred to me")

        # -- closed ----------------------------------------------------------------------------
        mine = ben.get_by_role("table", name="My conversations").get_by_role("row")
        await mine.filter(has_text="Zoe").get_by_role("link", name="Zoe").click()
        await ben.get_by_label("Reason").select_option(label="Resolved")
        await ben.get_by_role("button", name="Close conversation").click()
        await expect(ben.get_by_text("The conversation is closed")).to_be_visible()
        await chatbot.call(
            "POST",
            f"/v1/conversations/{cid}/rating",
            conversation_id=cid,
            json={"value": "5", "comment": "Quick."},
        )
        closed = ben.get_by_role("table", name="Recently closed").get_by_role("row")
        await closed.filter(has_text="Zoe").get_by_role("link", name="Zoe").click()
        await expect(ben.get_by_role("region", name="Rating")).to_contain_text("5 of 5")
        await expect(ben.get_by_text("This conversation has ended")).to_be_visible()
        await check(ben_tab, "a closed conversation")

        # -- profile, tickets ------------------------------------------------------------------
        await ana.get_by_role("link", name="Profile").click()
        await expect(ana.get_by_role("heading", name="My profile", level=1)).to_be_focused()
        await check(ana_tab, "profile")
        await ana.get_by_role("link", name="Tickets").click()
        tickets = ana.get_by_role("table", name="Latest tickets")
        await expect(tickets).to_contain_text("Jo Doe")
        await check(ana_tab, "tickets")
        await ana.get_by_role("search").get_by_label("User").fill("jo@")
        await ana.get_by_role("search").get_by_role("button", name="Search").click()
        await expect(ana.get_by_role("heading", name="Tickets found")).to_be_focused()
        await check(ana_tab, "tickets, searched")
        await ana.get_by_role("table", name="Tickets found").get_by_role("link").click()
        await expect(ana.get_by_role("heading", name="Jo Doe", level=1)).to_be_visible()
        await check(ana_tab, "a ticket")
        assert ana_id
        for tab in (ana_tab, ben_tab):
            tab.assert_no_problems()


async def test_the_admin_pages_pass_axe_and_the_keyboard_reaches_everything(
    hub_factory: Any, browser: Browser, receiver: Receiver
) -> None:
    async with asyncio.timeout(180):
        hub: Hub = await hub_factory(**DESK, allow_private_urls=True)
        await add_agent(hub, "Boss", role="admin", online=False)
        ana_id = await add_agent(hub, "Ana")
        # The bot's callback URL refuses what the hub sends it: dead letters.
        await with_callback(hub, receiver)
        receiver.answer = 422
        cid = (await hub.chatbot.escalate("s1", user={"name": "Zoe"}, inquiry="Refund?"))[
            "conversationId"
        ]
        desk = hub.app[keys.WORKSPACE].desks["desk"]
        await desk.accept(ana_id, cid)
        await desk.reply(ana_id, cid, "<p>Hello Zoe.</p>")
        await hub.chatbot.escalate("s2", user={"name": "Mia"}, inquiry="Address change")
        await hub.settled()
        base = str(hub.client.make_url("/dashboard/"))
        tab = await open_tab(browser)
        page = tab.page
        await sign_in(tab, base, "boss@example.com")

        await page.get_by_role("link", name="Overview").click()
        await expect(page.get_by_role("table", name="Agents")).to_contain_text("Ana")
        await check(tab, "overview")

        await page.get_by_role("link", name="Agents").click()
        await check(tab, "agents")
        await page.get_by_role("table", name="Everyone").get_by_role("link", name="Ana").click()
        await expect(page.get_by_role("heading", name="Ana", level=1)).to_be_focused()
        await check(tab, "an agent")

        await page.get_by_role("link", name="Bots").click()
        await page.get_by_label("Name").fill("Help centre bot")
        await page.get_by_role("button", name="Add bot").click()
        await expect(page.get_by_label("Secret key")).to_be_focused()
        await check(tab, "bots, a new key shown")

        await page.get_by_role("link", name="Canned responses").click()
        await page.get_by_label("Title").fill("Looking into it")
        await page.get_by_label("Text").fill("I am checking with the carrier.")
        await page.get_by_role("button", name="Add response").click()
        await expect(page.get_by_text("The canned response is saved.")).to_be_visible()
        await check(tab, "canned responses")

        await page.get_by_role("link", name="Dead letters").click()
        await expect(page.get_by_role("button", name="Send", exact=False).first).to_be_visible()
        await check(tab, "dead letters")

        await page.goto(f"{base}conversations/{cid}")
        await expect(page.get_by_text("You are watching Ana's chat live.")).to_be_visible()
        await check(tab, "watching a chat")

        missing = await page.goto(f"{base}conversations/c_none")
        assert missing is not None and missing.status == 404
        tab.problems.clear()  # the browser logs the 404: expected here
        await check(tab, "an error page")
        tab.assert_no_problems()


async def focused(page: Page) -> str:
    """What has focus, as a person would say it."""
    return await page.evaluate(  # type: ignore[no-any-return]
        """() => {
            const el = document.activeElement;
            return el.tagName.toLowerCase() + " " + (el.getAttribute("aria-label")
                || (el.labels && el.labels[0] ? el.labels[0].textContent : el.textContent)
                ).trim();
        }"""
    )


async def test_an_agents_whole_work_by_keyboard(hub_factory: Any, browser: Browser) -> None:
    async with asyncio.timeout(150):
        hub: Hub = await hub_factory(**DESK)
        chatbot = hub.chatbot
        await add_agent(hub, "Ana", online=False)
        ben_id = await add_agent(hub, "Ben", online=False)
        base = str(hub.client.make_url("/dashboard/"))
        tab = await open_tab(browser)
        page = tab.page
        keys_ = page.keyboard

        # -- sign in: the form's first field has focus; then the inbox's heading --------
        await page.goto(base)
        await expect(page.get_by_label("Email")).to_be_focused()
        await keys_.type("ana@example.com")
        await keys_.press("Tab")
        await expect(page.get_by_label("Password")).to_be_focused()
        await keys_.type(PASSWORD)
        await keys_.press("Enter")
        inbox_heading = page.get_by_role("heading", name="Inbox", level=1)
        await expect(inbox_heading).to_be_focused()
        await expect(page.get_by_text("Connected")).to_be_visible()

        # -- the skip link: first in the page, it takes focus to the content ------------
        skip = page.get_by_role("link", name="Skip to content")
        await tab_to(page, skip, shift=True)
        box = await skip.bounding_box()
        assert box is not None and box["x"] >= 0 and box["y"] >= 0  # shown while focused
        await keys_.press("Enter")
        await expect(page.locator("main")).to_be_focused()

        # -- status: Online, from the keyboard; focus stays on the control ---------------
        status = page.get_by_label("Status")
        await tab_to(page, status, shift=True)
        await keys_.press("Home")
        await expect(page.get_by_text("You are online.")).to_be_visible()
        await expect(status).to_have_value("online")
        await expect(status).to_be_focused()
        sign_out = page.get_by_role("button", name="Sign out")
        await keys_.press("Tab")
        await expect(sign_out).to_be_focused()
        header = await page.locator("header").bounding_box()
        assert header is not None
        await page.screenshot(
            path=str(screenshot_path("focus-top-bar.png")),
            clip={"x": 0, "y": 0, "width": header["width"], "height": header["height"]},
        )

        # -- accept: an offer comes; Tab to its Accept; the message box has focus ---------
        cid = (
            await chatbot.escalate(
                "s1", user={"name": "Zoe"}, inquiry="My parcel never arrived", transcript=TRANSCRIPT
            )
        )["conversationId"]
        row = page.get_by_role("table", name="Waiting").get_by_role("row")
        row = row.filter(has_text="My parcel never arrived")
        await expect(row).to_contain_text("Offered to you")
        await set_presence(hub.app, ben_id, "online")  # for the transfer below
        accept = row.get_by_role("button", name="Accept")
        await tab_to(page, accept)
        await page.screenshot(path=str(screenshot_path("focus-accept.png")))
        await keys_.press("Enter")
        box_ = page.get_by_label("Message", exact=True)
        await expect(page.get_by_role("heading", name="Zoe", level=1)).to_be_visible()
        await expect(box_).to_be_focused()
        await expect(page.get_by_text("You took the conversation.")).to_be_visible()
        await expect(page.get_by_text("Connected")).to_be_visible()

        # -- send: Enter sends; the box is empty and keeps focus --------------------------
        await keys_.type("Hello Zoe, Ana here.")
        await keys_.press("Enter")
        log = page.get_by_role("log")
        await expect(log.get_by_role("listitem").filter(has_text="Ana here.")).to_contain_text(
            "Delivered"
        )
        await expect(box_).to_have_value("")
        await expect(box_).to_be_focused()
        await page.screenshot(path=str(screenshot_path("focus-message.png")))
        await chatbot.send(cid, "u1", "Thanks!")
        await expect(log).to_contain_text("Thanks!")
        await expect(box_).to_be_focused()  # a message coming in leaves focus where it is

        # -- transfer: to Ben, with the arrow keys; back to the inbox's heading ----------
        target = page.get_by_label("Transfer to")
        await tab_to(page, target)
        await keys_.press("ArrowDown")
        await expect(target).to_have_value(f"agent:{ben_id}")
        await keys_.press("Tab")
        await expect(page.get_by_role("button", name="Transfer", exact=True)).to_be_focused()
        await keys_.press("Enter")
        await expect(page.get_by_text("The conversation was transferred.")).to_be_visible()
        await expect(inbox_heading).to_be_focused()

        # -- close: another chat, taken and closed by keyboard -----------------------------
        await chatbot.escalate("s2", user={"name": "Mia"}, inquiry="Change my address")
        row = page.get_by_role("table", name="Waiting").get_by_role("row")
        row = row.filter(has_text="Change my address")
        await expect(row).to_be_visible()
        await tab_to(page, row.get_by_role("button", name="Accept"))
        await keys_.press("Enter")
        await expect(page.get_by_role("heading", name="Mia", level=1)).to_be_visible()
        await expect(box_).to_be_focused()
        await tab_to(page, page.get_by_label("Reason"))
        await keys_.press("Tab")
        await expect(page.get_by_role("button", name="Close conversation")).to_be_focused()
        await keys_.press("Enter")
        await expect(page.get_by_text("The conversation is closed")).to_be_visible()
        await expect(inbox_heading).to_be_focused()
        closed = page.get_by_role("table", name="Recently closed").get_by_role("row")
        await expect(closed.filter(has_text="Change my address")).to_contain_text("resolved")
        assert await focused(page) == "h1 Inbox"
        tab.assert_no_problems()


NOTICE_LOG = """() => {
    const region = document.getElementById("notice");
    window.__said = [];
    // What a screen reader is given to say: each line added, each new text in a line.
    new MutationObserver((changes) => {
        for (const change of changes) {
            if (change.type === "characterData") window.__said.push(change.target.data);
            for (const node of change.addedNodes) window.__said.push(node.textContent);
        }
    }).observe(region, {childList: true, subtree: true, characterData: true});
}"""


async def test_notices_are_announced_once_and_an_offer_kept_while_pending(
    hub_factory: Any, browser: Browser
) -> None:
    async with asyncio.timeout(90):
        hub: Hub = await hub_factory(**DESK)
        await add_agent(hub, "Ana", online=False)
        base = str(hub.client.make_url("/dashboard/"))
        tab = await open_tab(browser)
        page = tab.page
        await page.clock.install()
        await sign_in(tab, base, "ana@example.com")
        notices = page.locator("#notice")
        # There before anything is said, for screen readers to hear the first notice.
        await expect(notices).to_have_attribute("role", "status")
        await expect(notices).to_be_empty()
        await page.evaluate(NOTICE_LOG)

        await go_online(tab)
        cid = (await hub.chatbot.escalate("s1", user={"name": "Zoe"}, inquiry="Refund?"))[
            "conversationId"
        ]
        offer = "New conversation waiting: Zoe \N{EN DASH} Refund? (offered to you)"
        await expect(notices.get_by_text(offer)).to_be_visible()
        # The status notice goes after 15 s; the offer's stays while it is pending.
        await page.clock.fast_forward(20_000)
        await expect(notices.get_by_text("You are online.")).to_have_count(0)
        await expect(notices.get_by_text(offer)).to_be_visible()
        await page.clock.fast_forward(60_000)
        await expect(notices.get_by_text(offer)).to_be_visible()

        # The user leaves: the offer is no longer pending and its notice goes.
        await hub.chatbot.call(
            "POST", f"/v1/conversations/{cid}/close", conversation_id=cid, json={}
        )
        await expect(notices.get_by_text(offer)).to_have_count(0)
        await expect(notices).to_be_empty()
        said = await page.evaluate("window.__said")
        assert said.count(offer) == 1, said
        assert [text for text in said if "Zoe" in text][-1] == offer, said
        tab.assert_no_problems()

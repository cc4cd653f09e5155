"""The desk's newer parts as people use them, in a real headless Chromium: an admin
watching an agent's chat sees it live and takes it over with an explicit action the agent
is told about; offers do not count against the limit and go to the next agent when not
accepted in time; tickets from the email step with the replies that came back, found by
user and date; ratings on the conversation and per agent and queue in the overview.
Screenshots for docs/images are taken on the way (OFFLOAD_HUB_SCREENSHOTS=1)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from hub import keys
from hub.agents.presence import set_presence
from tests.dashboard.browser import go_online, open_tab, screenshot_path, sign_in
from tests.dashboard.support import DESK, add_agent
from tests.dashboard.test_handoff_in_browser import wait_for_action
from tests.providers.smtp_server import MailServer
from tests.providers.test_email import GMAIL_STYLE, SECRET, post_inbound, raw_reply
from tests.support.chatbot import Hub

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


async def accept_from_inbox(page: Page, inquiry: str) -> None:
    row = page.get_by_role("table", name="Waiting").get_by_role("row").filter(has_text=inquiry)
    await row.get_by_role("button", name="Accept").click()
    await expect(page.get_by_text("You took the conversation.")).to_be_visible()


async def test_an_admin_watches_a_chat_live_and_takes_it_over(
    hub_factory: Any, browser: Browser
) -> None:
    async with asyncio.timeout(120):
        hub: Hub = await hub_factory(**DESK)
        chatbot = hub.chatbot
        boss_id = await add_agent(hub, "Boss", role="admin", online=False)
        await add_agent(hub, "Ana", online=False)
        base = str(hub.client.make_url("/dashboard/"))
        ana_tab, boss_tab = await open_tab(browser), await open_tab(browser)
        ana, boss = ana_tab.page, boss_tab.page
        await sign_in(ana_tab, base, "ana@example.com")
        await go_online(ana_tab)
        cid = (
            await chatbot.escalate(
                "s1", user={"name": "Zoe", "language": "en"}, inquiry="Refund for order A-9"
            )
        )["conversationId"]
        await accept_from_inbox(ana, "Refund for order A-9")

        # -- the admin opens Ana's chat: read-only, live ------------------------------------
        await sign_in(boss_tab, base, "boss@example.com")
        await boss.goto(f"{base}conversations/{cid}")
        await expect(boss.get_by_role("heading", name="Zoe", level=1)).to_be_visible()
        await expect(boss.get_by_text("You are watching Ana's chat live.")).to_be_visible()
        await expect(boss.get_by_label("Message", exact=True)).to_have_count(0)
        boss_log = boss.get_by_role("log")
        await chatbot.send(cid, "u1", "Is anyone there?")
        await expect(boss_log).to_contain_text("Is anyone there?")
        await ana.get_by_label("Message", exact=True).fill("Hello Zoe, Ana here.")
        await ana.get_by_role("button", name="Send", exact=True).click()
        await expect(boss_log).to_contain_text("Hello Zoe, Ana here.")
        await boss.screenshot(path=str(screenshot_path("watching.png")), full_page=True)

        # -- taking over is an explicit action; Ana is told; the user sees Boss join --------
        await boss.get_by_role("button", name="Take over").click()
        await expect(boss.get_by_text("You took the conversation over")).to_be_visible()
        await expect(ana.get_by_text("Boss took this conversation over.")).to_be_visible()
        await expect(ana.get_by_label("Message", exact=True)).to_be_disabled()
        await wait_for_action(chatbot, cid, "displaySystemMessage", message="agent-left")
        await wait_for_action(chatbot, cid, "setChatbotName", source="name", name="Boss")
        await boss.get_by_label("Message", exact=True).fill("Boss here: the refund is on its way.")
        await boss.get_by_role("button", name="Send", exact=True).click()
        await wait_for_action(
            chatbot, cid, "displayChatbotMessage", message="Boss here: the refund is on its way."
        )
        assert await hub.app[keys.WORKSPACE].holder(cid) == boss_id
        for tab in (ana_tab, boss_tab):
            tab.assert_no_problems()


async def test_offers_and_limits_in_the_inbox(hub_factory: Any, browser: Browser) -> None:
    async with asyncio.timeout(90):
        hub: Hub = await hub_factory(
            providers={"desk": {"type": "desk", "offer_timeout_seconds": 3}},
            queues=DESK["queues"],
            lifecycle={"tick_seconds": 0.25},
        )
        await add_agent(hub, "Ana", max_chats=2, online=False)
        base = str(hub.client.make_url("/dashboard/"))
        tab = await open_tab(browser)
        page = tab.page
        await sign_in(tab, base, "ana@example.com")
        await go_online(tab)
        for session, inquiry in (("s1", "First question"), ("s2", "Second question")):
            await hub.chatbot.escalate(session, inquiry=inquiry)
        waiting = page.get_by_role("table", name="Waiting")
        await expect(waiting.get_by_role("row").filter(has_text="Offered to you")).to_have_count(2)
        await hub.chatbot.escalate("s3", inquiry="Third question")
        third = waiting.get_by_role("row").filter(has_text="Third question")
        await expect(third).to_be_visible()
        await expect(third).not_to_contain_text("Offered to you")  # she has no room for offers

        # Two offers pending, no chat yet: she takes the third by hand, no "at your limit".
        await accept_from_inbox(page, "Third question")
        await page.get_by_role("link", name="Inbox").click()
        await expect(waiting.get_by_role("row").filter(has_text="Offered to you")).to_have_count(1)

        # She lets the offer go: after 3 s it goes back to the queue, and she is told.
        await expect(
            page.get_by_text("An offer you did not accept in time went back to the queue.")
        ).to_be_visible()
        await expect(waiting.get_by_role("row").filter(has_text="Offered to you")).to_have_count(0)
        tab.assert_no_problems()


async def test_tickets_and_ratings_in_the_dashboard(
    hub_factory: Any, browser: Browser, plain: MailServer
) -> None:
    async with asyncio.timeout(120):
        hub: Hub = await hub_factory(
            providers={
                "desk": {"type": "desk"},
                "mail": {
                    "type": "email",
                    **plain.config(inbound_secret=SECRET, timeout=1.0),
                },
            },
            queues=[
                {"name": "support", "chain": ["desk", "mail"]},
                {"name": "vip", "chain": ["desk", "mail"]},
            ],
        )
        chatbot = hub.chatbot
        ana_id = await add_agent(hub, "Ana", online=False)
        await add_agent(hub, "Boss", role="admin", online=False)
        desk = hub.app[keys.WORKSPACE].desks["desk"]

        # Nobody online: two escalations become tickets; one gets an emailed reply.
        tickets = []
        for session, name, email, inquiry in (
            ("t1", "Jo Doe", "jo@example.com", "Where is my invoice?"),
            ("t2", "Mia Lind", "mia@example.org", "Change my address"),
        ):
            answer = await chatbot.escalate(
                session, user={"name": name, "email": email}, inquiry=inquiry
            )
            assert answer["status"] == "ticket"
            tickets.append(answer["conversationId"])
        await plain.recorder.wait_for(4)
        (sent,) = plain.recorder.with_header(
            "Message-ID", f"<offload.{tickets[0]}.ticket@example.com>"
        )
        reply = raw_reply(
            GMAIL_STYLE,
            in_reply_to=sent.header("Message-ID"),
            subject="Re: " + sent.header("Subject"),
        )
        assert (await post_inbound(hub, reply))[0] == 200

        # Ana, online, has rated chats (a 5 with a comment, a 3).
        await set_presence(hub.app, ana_id, "online")
        for session, queue, value, comment in (
            ("r1", "support", "5", "Ana was great"),
            ("r2", "vip", "3", None),
        ):
            cid = (await chatbot.escalate(session, queue=queue, inquiry=f"Rated {value}"))[
                "conversationId"
            ]
            await desk.accept(ana_id, cid)
            await desk.close_by(ana_id, cid, "resolved")
            body = {"value": value, **({"comment": comment} if comment else {})}
            await chatbot.call(
                "POST", f"/v1/conversations/{cid}/rating", conversation_id=cid, json=body
            )

        base = str(hub.client.make_url("/dashboard/"))
        ana_tab = await open_tab(browser)
        ana = ana_tab.page
        await sign_in(ana_tab, base, "ana@example.com")

        # -- the tickets, their status, the reply; found by user and by date ---------------
        await ana.get_by_role("link", name="Tickets").click()
        found = ana.get_by_role("table", name="Latest tickets")
        await expect(found.get_by_role("row").filter(has_text="Jo Doe")).to_contain_text("Answered")
        await expect(found.get_by_role("row").filter(has_text="Mia Lind")).to_contain_text(
            "Waiting for a reply"
        )
        search = ana.get_by_role("search", name="Search tickets")
        await search.get_by_label("User").fill("mia@example")
        await search.get_by_role("button", name="Search").click()
        results = ana.get_by_role("table", name="Tickets found")
        await expect(results.get_by_role("row")).to_have_count(2)  # the header and Mia
        await expect(results).to_contain_text("Change my address")
        await search.get_by_label("User").fill("")
        await search.get_by_label("From").fill("2020-01-01")
        await search.get_by_label("To").fill("2020-01-31")
        await search.get_by_role("button", name="Search").click()
        await expect(ana.get_by_text("No ticket matches.")).to_be_visible()
        await ana.get_by_role("link", name="Show all").click()
        await ana.screenshot(path=str(screenshot_path("tickets.png")), full_page=True)
        await found.get_by_role("row").filter(has_text="Jo Doe").get_by_role("link").click()
        await expect(ana.get_by_role("heading", name="Replies", level=2)).to_be_visible()
        await expect(ana.get_by_role("log")).to_contain_text("We found your order")

        # -- her rated chats: the rating on the conversation and in the inbox --------------
        await ana.get_by_role("link", name="Inbox").click()
        closed = ana.get_by_role("table", name="Recently closed")
        await expect(closed.get_by_role("row").filter(has_text="Rated 5")).to_contain_text("5 of 5")
        await closed.get_by_role("row").filter(has_text="Rated 5").get_by_role("link").click()
        rating = ana.get_by_role("region", name="Rating")
        await expect(rating).to_contain_text("5 of 5")
        await expect(rating).to_contain_text("Ana was great")

        # -- the overview: averages per agent and per queue --------------------------------
        boss_tab = await open_tab(browser)
        boss = boss_tab.page
        await sign_in(boss_tab, base, "boss@example.com")
        await boss.get_by_role("link", name="Overview").click()
        by_agent = boss.get_by_role("table", name="Ratings by agent (30 days)")
        await expect(by_agent.get_by_role("row", name="Ana")).to_contain_text("4.0")
        by_queue = boss.get_by_role("table", name="Ratings by queue (30 days)")
        await expect(by_queue.get_by_role("row", name="support")).to_contain_text("5.0")
        await expect(by_queue.get_by_role("row", name="vip")).to_contain_text("3.0")
        await boss.screenshot(path=str(screenshot_path("overview.png")), full_page=True)
        for tab in (ana_tab, boss_tab):
            tab.assert_no_problems()

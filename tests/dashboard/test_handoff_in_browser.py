"""A whole handoff as agents live it, in a real headless Chromium: an admin adds the
agents and a canned response, an agent signs in and goes online, an escalation made
through the v1 API appears in the inbox, the agent takes it and chats with the user
(typing, messages, files and ticks on both sides), writes a note, changes their profile,
transfers the chat to a second agent in a second browser, who closes it: the chatbot's
stream goes back to the bot. The screenshots in docs/images are taken on the way."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from hub import keys
from tests.dashboard.browser import Tab, go_online, open_tab, screenshot_path, sign_in
from tests.dashboard.support import DESK, PASSWORD, add_agent
from tests.support.chatbot import Chatbot, Hub

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

ZOE = {"name": "Zoe", "lastName": "Ng", "email": "zoe@example.com", "language": "en"}
TRANSCRIPT = [
    {"user": "guest", "message": "Where is my parcel?", "datetime": "2026-11-23T09:58:00Z"},
    {
        "user": "assistant",
        "message": "Your order A-1001 left our warehouse on Monday.",
        "datetime": "2026-11-23T09:58:02Z",
    },
    {"user": "guest", "message": "It never arrived. Let me talk to a human.", "datetime": None},
]


def action(wanted: str, /, **data: Any) -> Any:
    """A predicate on the chatbot's envelopes: this action, with these data values."""

    def matches(envelope: dict[str, Any]) -> bool:
        return envelope["action"] == wanted and all(
            envelope["data"].get(key) == value for key, value in data.items()
        )

    return matches


async def wait_for_action(
    chatbot: Chatbot, cid: str, wanted: str, /, **data: Any
) -> dict[str, Any]:
    """The first envelope of the chatbot's stream with this action and data."""
    predicate = action(wanted, **data)
    events = await chatbot.wait_for(cid, predicate)
    return next(e for e in events if predicate(e))


async def agents_online(hub: Hub) -> int:
    return (await hub.chatbot.call("GET", "/v1/availability"))["agentsOnline"]  # type: ignore[no-any-return]


async def admin_adds_agents_and_a_canned_response(admin: Tab) -> None:
    page = admin.page
    await page.get_by_role("link", name="Agents").click()
    for name in ("Ana", "Ben"):
        form = page.get_by_role("form", name="Add an agent")
        await form.get_by_label("Email").fill(f"{name.lower()}@example.com")
        await form.get_by_label("Display name").fill(name)
        await form.get_by_label("Password").fill(PASSWORD)
        await form.get_by_label("Languages").fill("en, es")
        await form.get_by_role("button", name="Add agent").click()
        await expect(page.get_by_text("The agent is saved.")).to_be_visible()
        await expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
        await page.get_by_role("link", name="Agents").first.click()
    everyone = page.get_by_role("table", name="Everyone")
    await expect(everyone.get_by_role("row", name="Ana")).to_contain_text("ana@example.com")
    await expect(everyone.get_by_role("row", name="Ben")).to_contain_text("ben@example.com")

    await page.get_by_role("link", name="Canned responses").click()
    await page.get_by_label("Title").fill("Looking into it")
    await page.get_by_label("Text").fill("Thanks for waiting, I am checking with the carrier.")
    await page.get_by_role("button", name="Add response").click()
    await expect(page.get_by_text("The canned response is saved.")).to_be_visible()


async def test_a_whole_handoff(hub_factory: Any, browser: Browser) -> None:
    async with asyncio.timeout(150):
        hub: Hub = await hub_factory(**DESK)
        chatbot = hub.chatbot
        await add_agent(hub, "Admin", role="admin", online=False)
        base = str(hub.client.make_url("/dashboard/"))

        # -- an admin adds two agents and a canned response --------------------------------
        admin = await open_tab(browser)
        await sign_in(admin, base, "admin@example.com")
        await admin_adds_agents_and_a_canned_response(admin)

        # -- Ana signs in and goes online ---------------------------------------------------------
        ana_tab = await open_tab(browser)
        ana = ana_tab.page
        await sign_in(ana_tab, base, "ana@example.com")
        assert await agents_online(hub) == 0
        await go_online(ana_tab)
        assert await agents_online(hub) == 1

        # -- an escalation through the v1 API appears in her inbox, live ---------------------
        answer = await chatbot.escalate(
            "s1",
            user=ZOE,
            inquiry="My parcel never arrived",
            transcript=TRANSCRIPT,
            data={"orderId": "A-1001", "plan": {"tier": "gold"}},
        )
        cid = answer["conversationId"]
        waiting = ana.get_by_role("table", name="Waiting")
        row = waiting.get_by_role("row").filter(has_text="My parcel never arrived")
        await expect(row).to_contain_text("Zoe Ng")
        await expect(row).to_contain_text("Offered to you")
        await expect(ana.get_by_text("New conversation waiting: Zoe Ng")).to_be_visible()
        for session, name, inquiry in (
            ("s2", "Luis", "Can I change my delivery address?"),
            ("s3", "Mia", "Refund for a damaged item"),
        ):
            await chatbot.escalate(session, user={"name": name, "language": "es"}, inquiry=inquiry)
            await expect(waiting.get_by_role("row").filter(has_text=inquiry)).to_be_visible()

        # -- she accepts; the bot's transcript is there, apart from the live chat ------------
        await row.get_by_role("button", name="Accept").click()
        await expect(ana.get_by_role("heading", name="Zoe Ng", level=1)).to_be_visible()
        transcript = ana.get_by_role("region", name="Bot transcript")
        await expect(transcript).to_contain_text("Where is my parcel?")
        await expect(transcript).to_contain_text("left our warehouse on Monday")
        await expect(ana.get_by_role("region", name="Escalation data")).to_contain_text("A-1001")
        await expect(ana.get_by_role("region", name="User")).to_contain_text("zoe@example.com")
        log = ana.get_by_role("log")
        await expect(log).not_to_contain_text("Where is my parcel?")
        await wait_for_action(chatbot, cid, "setChatbotName", source="name", name="Ana")

        # -- typing, both ways --------------------------------------------------------------------
        box = ana.get_by_label("Message")
        await box.press_sequentially("Hello Zoe")
        await wait_for_action(chatbot, cid, "displayChatbotActivity", type="writing", name="Ana")
        await chatbot.call(
            "POST", f"/v1/conversations/{cid}/typing", conversation_id=cid, json={"typing": True}
        )
        typing = ana.get_by_text("Zoe Ng is typing…")
        await expect(typing).to_be_visible()

        # -- the user's message: shown live; delivered (SINGLE_TICK), read (DOUBLE_TICK) ----
        sent = await chatbot.send(cid, "u1", "Hi, is anyone there?")
        await expect(log).to_contain_text("Hi, is anyone there?")
        await expect(typing).to_be_hidden()
        events = await chatbot.wait_for(
            cid, action("updateMessage", externalId=sent["externalId"], action="DOUBLE_TICK")
        )
        ticks = [
            e["data"]["action"]
            for e in events
            if e["action"] == "updateMessage" and e["data"].get("externalId") == sent["externalId"]
        ]
        assert ticks == ["SINGLE_TICK", "DOUBLE_TICK"]

        # -- her message: delivered when stored, read when the user reads it ------------------
        await box.fill("Hello Zoe, I am Ana. Let me check your order.")
        await ana.get_by_role("button", name="Send", exact=True).click()
        said = log.get_by_role("listitem").filter(has_text="Let me check your order.")
        await expect(said).to_contain_text("✓ Delivered")
        shown = await wait_for_action(
            chatbot,
            cid,
            "displayChatbotMessage",
            message="Hello Zoe, I am Ana. Let me check your order.",
        )
        assert shown["data"]["type"] == "answer"
        await chatbot.call(
            "POST",
            f"/v1/conversations/{cid}/read",
            conversation_id=cid,
            json={"upTo": shown["data"]["custom"]["externalId"]},
        )
        await expect(said).to_contain_text("✓✓ Read")

        # -- a canned response, a file, an internal note ----------------------------------------
        await ana.get_by_label("Canned response").select_option(label="Looking into it")
        await expect(box).to_have_value("Thanks for waiting, I am checking with the carrier.")
        await box.press("Enter")
        await wait_for_action(
            chatbot,
            cid,
            "displayChatbotMessage",
            message="Thanks for waiting, I am checking with the carrier.",
        )
        await ana.get_by_label("File").set_input_files(
            files=[{"name": "label.txt", "mimeType": "text/plain", "buffer": b"Tracking 1Z999"}]
        )
        await ana.get_by_role("button", name="Send file").click()
        await expect(log.get_by_role("link", name="label.txt")).to_be_visible()
        with_file = await chatbot.wait_for(
            cid,
            lambda e: (
                e["action"] == "displayChatbotMessage"
                and e["data"].get("media", {}).get("name") == "label.txt"
            ),
        )
        media = next(e for e in with_file if e["data"].get("media"))["data"]["media"]
        content = await chatbot.call("GET", media["url"], conversation_id=cid)
        assert content == b"Tracking 1Z999"

        notes = ana.get_by_role("region", name="Internal notes")
        await ana.get_by_label("Note", exact=True).fill("Gold customer: offer a reshipment.")
        await ana.get_by_role("button", name="Add note").click()
        await expect(notes).to_contain_text("Gold customer: offer a reshipment.")
        await chatbot.send(cid, "u2", "Thank you! The tracking number works.")
        await expect(log).to_contain_text("The tracking number works.")
        await ana.evaluate("window.scrollTo(0, 0)")
        await ana.screenshot(path=str(screenshot_path("conversation.png")), full_page=True)
        assert "reshipment" not in json.dumps(await chatbot.events(cid))

        # -- a new name and picture reach the chatbot -----------------------------------------
        await ana.get_by_role("link", name="Profile").click()
        await ana.get_by_label("Display name").fill("Ana María")
        await ana.get_by_label("Avatar URL").fill("https://cdn.example/ana.png")
        await ana.get_by_role("button", name="Save").click()
        await expect(ana.get_by_text("Your profile is saved.")).to_be_visible()
        await wait_for_action(chatbot, cid, "setChatbotName", source="name", name="Ana María")
        await wait_for_action(
            chatbot, cid, "setChatbotIcon", source="url", url="https://cdn.example/ana.png"
        )

        # -- from the inbox she sees the user write again: an unread count, live -----------
        await ana.get_by_role("link", name="Inbox").click()
        held = ana.get_by_role("table", name="My conversations").get_by_role("row")
        await expect(held.filter(has_text="Zoe Ng")).to_be_visible()
        later = await chatbot.send(cid, "u3", "Will it come this week?")
        await expect(held.filter(has_text="Zoe Ng")).to_contain_text("1 unread")
        await ana.screenshot(path=str(screenshot_path("inbox.png")))
        await held.get_by_role("link", name="Zoe Ng").click()
        await expect(ana.get_by_role("log")).to_contain_text("Will it come this week?")
        await chatbot.wait_for(
            cid, action("updateMessage", externalId=later["externalId"], action="DOUBLE_TICK")
        )

        # -- Ben comes online in a second browser; Ana transfers the chat to him -------------
        ben_tab = await open_tab(browser)
        ben = ben_tab.page
        await sign_in(ben_tab, base, "ben@example.com")
        await go_online(ben_tab)
        conversation_url = f"{base}conversations/{cid}"
        await ana.reload()
        await ana.get_by_label("Transfer to").select_option(label="Ben (online, 0 of 3 chats)")
        await ana.get_by_role("button", name="Transfer", exact=True).click()
        await expect(ana.get_by_text("The conversation was transferred.")).to_be_visible()
        await expect(ben.get_by_text("A conversation was transferred to you.")).to_be_visible()
        bens = ben.get_by_role("table", name="My conversations").get_by_role("row")
        await expect(bens.filter(has_text="My parcel never arrived")).to_contain_text("Zoe Ng")
        await wait_for_action(chatbot, cid, "displaySystemMessage", message="agent-left")
        await wait_for_action(chatbot, cid, "setChatbotName", source="name", name="Ben")
        # Ana has no access to it any more (the browser logs the 403: expected here).
        ana_tab.assert_no_problems()
        refused = await ana.goto(conversation_url)
        assert refused is not None and refused.status == 403
        ana_tab.problems.clear()

        # -- Ben reads the history and Ana's note, and closes with a reason --------------------
        await bens.filter(has_text="Zoe Ng").get_by_role("link", name="Zoe Ng").click()
        await expect(ben.get_by_role("log")).to_contain_text("Let me check your order.")
        await expect(ben.get_by_role("region", name="Internal notes")).to_contain_text("reshipment")
        seen = len(await chatbot.events(cid))
        await ben.get_by_label("Reason").select_option(label="Resolved")
        await ben.get_by_role("button", name="Close conversation").click()
        await expect(ben.get_by_text("The conversation is closed")).to_be_visible()
        await chatbot.wait_for(cid, action("displaySystemMessage", message="chat-closed"))
        tail = await chatbot.actions(cid, after=seen)
        assert [name for name, _ in tail] == [
            "hideChatbotActivity",
            "setChatbotName",
            "setChatbotIcon",
            "displaySystemMessage",
            "enableInput",
            "setExternalInfo",
        ]
        assert tail[1][1] == {"source": "default"}
        assert tail[-1][1]["hub"]["status"] == "ended"
        assert tail[-1][1]["hub"]["reason"] == "resolved"
        closed = ben.get_by_role("table", name="Recently closed").get_by_role("row")
        await expect(closed.filter(has_text="My parcel never arrived")).to_contain_text("resolved")

        for tab in (admin, ana_tab, ben_tab):
            tab.assert_no_problems()
        account = next(a for a in await hub.app[keys.AGENTS].all() if a.display_name == "Ben")
        assert account.presence == "online"

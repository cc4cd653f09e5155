"""The browser adapter against a strict stand-in of the Inbenta Chatbot SDK
(``strict_sdk.js``: the action and subscription reference, refusing any other action, key,
argument or ``next`` use), in a real headless Chromium, on a page of another origin than
the hub's. The agents are the hub's desk, played from Python; time is the hub's manual
clock, so the idle close happens when the test says.

The whole scenario: the bot answers, the user asks for a person, waits in the queue, an
agent joins, types and writes; the user writes (ticks up to read) and sends a file; the
agent sends one; the page goes away and comes back; the agent hands the chat to another;
the user closes it with the SDK's own question and rates it. A second chat ends idle, a
third becomes a ticket. Not one call breaks the reference.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSCloseCode, web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from hub import keys
from hub.agents.presence import set_presence
from hub.clock import ManualClock
from hub.demo import DEMO_BOT_ID, ensure_demo_bot
from hub.settings import Settings
from offload_hub.app import create_app
from tests.dashboard.browser import Tab, open_tab

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

STRICT_SDK = (Path(__file__).parent / "strict_sdk.js").read_text()
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strict shop</title>
<script src="{hub}/static/offload-hub-adapter.js"></script>
<script src="/strict_sdk.js"></script></head>
<body><main id="bot"></main>
<script>
  var query = new URLSearchParams(location.search);
  window.chatBot = StrictChatbotSDK.build(document.getElementById('bot'), {{
    name: 'Shop bot',
    forget: query.has('forget'),
    failing: (query.get('failing') || '').split(',').filter(Boolean),
    labels: OffloadHub.labels,
    adapters: [OffloadHub.adapter({{
      hubUrl: '{hub}', botId: '{bot}', queue: 'support',
      reconnectDelay: Number(query.get('reconnectDelay') || 500)
    }})]
  }});
</script></body></html>
"""
LIFECYCLE = {
    "tick_seconds": 3600,
    "position_refresh_seconds": 3600,
    "idle_warning_seconds": 300,
    "idle_close_seconds": 120,
}


@dataclass
class Gate:
    """In front of the hub's API, as a proxy would be: ``down`` answers every call 503 (the
    hub restarting), ``block_websockets`` refuses WebSocket upgrades only. It counts what
    went through."""

    down: bool = False
    block_websockets: bool = False
    sockets: int = 0
    polls: int = 0
    refused: int = 0
    refused_enough: asyncio.Event = field(default_factory=asyncio.Event)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return await handler(request)
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if self.down or (upgrade and self.block_websockets):
            self.refused += 1
            if self.refused >= 6:
                self.refused_enough.set()
            return web.json_response(
                {"error": {"code": "unavailable", "message": "down"}}, status=503
            )
        if upgrade:
            self.sockets += 1
        elif request.path.endswith("/events") and "wait" in request.query:
            self.polls += 1
        return await handler(request)


@dataclass
class StrictHub:
    app: web.Application
    client: TestClient
    base: str
    shop: str
    clock: ManualClock
    gate: Gate
    agents: dict[str, str] = field(default_factory=dict)

    @property
    def desk(self) -> Any:
        return self.app[keys.WORKSPACE].desks["desk"]

    async def agent(self, name: str) -> str:
        account = await self.app[keys.AGENTS].create(
            f"{name.lower()}@example.com", name, "correct horse battery"
        )
        self.agents[name] = account.id
        await set_presence(self.app, account.id, "online")
        return account.id

    async def presence(self, presence: str) -> None:
        for agent_id in self.agents.values():
            await set_presence(self.app, agent_id, presence)

    async def idle(self, seconds: float) -> None:
        """Time passes with nobody writing; the agents' dashboards stay open."""
        self.clock.advance(seconds)
        await self.presence("online")
        await self.app[keys.LIFECYCLE].tick()

    async def snapshot(self, conversation_id: str, token: str) -> dict[str, Any]:
        response = await self.client.get(
            f"/v1/conversations/{conversation_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == 200
        return await response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def strict_hub(
    aiohttp_client: Any, aiohttp_server: Any, make_settings: Callable[..., Settings]
) -> AsyncIterator[StrictHub]:
    clock = ManualClock()
    settings = make_settings(
        providers={"desk": {"type": "desk"}, "mail": {"type": "scripted", "mode": "ticket"}},
        queues=[{"name": "support", "chain": ["desk", "mail"]}],
        lifecycle=LIFECYCLE,
    )
    gate = Gate()
    app = create_app(settings, clock=clock)
    app.middlewares.insert(0, gate.middleware)
    client: TestClient = await aiohttp_client(app)
    await asyncio.wait_for(app[keys.LIFECYCLE].caught_up.wait(), 10)
    base = str(client.make_url("/")).rstrip("/")

    shop = web.Application()

    async def index(request: web.Request) -> web.Response:
        html = PAGE.format(hub=base, bot=DEMO_BOT_ID)
        return web.Response(text=html, content_type="text/html")

    async def script(request: web.Request) -> web.Response:
        return web.Response(text=STRICT_SDK, content_type="text/javascript")

    shop.router.add_get("/", index)
    shop.router.add_get("/strict_sdk.js", script)
    shop_server = await aiohttp_server(shop)
    shop_url = str(shop_server.make_url("/"))
    await ensure_demo_bot(app[keys.BOT_REGISTRY], [base, shop_url.rstrip("/")])
    yield StrictHub(app, client, base, shop_url, clock, gate)


class Shop:
    """The page with the strict SDK, seen and driven as the SDK's user would."""

    def __init__(self, tab: Tab, hub: StrictHub) -> None:
        self.tab = tab
        self.page: Page = tab.page
        self.hub = hub
        self.log = self.page.get_by_role("list", name="Messages")

    async def open(self, query: str = "") -> None:
        await self.page.goto(self.hub.shop + query)
        await self.page.wait_for_function("window.chatBot !== undefined")

    async def say(self, text: str) -> None:
        await self.page.evaluate(
            """text => {
                chatBot.actions.displayUserMessage({message: text});
                chatBot.actions.sendMessage({message: text});
            }""",
            text,
        )

    async def upload(self, name: str, content: str) -> None:
        await self.page.evaluate(
            """([name, content]) => {
                var id = chatBot.actions.displayUserMessage({message: '', media: {name: name}});
                chatBot.actions.uploadMedia(
                    {messageId: id, file: new File([content], name, {type: 'text/plain'})});
            }""",
            [name, content],
        )

    async def ask_for_a_person(self, inquiry: str) -> None:
        await self.page.evaluate(
            "inquiry => chatBot.actions.escalateToAgent({name: 'Jo', inquiry: inquiry})", inquiry
        )

    async def escalate(self, inquiry: str) -> str:
        """Ask for a person; the id of the live chat the adapter keeps for a reload."""
        await self.ask_for_a_person(inquiry)
        handle = await self.page.wait_for_function(
            f"""() => {{
                var raw = sessionStorage.getItem('offload-hub:{DEMO_BOT_ID}');
                var saved = JSON.parse(raw || '{{}}');
                return saved.chat && saved.chat.conversationId;
            }}"""
        )
        return str(await handle.json_value())

    async def saved(self) -> dict[str, Any]:
        raw = await self.page.evaluate(f"sessionStorage.getItem('offload-hub:{DEMO_BOT_ID}')")
        return json.loads(raw)  # type: ignore[no-any-return]

    def line(self, text: str) -> Any:
        return self.log.locator(":scope > li").filter(has_text=text)

    async def tick(self, text: str, tick: str) -> None:
        await expect(self.line(text)).to_have_attribute("data-tick", tick)

    async def name_is(self, name: str) -> None:
        await expect(self.page.get_by_role("heading", level=2)).to_have_text(name)

    async def lines(self) -> list[str]:
        return [t.strip() for t in await self.log.locator(":scope > li").all_inner_texts()]

    async def violations(self) -> list[str]:
        return await self.page.evaluate("chatBot.violations")  # type: ignore[no-any-return]

    async def calls(self) -> list[str]:
        return await self.page.evaluate(  # type: ignore[no-any-return]
            "chatBot.calls.map(function (c) { return c.action; })"
        )

    async def assert_clean(self) -> None:
        assert await self.violations() == []
        self.tab.assert_no_problems()


async def accept(hub: StrictHub, agent: str, cid: str) -> None:
    await hub.desk.accept(hub.agents[agent], cid)


async def test_a_whole_handoff_fits_the_sdk_reference(
    strict_hub: StrictHub, browser: Browser
) -> None:
    hub = strict_hub
    async with asyncio.timeout(120):
        ana = await hub.agent("Ana")
        ben = await hub.agent("Ben")
        shop = Shop(await open_tab(browser), hub)
        await shop.open()

        # -- the bot answers; the user asks for a person and waits --------------------------------
        await shop.say("Where is my order?")
        await expect(shop.log).to_contain_text("The bot heard: Where is my order?")
        cid = await shop.escalate("My order A-17 is late")
        await expect(shop.log).to_contain_text("You are number 1 in the queue")

        # -- Ana joins, types, writes -------------------------------------------------------------
        await accept(hub, "Ana", cid)
        await shop.name_is("Ana")
        await expect(shop.log).to_contain_text("Ana has joined the chat.")
        await hub.desk.typing(ana, cid, True)
        await hub.desk.reply(ana, cid, "Hello Jo, let me look.")
        await expect(shop.line("Hello Jo, let me look.")).to_have_count(1)

        # -- the user writes (ticks up to read) and sends a file; Ana sends one -------------------
        await shop.say("Thanks, it was due Monday.")
        await shop.tick("it was due Monday.", "SINGLE_TICK")
        token = (await shop.saved())["chat"]["token"]
        message_id = (await hub.snapshot(cid, token))["messages"][-1]["externalId"]
        await hub.desk.mark_read(ana, cid, message_id)
        await shop.tick("it was due Monday.", "DOUBLE_TICK")
        await shop.upload("receipt.txt", "A-17 paid")
        await shop.tick("receipt.txt", "SINGLE_TICK")
        stored = await hub.app[keys.SERVICE].store_media(
            cid, uploader="agent", name="label.txt", content_type="text/plain", content=b"A-17"
        )
        await hub.desk.reply(ana, cid, "Your return label.", media_id=str(stored["id"]))
        await expect(shop.line("Your return label.")).to_contain_text("label.txt")

        # -- the page goes away; Ana writes; the page comes back: once each, nothing lost ---------
        before = await shop.lines()
        await shop.page.goto("about:blank")
        await hub.desk.reply(ana, cid, "Found it: it is at the depot.")
        await shop.open()
        await expect(shop.line("it is at the depot.")).to_have_count(1)
        await shop.name_is("Ana")
        after = await shop.lines()
        assert after[: len(before)] == before and len(after) == len(before) + 1
        await shop.say("Great, thanks.")
        await shop.tick("Great, thanks.", "SINGLE_TICK")

        # -- Ana hands the chat to Ben ------------------------------------------------------------
        await hub.desk.transfer_by(ana, cid, to_agent=ben)
        await expect(shop.log).to_contain_text("Ana has left the chat.")
        await expect(shop.log).to_contain_text("Ben has joined the chat.")
        await shop.name_is("Ben")
        await hub.desk.reply(ben, cid, "Ben here, all sorted.")
        await expect(shop.line("Ben here, all sorted.")).to_have_count(1)

        # -- the SDK's close button: "no" keeps the chat, "yes" ends it, asked once ---------------
        await shop.page.evaluate("chatBot.closeButton('no')")
        await shop.say("One more thing.")
        await shop.tick("One more thing.", "SINGLE_TICK")
        await shop.page.evaluate("chatBot.closeButton('yes')")
        survey = shop.page.get_by_role("form", name="How was your chat?")
        await expect(survey).to_be_visible()
        await shop.name_is("Shop bot")
        await expect(shop.log).to_contain_text("The chat with the agent has ended.")
        # Ended by the adapter, not reset by the SDK: the conversation is still on the page.
        await expect(shop.line("Ben here, all sorted.")).to_have_count(1)
        await survey.get_by_label("5 - Very good").check()
        await survey.get_by_label("Anything to add? (optional)").fill("Ben was great.")
        await survey.get_by_role("button", name="Send").click()
        await expect(shop.log).to_contain_text("Thank you for your feedback.")
        await expect(survey).to_be_hidden()
        last = (await shop.saved())["last"]
        snapshot = await hub.snapshot(cid, last["token"])
        assert snapshot["status"] == "ended"
        assert snapshot["rating"] == {"value": "5", "comment": "Ben was great."}
        await shop.say("And now the bot?")
        await expect(shop.log).to_contain_text("The bot heard: And now the bot?")

        # -- a second chat ends idle; its survey is skipped ---------------------------------------
        second = await shop.escalate("Another question")
        await accept(hub, "Ana", second)
        await expect(shop.log).to_contain_text("Ana has joined the chat.")
        await hub.idle(301)
        await expect(shop.log).to_contain_text("Are you still there?")
        await hub.idle(121)
        survey = shop.page.get_by_role("form", name="How was your chat?")
        await expect(survey).to_be_visible()
        await survey.get_by_role("button", name="Skip").click()
        await expect(survey).to_be_hidden()
        await shop.name_is("Shop bot")

        # -- a third, with nobody online, becomes a ticket ----------------------------------------
        await hub.presence("offline")
        # No live chat to keep: the ticket ends it at once (the adapter forgets it).
        await shop.ask_for_a_person("Please call me back")
        await expect(shop.log).to_contain_text("We opened ticket")
        await shop.name_is("Shop bot")
        await shop.say("Thanks, bot.")
        await expect(shop.log).to_contain_text("The bot heard: Thanks, bot.")

        # Every call fitted the reference, and the user never saw an action of the hub's own.
        calls = await shop.calls()
        assert {"displayChatbotMessage", "updateMessage", "setExternalInfo"} <= set(calls)
        assert {"showCustomConversationWindow", "hideCustomConversationWindow"} <= set(calls)
        await shop.assert_clean()


async def test_a_reload_without_the_sdk_history_and_a_failing_action_still_resumes(
    strict_hub: StrictHub, browser: Browser
) -> None:
    hub = strict_hub
    async with asyncio.timeout(90):
        ana = await hub.agent("Ana")
        tab = await open_tab(browser)
        shop = Shop(tab, hub)
        await shop.open()
        cid = await shop.escalate("My parcel")
        await accept(hub, "Ana", cid)
        await hub.desk.reply(ana, cid, "One: hello.")
        await expect(shop.line("One: hello.")).to_have_count(1)
        await shop.say("Two: hi Ana.")
        await shop.tick("Two: hi Ana.", "SINGLE_TICK")
        await shop.page.goto("about:blank")
        await hub.desk.reply(ana, cid, "Three: found it.")

        # The SDK comes back without its messages, and its setChatbotName and setChatbotIcon
        # throw: the chat is shown again from the hub, once, and the resume goes on.
        await shop.open("?forget&failing=setChatbotName,setChatbotIcon")
        for text in ("One: hello.", "Two: hi Ana.", "Three: found it."):
            await expect(shop.line(text)).to_have_count(1)
        await shop.tick("Two: hi Ana.", "SINGLE_TICK")
        await hub.desk.reply(ana, cid, "Four: still here.")
        await expect(shop.line("Four: still here.")).to_have_count(1)
        assert await shop.violations() == []
        # The failing actions were logged, nothing else went wrong.
        problems = tab.problems
        assert problems and all("setChatbot" in problem for problem in problems), problems


async def test_a_close_button_that_resets_without_asking_ends_the_chat(
    strict_hub: StrictHub, browser: Browser
) -> None:
    hub = strict_hub
    async with asyncio.timeout(60):
        ana = await hub.agent("Ana")
        shop = Shop(await open_tab(browser), hub)
        await shop.open()
        cid = await shop.escalate("My parcel")
        await accept(hub, "Ana", cid)
        await hub.desk.reply(ana, cid, "Hello.")
        await expect(shop.line("Hello.")).to_have_count(1)
        token = (await shop.saved())["chat"]["token"]

        async with shop.page.expect_response(lambda r: r.url.endswith("/close")) as closing:
            await shop.page.evaluate("chatBot.actions.resetSession()")
        assert (await closing.value).status == 200
        await expect(shop.log.locator(":scope > li")).to_have_count(0)
        await shop.name_is("Shop bot")
        snapshot = await hub.snapshot(cid, token)
        assert (snapshot["status"], snapshot["reason"]) == ("ended", "closed-by-user")
        await shop.say("Hello bot")
        await expect(shop.log).to_contain_text("The bot heard: Hello bot")
        questions = await shop.page.evaluate(
            "chatBot.calls.filter(c => c.action === 'displaySystemMessage' && c.data.options)"
        )
        assert questions == []  # the adapter asked nothing of its own
        await shop.assert_clean()


async def test_a_hub_restart_does_not_switch_to_long_polling(
    strict_hub: StrictHub, browser: Browser
) -> None:
    hub, gate = strict_hub, strict_hub.gate
    async with asyncio.timeout(60):
        ana = await hub.agent("Ana")
        shop = Shop(await open_tab(browser), hub)
        await shop.open("?reconnectDelay=100")
        cid = await shop.escalate("My parcel")
        await accept(hub, "Ana", cid)
        await expect(shop.log).to_contain_text("Ana has joined the chat.")
        assert gate.sockets >= 1

        # The hub goes away and stays away for a while: sockets and HTTP checks both fail.
        gate.down = True
        hub.app[keys.BUS].close_all(WSCloseCode.GOING_AWAY)
        await asyncio.wait_for(gate.refused_enough.wait(), 30)
        sockets = gate.sockets
        gate.down = False
        await hub.desk.reply(ana, cid, "Back again.")
        await expect(shop.line("Back again.")).to_have_count(1)
        assert gate.sockets > sockets  # on a WebSocket again
        assert gate.polls == 0
        # (The browser itself logs the refused connections while the hub is away.)
        assert await shop.violations() == []


async def test_websockets_blocked_on_the_way_fall_back_to_long_polling(
    strict_hub: StrictHub, browser: Browser
) -> None:
    hub, gate = strict_hub, strict_hub.gate
    async with asyncio.timeout(60):
        ana = await hub.agent("Ana")
        gate.block_websockets = True
        tab = await open_tab(browser)
        shop = Shop(tab, hub)
        await shop.open("?reconnectDelay=100")
        cid = await shop.escalate("My parcel")
        await accept(hub, "Ana", cid)
        await expect(shop.log).to_contain_text("Ana has joined the chat.")
        await hub.desk.reply(ana, cid, "Over long-polling.")
        await expect(shop.line("Over long-polling.")).to_have_count(1)
        assert gate.polls >= 1 and gate.sockets == 0
        assert await shop.violations() == []


async def test_a_chat_open_in_another_tab_is_said_so(
    strict_hub: StrictHub, browser: Browser
) -> None:
    """Two tabs of one bot session: the chat's token stays with the tab that escalated. The
    other tab's escalation is refused by the hub (409 ``conversation-open``) and the user
    is told the chat is open elsewhere; the first tab reattaches with its token after a
    reload."""
    hub = strict_hub
    async with asyncio.timeout(60):
        ana = await hub.agent("Ana")
        first = Shop(await open_tab(browser), hub)
        await first.open()
        cid = await first.escalate("My parcel")
        await accept(hub, "Ana", cid)
        await expect(first.log).to_contain_text("Ana has joined the chat.")

        # The same SDK session (its sessionId) in another tab, without the chat's token.
        session = await first.page.evaluate("sessionStorage.getItem('strict-sdk')")
        other_tab = await open_tab(browser)
        await other_tab.page.add_init_script(
            f"sessionStorage.setItem('strict-sdk', {json.dumps(session)})"
        )
        other = Shop(other_tab, hub)
        await other.open()
        async with other.page.expect_response(lambda r: r.url.endswith("/v1/escalations")) as sent:
            await other.page.evaluate("chatBot.actions.escalateToAgent({name: 'Jo'})")
        answer = await sent.value
        assert answer.status == 409
        assert (await answer.json())["error"]["code"] == "conversation-open"
        await expect(other.log).to_contain_text("already chatting with an agent in another tab")
        await other.say("Hello bot")
        await expect(other.log).to_contain_text("The bot heard: Hello bot")
        assert (await other.saved()).get("chat") is None

        # The first tab still has the chat, also after a reload.
        await first.page.reload()
        await first.page.wait_for_function("window.chatBot !== undefined")
        await hub.desk.reply(ana, cid, "Still with you.")
        await expect(first.line("Still with you.")).to_have_count(1)
        await first.assert_clean()
        assert await other.violations() == []
        # The browser itself logs the refused request; the adapter logs no error.
        assert all("409 (Conflict)" in problem for problem in other_tab.problems)

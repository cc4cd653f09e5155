"""An agent's dashboard on one hub process, the chatbot on another (DESIGN section 6).

Two real ``offload-hub serve`` processes share the real PostgreSQL; between them go Redis
notices, or PostgreSQL's LISTEN/NOTIFY when no Redis is configured. The chatbot escalates
and follows its conversation on process A; the agent works in a real Chromium on process
B's dashboard. Each side must see the other's messages, typing and ticks live, as if one
process served both.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.conftest import _truncate
from tests.dashboard.browser import go_online, open_tab, sign_in
from tests.providers.webhook_platform import FakePlatform
from tests.support.cluster import BOT_SECRET, Cluster, Follower

REDIS = "redis://127.0.0.1:6379/0"
DESK = """
[providers.desk]
type = "desk"

[[queues]]
name = "desk"
chain = ["desk"]
"""


def add_agent(config: Path, email: str) -> str:
    """``offload-hub agents add`` as an operator runs it; the generated password."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "offload_hub",
            "agents",
            "add",
            email,
            "--config",
            str(config),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["password"])


def said(follower: Follower, action: str, /, **data: Any) -> bool:
    """Whether the chatbot got ``action`` with ``data`` among its fields."""
    return any(
        e["action"] == action and all(e["data"].get(k) == v for k, v in data.items())
        for e in follower.envelopes
    )


@pytest.mark.parametrize("notices", ["redis", "listen-notify"])
async def test_an_agent_on_one_process_chats_with_a_chatbot_on_the_other(
    tmp_path: Path, postgres_url: str, platform: FakePlatform, browser: Browser, notices: str
) -> None:
    await _truncate(postgres_url)
    cluster = Cluster(
        tmp_path,
        postgres_url,
        platform,
        redis_url=REDIS if notices == "redis" else None,
        prefix="t_" + secrets.token_hex(6),  # other test runs may share this Redis
        extra=DESK,
    )
    followers: list[Follower] = []
    try:
        async with asyncio.timeout(120), aiohttp.ClientSession() as session:
            a = (await cluster.start("a")).base
            b = (await cluster.start("b")).base
            password = add_agent(cluster.config, "ana@example.com")

            # Ana signs in on B and goes online.
            tab = await open_tab(browser)
            page = tab.page
            await sign_in(tab, f"{b}/dashboard/", "ana@example.com", password)
            await go_online(tab)

            # The bot escalates through A: the offer reaches Ana's inbox on B, live.
            headers = {"Authorization": f"Bearer {BOT_SECRET}"}
            async with session.post(
                f"{a}/v1/escalations",
                json={
                    "sessionId": "s-desk",
                    "queue": "desk",
                    "user": {"name": "Zoe Ng"},
                    "inquiry": "My parcel never arrived",
                },
                headers=headers,
            ) as response:
                answer = await response.json()
                assert response.status == 201, answer
            cid, token = answer["conversationId"], answer["token"]
            chatbot = Follower(cid, token, [a])
            chatbot.start(session)
            followers.append(chatbot)

            row = page.get_by_role("table", name="Waiting").get_by_role("row")
            row = row.filter(has_text="My parcel never arrived")
            await expect(row).to_contain_text("Offered to you")
            await row.get_by_role("button", name="Accept").click()
            await expect(page.get_by_role("heading", name="Zoe Ng", level=1)).to_be_visible()
            await chatbot.wait_for(lambda f: said(f, "setChatbotName", name="Ana"))

            # Ana types and sends on B; the chatbot on A sees the typing and the message.
            box = page.get_by_label("Message")
            await box.press_sequentially("Hello Zoe")
            await chatbot.wait_for(lambda f: said(f, "displayChatbotActivity", type="writing"))
            await box.fill("Hello Zoe, let me check.")
            await page.get_by_role("button", name="Send", exact=True).click()
            await chatbot.wait_for(lambda f: "Hello Zoe, let me check." in f.messages())

            # The user answers through A: it shows in Ana's chat on B, and reading it there
            # ticks it on A.
            user = {"Authorization": f"Bearer {token}"}
            async with session.post(
                f"{a}/v1/conversations/{cid}/messages",
                json={"id": "u1", "message": "Thank you!"},
                headers=user,
            ) as response:
                sent = await response.json()
                assert response.status == 201, sent
            log = page.get_by_role("log")
            await expect(log).to_contain_text("Thank you!")
            await chatbot.wait_for(
                lambda f: said(
                    f, "updateMessage", externalId=sent["externalId"], action="DOUBLE_TICK"
                )
            )

            # Ana ends the chat on B: the chatbot on A hears it and gives the input back.
            await page.get_by_role("button", name="Close conversation").click()
            await expect(page.get_by_text("The conversation is closed")).to_be_visible()
            await chatbot.wait_for(lambda f: said(f, "displaySystemMessage", message="chat-closed"))
            await chatbot.wait_for(lambda f: said(f, "enableInput"))
            await chatbot.stop()
            chatbot.assert_whole()
            tab.assert_no_problems()
    except BaseException:
        for follower in followers:
            await follower.stop()
        print(cluster.logs(), file=sys.stderr)
        raise
    finally:
        await cluster.close()

"""Tickets and ratings in the dashboard, on SQLite and PostgreSQL: the tickets the email step
made, with their status and the replies that came back (through the real email provider
and a real SMTP server), searchable by user and date; the users' ratings on the
conversation and as averages per agent and per queue in the admins' overview."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from hub import keys
from hub.clock import ManualClock
from hub.store.ratings import score, summarise
from tests.dashboard.support import DESK, AgentSession, add_agent
from tests.providers.smtp_server import MailServer, mail_server
from tests.providers.test_email import GMAIL_STYLE, hub_config, post_inbound, raw_reply
from tests.support.chatbot import Hub

TIME_LIMIT = 60
JSON = {"Accept": "application/json"}


@pytest.fixture
async def plain() -> AsyncIterator[MailServer]:
    async with mail_server("none") as server:
        yield server


async def tickets(session: AgentSession, **search: str) -> dict[str, Any]:
    response = await session.get("/dashboard/tickets", params=search, headers=JSON)
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def ticket_for(hub: Hub, session: str, name: str, email: str, inquiry: str) -> str:
    answer = await hub.chatbot.escalate(
        session, user={"name": name, "email": email, "language": "en"}, inquiry=inquiry
    )
    assert answer["status"] == "ticket"
    return answer["conversationId"]  # type: ignore[no-any-return]


async def test_the_ticket_list_shows_tickets_their_replies_and_finds_them(
    plain: MailServer, hub_factory: Any, browsers: Any
) -> None:
    async with asyncio.timeout(TIME_LIMIT):
        clock = ManualClock()
        hub: Hub = await hub_factory(clock=clock, **hub_config(plain))
        await add_agent(hub, "Ana")
        first = await ticket_for(hub, "s1", "Jo Doe", "jo@example.com", "My order A-17 is late")
        clock.advance(timedelta(days=2).total_seconds())
        second = await ticket_for(hub, "s2", "Zoë Ñúñez", "zoe@example.org", "Refund please")
        await plain.recorder.wait_for(4)  # two tickets, two confirmations
        ana = await browsers(hub, "ana@example.com")

        listed = await tickets(ana)
        assert [t["id"] for t in listed["tickets"]] == [second, first]  # newest first
        assert [(t["status"], t["replies"]) for t in listed["tickets"]] == [
            ("waiting", 0),
            ("waiting", 0),
        ]
        row = listed["tickets"][1]
        assert (row["ticket_id"], row["user"], row["email"], row["inquiry"]) == (
            "T-" + first.removeprefix("c_").upper(),
            "Jo Doe",
            "jo@example.com",
            "My order A-17 is late",
        )

        # A reply to the first ticket comes back by email: it is answered, with the reply.
        (sent,) = plain.recorder.with_header("Message-ID", f"<offload.{first}.ticket@example.com>")
        reply = raw_reply(
            GMAIL_STYLE,
            in_reply_to=sent.header("Message-ID"),
            subject="Re: " + sent.header("Subject"),
        )
        status, _ = await post_inbound(hub, reply)
        assert status == 200
        answered = next(t for t in (await tickets(ana))["tickets"] if t["id"] == first)
        assert (answered["status"], answered["status_label"], answered["replies_label"]) == (
            "answered",
            "Answered",
            "1 reply",
        )
        page = await ana.get(f"/dashboard/conversations/{first}")
        assert page.status == 200  # any agent reads a ticket: it is nobody's chat
        text = await page.text()
        assert "We found your order, it ships today." in text
        assert "the replies that came back by email" in text

        # Searching: by name, by address, any case and accents, by ticket id; by date. (The
        # terms are ones a random ticket id cannot contain: it is letters and digits.)
        async def found(**search: str) -> list[str]:
            return [t["id"] for t in (await tickets(ana, **search))["tickets"]]

        today = clock.now().date()
        assert await found(user="jo doe") == [first]
        assert await found(user="ZOË") == [second]
        assert await found(user="@example.org") == [second]
        assert await found(user=answered["ticket_id"].lower()) == [first]
        assert await found(user="nobody") == []
        assert await found(user="%") == []  # a wildcard is a character like any other
        assert await found(**{"from": today.isoformat()}) == [second]
        assert await found(to=(today - timedelta(days=1)).isoformat()) == [first]
        assert await found(**{"from": (today - timedelta(days=2)).isoformat(), "user": "zoë"}) == [
            second
        ]

        # A bad date is a clear 422 and changes nothing; the page says it too.
        response = await ana.get("/dashboard/tickets", params={"from": "yesterday"}, headers=JSON)
        assert response.status == 422
        assert (await response.json())["error"]["message"] == (
            "from: 'yesterday' is not a date like 2026-11-23"
        )
        too_long = await ana.get("/dashboard/tickets", params={"user": "x" * 201}, headers=JSON)
        assert too_long.status == 422
        assert (await too_long.json())["error"]["message"] == "user: is longer than 200 characters"
        nul = await ana.get("/dashboard/tickets?user=a%00b", headers=JSON)
        assert nul.status == 400
        shown = await ana.get(
            "/dashboard/tickets", params={"from": "2026-12-01", "to": "2026-11-01"}
        )
        assert shown.status == 422
        assert "the last day is before the first" in await shown.text()


@pytest.mark.parametrize(
    ("value", "scored"),
    [("5", 5.0), (" 3 ", 3.0), ("4.5", 4.5), ("yes", True), ("No", False), ("meh", None)],
)
def test_a_rating_value_is_a_number_a_yes_no_or_neither(value, scored):
    assert score(value) == scored


def test_ratings_are_averaged_and_counted():
    summary = summarise("ag_1", "Ana", ["5", "4", "yes", "no", "yes", "so-so"])
    assert (summary.count, summary.average, summary.numeric) == (6, 4.5, 2)
    assert (summary.positive, summary.answered) == (pytest.approx(2 / 3), 3)


async def test_ratings_show_on_the_conversation_and_per_agent_and_queue(
    hub_factory: Any, browsers: Any
) -> None:
    async with asyncio.timeout(TIME_LIMIT):
        # Manual assignment: each agent claims the chats the test gives them.
        hub = await hub_factory(
            providers={"desk": {"type": "desk", "assignment": "manual"}}, queues=DESK["queues"]
        )
        chatbot = hub.chatbot
        desk = hub.app[keys.WORKSPACE].desks["desk"]
        ana_id = await add_agent(hub, "Ana", max_chats=5)
        ben_id = await add_agent(hub, "Ben", max_chats=5)
        await add_agent(hub, "Boss", role="admin", online=False)
        boss = await browsers(hub, "boss@example.com")
        ana = await browsers(hub, "ana@example.com")

        async def rated_chat(session: str, agent: str, queue: str, value: Any, comment=None):
            cid = (await chatbot.escalate(session, queue=queue))["conversationId"]
            await desk.accept(agent, cid)
            await desk.close_by(agent, cid, "resolved")
            body = {"value": value} if comment is None else {"value": value, "comment": comment}
            await chatbot.call(
                "POST", f"/v1/conversations/{cid}/rating", conversation_id=cid, json=body
            )
            return cid

        rated = await rated_chat("s1", ana_id, "support", "5", "Quick and kind, thanks!")
        await rated_chat("s2", ana_id, "support", 4)
        await rated_chat("s3", ana_id, "vip", "yes")
        await rated_chat("s4", ben_id, "vip", "2")
        unrated = (await chatbot.escalate("s5"))["conversationId"]
        await desk.accept(ana_id, unrated)
        await desk.close_by(ana_id, unrated, "resolved")

        # On the conversation, for the agent who had it.
        state = await (
            await ana.get(f"/dashboard/conversations/{rated}/state", headers=JSON)
        ).json()
        assert state["rating"] == {
            "value": "5",
            "label": "5 of 5",
            "comment": "Quick and kind, thanks!",
        }
        page = await (await ana.get(f"/dashboard/conversations/{rated}")).text()
        assert "5 of 5" in page and "Quick and kind, thanks!" in page
        assert (
            "The user has not rated this chat."
            in await (await ana.get(f"/dashboard/conversations/{unrated}")).text()
        )
        inbox = await (await ana.get("/dashboard/inbox/state", headers=JSON)).json()
        ratings = {row["id"]: row["rating"] for row in inbox["closed"]}
        assert ratings[rated] == "5 of 5" and ratings[unrated] == ""

        # In the overview: averages per agent and per queue.
        overview = await (await boss.get("/dashboard/admin/overview/state", headers=JSON)).json()
        by_agent = {row["name"]: row for row in overview["ratings_by_agent"]}
        assert {k: by_agent["Ana"][k] for k in ("count", "average", "positive")} == {
            "count": 3,
            "average": "4.5",
            "positive": "100%",
        }
        assert {k: by_agent["Ben"][k] for k in ("count", "average", "positive")} == {
            "count": 1,
            "average": "2.0",
            "positive": "\u2014",
        }
        by_queue = {row["name"]: row for row in overview["ratings_by_queue"]}
        assert (by_queue["support"]["count"], by_queue["support"]["average"]) == (2, "4.5")
        assert (by_queue["vip"]["count"], by_queue["vip"]["average"]) == (2, "2.0")
        assert by_queue["vip"]["positive"] == "100%"
        page = await (await boss.get("/dashboard/admin/overview")).text()
        assert "Ratings by agent" in page and "Ratings by queue" in page

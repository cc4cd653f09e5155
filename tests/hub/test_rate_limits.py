"""429 with Retry-After past the per-conversation-token, per-bot-key and per-address limits,
on v1 and the provider ingresses (on SQLite and PostgreSQL: a refused request changes
nothing, and other keys are not held back)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp

from hub.api.rate_limits import Buckets, RateLimiter
from hub.settings import RateLimit, load_settings
from tests.conftest import ONE_LIVE_PROVIDER
from tests.hub.test_bad_input import database_state, expect_error
from tests.support.chatbot import add_bot

TIME_LIMIT = 30
OFF = {"per_second": 0, "burst": 1}


async def limited(response: aiohttp.ClientResponse, what: str) -> int:
    error = await expect_error(response, 429, "rate_limited")
    assert what in error["message"]
    retry_after = int(response.headers["Retry-After"])
    assert retry_after == error["retryAfter"] >= 1
    return retry_after


async def test_a_conversation_token_is_limited_alone(hub_factory):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            **ONE_LIVE_PROVIDER,
            rate_limits={"per_conversation": {"per_second": 0.01, "burst": 3}},
        )
        chatbot = hub.chatbot
        mine = (await chatbot.escalate("s1"))["conversationId"]
        other = (await chatbot.escalate("s2"))["conversationId"]
        for n in range(3):
            await chatbot.send(mine, f"c{n}", "hello")
        await hub.settled()
        before = await database_state(hub)
        response = await hub.client.post(
            f"/v1/conversations/{mine}/messages",
            json={"id": "c3", "message": "one too many"},
            headers=chatbot.token_headers(mine),
        )
        assert 90 <= await limited(response, "this conversation token") <= 100
        assert await database_state(hub) == before
        # Another conversation, and the bot's own key on this one, go on.
        await chatbot.send(other, "o1", "hello")
        await chatbot.call("GET", f"/v1/conversations/{mine}", headers=chatbot.key_headers)
        await hub.settled()


async def test_a_bot_key_and_a_public_id_are_limited(hub_factory):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            **ONE_LIVE_PROVIDER, rate_limits={"per_bot": {"per_second": 0.01, "burst": 2}}
        )
        chatbot = hub.chatbot
        for _ in range(2):
            await chatbot.call("GET", "/v1/availability")
        before = await database_state(hub)
        response = await hub.client.post(
            "/v1/escalations", json={"sessionId": "s1"}, headers=chatbot.key_headers
        )
        await limited(response, "this bot key")
        assert await database_state(hub) == before
        other_id, other_secret = await add_bot(
            hub.app, "Widget", allowed_origins=["https://shop.example"]
        )
        other = {"Authorization": f"Bearer {other_secret}"}
        assert (await hub.client.get("/v1/availability", headers=other)).status == 200
        browser = {"X-Bot-Id": other_id, "Origin": "https://shop.example"}
        for _ in range(2):
            assert (await hub.client.get("/v1/availability", headers=browser)).status == 200
        refused = await hub.client.get("/v1/availability", headers=browser)
        await limited(refused, "this bot key")
        # A browser can read the answer: it carries the CORS headers.
        assert refused.headers["Access-Control-Allow-Origin"] == "https://shop.example"


async def test_an_address_is_limited_on_v1_and_the_provider_ingresses(hub_factory):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            **ONE_LIVE_PROVIDER, rate_limits={"per_address": {"per_second": 0.01, "burst": 4}}
        )
        client = hub.client
        assert (await client.get("/v1/openapi.json")).status == 200
        assert (await client.get("/providers/live/ping")).status == 200
        assert (await client.get("/v1/availability", headers=hub.chatbot.key_headers)).status == 200
        assert (await client.get("/providers/live/ping")).status == 200
        await limited(await client.get("/providers/live/ping"), "this address")
        await limited(await client.get("/v1/openapi.json"), "this address")
        # What is not the API is not limited here (the dashboard has its own sign-in limits).
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/dashboard/login")).status == 200


async def test_retry_after_is_honest(hub_factory):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            **ONE_LIVE_PROVIDER, rate_limits={"per_address": {"per_second": 1, "burst": 1}}
        )
        assert (await hub.client.get("/providers/live/ping")).status == 200
        retry_after = await limited(await hub.client.get("/providers/live/ping"), "this address")
        assert retry_after == 1
        await asyncio.sleep(retry_after)  # what the answer says to do
        assert (await hub.client.get("/providers/live/ping")).status == 200


async def test_limits_switch_off(hub_factory):
    async with asyncio.timeout(TIME_LIMIT):
        hub = await hub_factory(
            **ONE_LIVE_PROVIDER,
            rate_limits={"per_address": OFF, "per_bot": OFF, "per_conversation": OFF},
        )
        statuses = await asyncio.gather(
            *[hub.client.get("/providers/live/ping") for _ in range(100)]
        )
        assert {response.status for response in statuses} == {200}


def test_buckets_refill_at_their_rate_and_forget_idle_keys():
    buckets = Buckets(RateLimit(per_second=2, burst=3), max_keys=4)
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 0.0) == 0.5  # one token comes back every half second
    assert buckets.take("a", 0.25) == 0.25
    assert buckets.take("a", 0.5) == 0.0
    assert buckets.take("a", 0.5) == 0.5
    assert buckets.take("b", 0.5) == 0.0  # another key has its own bucket
    for key in "cdef":
        buckets.take(key, 10.0)
    # Past max_keys the full (idle) buckets go: "a" and "b" refilled long ago.
    assert len(buckets) <= 4
    assert buckets.take("a", 10.0) == 0.0


def test_the_operator_guides_example_switches_every_limit_off(tmp_path):
    guide = (Path(__file__).parents[2] / "docs" / "operator.md").read_text()
    block = re.search(r"```toml\n(\[rate_limits\]\n.*?)```", guide, re.S).group(1)
    path = tmp_path / "hub.toml"
    path.write_text(block)
    limits = load_settings(path).rate_limits
    limiter = RateLimiter(limits, lambda: 0.0)
    assert (limiter.per_address, limiter.per_bot, limiter.per_conversation) == (None, None, None)
    assert load_settings().rate_limits.per_address.per_second == 500  # and the defaults

"""``/metrics``: read with prometheus-client's own parser, its figures follow real traffic
through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from hub import keys
from hub.clock import ManualClock
from hub.settings import ConfigError, load_settings
from hub.telemetry.endpoint import FIGURES
from providers import Agent
from tests.conftest import ONE_LIVE_PROVIDER
from tests.dashboard.support import DESK, add_agent, agent_session
from tests.support.chatbot import Hub

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
MESSAGES_ROUTE = "/v1/conversations/{conversation_id}/messages"
EVENTS_ROUTE = "/v1/conversations/{conversation_id}/events"


async def scrape(hub: Hub, *, fresh: bool = True, **headers: str) -> Samples:
    """Every sample of ``/metrics``, parsed by prometheus-client. ``fresh``: the database
    figures are read again now instead of coming from the few seconds' cache."""
    if fresh:
        hub.app[FIGURES].cache_seconds = 0
    response = await hub.client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def counted(samples: Samples, name: str, **labels: str) -> float:
    """A counter or histogram series that may not exist yet (nothing counted: 0)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Scrape until ``check`` holds (streams end and retries happen on their own time)."""
    async with asyncio.timeout(timeout):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)


async def test_queue_and_conversations_follow_escalations_and_agents(hub_factory):
    clock = ManualClock()
    hub = await hub_factory(clock=clock, **ONE_LIVE_PROVIDER)
    before = await scrape(hub)
    assert value(before, "offload_hub_queue_length", queue="support") == 0
    assert value(before, "offload_hub_conversations", state="queued") == 0
    assert value(before, "offload_hub_database_up") == 1

    first = (await hub.chatbot.escalate("s-1", inquiry="late order"))["conversationId"]
    clock.advance(30)
    await hub.chatbot.escalate("s-2", inquiry="refund")
    clock.advance(12)
    waiting = await scrape(hub)
    assert value(waiting, "offload_hub_queue_length", queue="support") == 2
    assert value(waiting, "offload_hub_queue_oldest_wait_seconds", queue="support") == 42
    assert value(waiting, "offload_hub_conversations", state="queued") == 2
    assert value(waiting, "offload_hub_conversations", state="assigned") == 0

    await hub.provider().context.agent_joined(first, Agent("a1", "Ana"))
    joined = await scrape(hub)
    assert value(joined, "offload_hub_queue_length", queue="support") == 1
    assert value(joined, "offload_hub_queue_oldest_wait_seconds", queue="support") == 12
    assert value(joined, "offload_hub_conversations", state="assigned") == 1
    # Ana took the first conversation 42 s after it arrived.
    waits = {"queue": "support"}
    assert value(joined, "offload_hub_queue_wait_seconds_count", **waits) == 1
    assert value(joined, "offload_hub_queue_wait_seconds_sum", **waits) == 42
    assert value(joined, "offload_hub_queue_wait_seconds_bucket", le="30.0", **waits) == 0
    assert value(joined, "offload_hub_queue_wait_seconds_bucket", le="60.0", **waits) == 1

    # A transfer to another agent is not a second wait.
    await hub.provider().context.agent_joined(first, Agent("a2", "Bea"))
    assert value(await scrape(hub), "offload_hub_queue_wait_seconds_count", **waits) == 1


async def test_database_figures_are_cached_between_scrapes(hub):
    await scrape(hub)  # read now; the next scrapes within the cache come from memory
    hub.app[FIGURES].cache_seconds = 60
    await hub.chatbot.escalate("s-1")
    cached = await scrape(hub, fresh=False)
    assert value(cached, "offload_hub_queue_length", queue="support") == 0
    assert value(await scrape(hub), "offload_hub_queue_length", queue="support") == 1


async def test_request_durations_are_counted_by_route_pattern(hub):
    cid = (await hub.chatbot.escalate("s-1"))["conversationId"]
    for number in range(3):
        await hub.chatbot.send(cid, f"m-{number}", "hello")
    await hub.chatbot.call("POST", f"/v1/conversations/{cid}/messages", json={}, expect=422)
    await hub.chatbot.call("GET", "/v1/no-such-thing", expect=404)
    response = await hub.client.get("/metrics")
    text = await response.text()
    assert cid not in text  # ids never become labels
    samples = await scrape(hub)
    sent = {"method": "POST", "route": MESSAGES_ROUTE}
    assert value(samples, "offload_hub_request_duration_seconds_count", status="201", **sent) == 3
    assert value(samples, "offload_hub_request_duration_seconds_count", status="422", **sent) == 1
    assert (
        value(
            samples,
            "offload_hub_request_duration_seconds_count",
            method="GET",
            route="unmatched",
            status="404",
        )
        == 1
    )
    assert value(samples, "offload_hub_request_duration_seconds_sum", status="201", **sent) > 0
    assert value(samples, "offload_hub_journal_commits_total") >= 4
    assert value(samples, "offload_hub_journal_units_total") >= 4


async def test_streams_are_counted_by_transport_while_open(hub):
    cid = (await hub.chatbot.escalate("s-1"))["conversationId"]
    path = f"/v1/conversations/{cid}/events"
    token = hub.chatbot.tokens[cid]

    def streams(samples: Samples, transport: str) -> float:
        return counted(samples, "offload_hub_streams", client="chatbot", transport=transport)

    async def open_now(transport: str, expected: float) -> bool:
        return streams(await scrape(hub), transport) == expected

    ws = await hub.client.ws_connect(path, params={"token": token})
    assert streams(await scrape(hub), "websocket") == 1
    sse = await hub.client.get(
        path, headers={"Accept": "text/event-stream", **hub.chatbot.token_headers(cid)}
    )
    assert sse.status == 200
    assert sse.headers["X-Request-Id"]
    assert streams(await scrape(hub), "sse") == 1
    last = (await hub.chatbot.events(cid))[-1]["seq"]
    poll = asyncio.create_task(hub.chatbot.poll(cid, after=last, wait=20))
    await until(lambda: open_now("long-poll", 1))

    await ws.close()
    sse.close()
    # The message wakes the long-poll, and the SSE stream finds its client gone.
    await hub.chatbot.send(cid, "m-1", "hello")
    assert (await asyncio.wait_for(poll, 10))["events"]
    for transport in ("websocket", "sse", "long-poll"):
        await until(lambda transport=transport: open_now(transport, 0))

    samples = await scrape(hub)
    for transport in ("websocket", "sse", "long-poll"):
        opened = {"client": "chatbot", "transport": transport}
        assert value(samples, "offload_hub_streams_opened_total", **opened) == 1
    # Streams stay out of the request durations; the one page read without waiting is in.
    page = {"method": "GET", "route": EVENTS_ROUTE, "status": "200"}
    assert value(samples, "offload_hub_request_duration_seconds_count", **page) == 1


async def test_outbox_deliveries_backlog_and_dead_letters(hub_factory):
    hub = await hub_factory(
        providers={
            "live": {"type": "scripted"},
            "deaf": {"type": "scripted", "refuse_deliveries": True},
        },
        queues=[
            {"name": "support", "chain": ["live"]},
            {"name": "deaf", "chain": ["deaf"]},
        ],
    )
    live = (await hub.chatbot.escalate("s-1", queue="support"))["conversationId"]
    deaf = (await hub.chatbot.escalate("s-2", queue="deaf"))["conversationId"]
    await hub.chatbot.send(live, "m-1", "hello")
    await hub.chatbot.send(deaf, "m-2", "anyone?")
    await hub.settled()
    samples = await scrape(hub)
    provider = {"kind": "provider"}
    assert value(samples, "offload_hub_outbox_deliveries_total", outcome="done", **provider) == 1
    assert value(samples, "offload_hub_outbox_deliveries_total", outcome="dead", **provider) == 1
    assert value(samples, "offload_hub_outbox_dead_letters", **provider) == 1
    assert value(samples, "offload_hub_outbox_backlog", **provider) == 0
    assert value(samples, "offload_hub_outbox_in_flight") == 0


async def test_a_failing_delivery_waits_in_the_backlog(hub_factory):
    hub = await hub_factory(
        providers={"live": {"type": "scripted", "fail_deliveries": 100}},
        queues=[{"name": "support", "chain": ["live"]}],
        retry_base_seconds=60,
        retry_max_seconds=60,
    )
    cid = (await hub.chatbot.escalate("s-1"))["conversationId"]
    await hub.chatbot.send(cid, "m-1", "hello")

    async def retried() -> bool:
        retries = {"kind": "provider", "outcome": "retry"}
        return counted(await scrape(hub), "offload_hub_outbox_deliveries_total", **retries) == 1

    await until(retried)
    samples = await scrape(hub)
    assert value(samples, "offload_hub_outbox_backlog", kind="provider") == 1
    assert value(samples, "offload_hub_outbox_in_flight") == 1
    assert value(samples, "offload_hub_outbox_dead_letters", kind="provider") == 0


async def test_provider_health(hub_factory):
    hub = await hub_factory(
        providers={
            "live": {"type": "scripted"},
            "sick": {"type": "scripted", "unhealthy": True},
            "off": {"type": "scripted", "enabled": False},
        },
        queues=[{"name": "support", "chain": ["live", "sick", "off"]}],
    )
    samples = await scrape(hub)
    assert value(samples, "offload_hub_provider_up", provider="live", type="scripted") == 1
    assert value(samples, "offload_hub_provider_up", provider="sick", type="scripted") == 0
    assert value(samples, "offload_hub_provider_up", provider="off", type="scripted") == 0


async def test_the_write_path_reports_batches_and_relay_latency(hub):
    """The journal counts every committed batch; a live stream counts how long each
    envelope took from commit to send."""
    async with asyncio.timeout(20):
        before = await scrape(hub)
        cid = (await hub.chatbot.escalate("s-relay"))["conversationId"]
        logged = len(await hub.chatbot.events(cid))
        ws = await hub.client.ws_connect(
            f"/v1/conversations/{cid}/events", params={"token": hub.chatbot.tokens[cid]}
        )
        backlog = [await ws.receive_json() for _ in range(logged)]  # read back: not counted
        assert [e["seq"] for e in backlog] == list(range(1, logged + 1))
        provider = hub.provider()
        await provider.context.agent_joined(cid, Agent("a1", "Ana"))
        await provider.context.agent_message(cid, "Hello")
        while (await ws.receive_json())["action"] != "displayChatbotMessage":
            pass
        await ws.close()
        after = await scrape(hub)
    name = "offload_hub_journal_batch_units_count"
    assert value(after, name) >= counted(before, name) + 3  # escalation, join, message
    units = value(after, "offload_hub_journal_batch_units_sum")
    assert units - counted(before, "offload_hub_journal_batch_units_sum") >= 3
    relay = {"transport": "websocket"}
    sent = counted(after, "offload_hub_relay_latency_seconds_count", **relay)
    assert sent >= 3  # the agent's name, joined and message at least
    assert value(after, "offload_hub_relay_latency_seconds_bucket", le="+Inf", **relay) == sent
    assert counted(after, "offload_hub_relay_latency_seconds_sum", **relay) < sent * 1.0


async def test_each_app_counts_only_its_own(hub_factory):
    one = await hub_factory(**ONE_LIVE_PROVIDER)
    other = await hub_factory(**ONE_LIVE_PROVIDER)
    await one.chatbot.escalate("s-1")
    route = {"method": "POST", "route": "/v1/escalations", "status": "201"}
    assert value(await scrape(one), "offload_hub_request_duration_seconds_count", **route) == 1
    assert counted(await scrape(other), "offload_hub_request_duration_seconds_count", **route) == 0


async def test_a_metrics_token_is_required_when_set(hub_factory):
    hub = await hub_factory(metrics_token="scrape-me-please-0123456789", **ONE_LIVE_PROVIDER)
    refused = await hub.client.get("/metrics")
    assert refused.status == 401
    assert (await refused.json())["error"]["code"] == "unauthorized"
    wrong = await hub.client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status == 401
    samples = await scrape(hub, Authorization="Bearer scrape-me-please-0123456789")
    assert value(samples, "offload_hub_database_up") == 1


def test_a_short_metrics_token_is_a_config_error():
    with pytest.raises(ConfigError, match="metrics_token: must be at least 24 characters"):
        load_settings(metrics_token="guessable")


async def test_openmetrics_when_asked(hub):
    response = await hub.client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert (await response.text()).rstrip().endswith("# EOF")


async def test_request_ids_are_echoed_or_made(hub):
    given = await hub.client.get("/healthz", headers={"X-Request-Id": "lb-1234.abc"})
    assert given.headers["X-Request-Id"] == "lb-1234.abc"
    made = await hub.client.get("/healthz", headers={"X-Request-Id": "not an id\t"})
    other = await hub.client.get("/healthz")
    assert made.headers["X-Request-Id"] != "not an id\t"
    assert len({made.headers["X-Request-Id"], other.headers["X-Request-Id"]}) == 2
    missing = await hub.client.get("/nowhere")
    assert missing.status == 404
    assert missing.headers["X-Request-Id"]


async def test_an_agent_on_the_dashboard(hub_factory):
    """The desk, as agents use it: the dashboard's socket is an agent stream, and the wait
    ends when the agent accepts."""
    hub = await hub_factory(**DESK)
    await add_agent(hub, "Ana")
    ana = await agent_session(hub.client)
    try:
        await ana.sign_in("ana@example.com")
        own = str(ana.url("/")).rstrip("/")
        async with ana.http.ws_connect(ana.url("/dashboard/live"), headers={"Origin": own}):
            live = await scrape(hub)
            agent_ws = {"client": "agent", "transport": "websocket"}
            assert value(live, "offload_hub_streams", **agent_ws) == 1
            cid = (await hub.chatbot.escalate("s-1", queue="support"))["conversationId"]
            assert value(await scrape(hub), "offload_hub_queue_length", queue="support") == 1
            accepted = await ana.post(f"/dashboard/conversations/{cid}/accept", json={})
            assert accepted.status == 200
            samples = await scrape(hub)
            assert value(samples, "offload_hub_queue_length", queue="support") == 0
            assert value(samples, "offload_hub_conversations", state="assigned") == 1
            assert value(samples, "offload_hub_queue_wait_seconds_count", queue="support") == 1
            accept = {
                "method": "POST",
                "route": "/dashboard/conversations/{conversation_id}/accept",
            }
            assert (
                value(samples, "offload_hub_request_duration_seconds_count", status="200", **accept)
                == 1
            )

        async def closed() -> bool:
            return value(await scrape(hub), "offload_hub_streams", **agent_ws) == 0

        await until(closed)
    finally:
        await ana.close()


async def test_without_its_database_the_scrape_serves_the_last_figures(hub, caplog):
    await hub.chatbot.escalate("s-1")
    assert value(await scrape(hub), "offload_hub_queue_length", queue="support") == 1
    writer = hub.app[keys.DATABASE].writer
    async with writer.begin() as conn:  # the table vanishes as if the database broke
        await conn.execute(sa.text("ALTER TABLE conversations RENAME TO conversations_gone"))
    try:
        broken = await scrape(hub)
        again = await scrape(hub)
    finally:
        async with writer.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE conversations_gone RENAME TO conversations"))
    assert value(broken, "offload_hub_database_up") == 0
    assert value(broken, "offload_hub_queue_length", queue="support") == 1
    assert value(broken, "offload_hub_provider_up", provider="live", type="scripted") == 1
    assert value(again, "offload_hub_database_up") == 0
    (warning,) = [r for r in caplog.records if "the database did not answer" in r.message]
    assert warning.exc_info is None  # one line, once, until it answers again
    assert value(await scrape(hub), "offload_hub_database_up") == 1

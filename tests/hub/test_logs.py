"""Log lines: JSON from a real ``offload-hub serve``, with the ids of what they are about;
tracebacks only for what is not an expected, typed failure."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.settings import ConfigError, load_settings
from hub.telemetry.context import log_context
from hub.telemetry.logs import log_handler
from providers import ProviderTransientError
from tests.conftest import ONE_LIVE_PROVIDER
from tests.support.serving import serving

ROOT = Path(__file__).resolve().parents[2]
BOT_SECRET = "sk_logs-test-bot-secret-0123456789"


async def _platform_down(aiohttp_server: Any) -> Any:
    """An agent platform that answers its health ping and nothing else (503)."""

    async def hook(request: web.Request) -> web.Response:
        event = await request.json()
        if event["type"] == "ping":
            return web.json_response({})
        return web.json_response({"error": "maintenance"}, status=503)

    app = web.Application()
    app.router.add_post("/hook", hook)
    return await aiohttp_server(app, host="127.0.0.1")


async def test_serve_writes_json_lines_with_the_ids(tmp_path: Path, aiohttp_server: Any) -> None:
    platform = await _platform_down(aiohttp_server)
    config = tmp_path / "hub.toml"
    config.write_text(
        f"""
log_format = "json"
database_url = "sqlite+aiosqlite:///{tmp_path / "hub.db"}"

[bots.shop]
name = "Shop"
secret = "{BOT_SECRET}"

[providers.partner]
type = "webhook"
url = "http://127.0.0.1:{platform.port}/hook"
secret = "a-long-shared-secret-for-signatures"
allow_private_network = true
health_check_seconds = 0

[[queues]]
name = "support"
chain = ["partner"]
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFLOAD_HUB_")}
    env["PYTHONPATH"] = str(ROOT)
    lines: list[str] = []
    async with (
        serving(["--config", str(config), "serve"], env, tmp_path) as (process, base),
        aiohttp.ClientSession() as session,
        asyncio.timeout(60),
    ):
        async with session.post(
            f"{base}/v1/escalations",
            json={"sessionId": "s-1", "inquiry": "my order is late"},
            headers={"Authorization": f"Bearer {BOT_SECRET}", "X-Request-Id": "req-logs-1"},
        ) as response:
            assert response.status == 201
            assert response.headers["X-Request-Id"] == "req-logs-1"
            conversation_id = (await response.json())["conversationId"]
        while not any("req-logs-1" in line for line in lines):
            line = (await process.stderr.readline()).decode()
            assert line, "the hub stopped"
            lines.append(line)

    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
    (failed,) = [r for r in records if r.get("request_id") == "req-logs-1"]
    assert failed["level"] == "warning"
    assert failed["conversation_id"] == conversation_id
    assert failed["bot_id"] == "shop"
    assert failed["provider"] == "partner"
    assert "503" in failed["message"]
    assert "traceback" not in failed  # a typed failure the hub expects: one line
    started = [r for r in records if "provider partner is healthy" in r["message"]]
    assert started and "request_id" not in started[0]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The app's own handler (JSON lines) on the root logger, into a buffer."""
    stream = io.StringIO()
    handler = log_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_crashing_provider_is_logged_with_its_traceback_and_ids(hub_factory, captured):
    hub = await hub_factory(
        providers={"live": {"type": "scripted", "mode": "crash"}},
        queues=[{"name": "support", "chain": ["live"]}],
    )
    answer = await hub.chatbot.escalate("s-1", headers={"X-Request-Id": "req-crash"})
    (record,) = [r for r in _records(captured) if r.get("request_id") == "req-crash"]
    assert record["conversation_id"] == answer["conversationId"]
    assert record["bot_id"] == hub.chatbot.bot_id
    assert record["provider"] == "live"
    assert record["error"] == "RuntimeError: the provider exploded"
    assert "Traceback (most recent call last)" in record["traceback"]  # a bug: keep it


async def test_a_providers_own_logger_names_its_instance(hub_factory, captured):
    hub = await hub_factory(**ONE_LIVE_PROVIDER)
    hub.provider().context.logger.warning("the platform is slow today")
    (record,) = [r for r in _records(captured) if r["message"] == "the platform is slow today"]
    assert record["provider"] == "live"
    assert record["logger"] == "offload_hub.providers.live"


def test_expected_failures_have_no_traceback_in_either_format() -> None:
    log = logging.getLogger("tests.logs")
    json_stream, text_stream = io.StringIO(), io.StringIO()
    handlers = [log_handler("json", json_stream), log_handler("text", text_stream)]
    for handler in handlers:
        log.addHandler(handler)
    try:
        with log_context(conversation="c_1", bot="b_1"):
            try:
                raise ProviderTransientError("the platform answered 503")
            except ProviderTransientError:
                log.exception("delivery failed", extra={"attempt": 3})
            try:
                raise KeyError("surprise")
            except KeyError:
                log.exception("handler crashed")
        log.warning("outside")
    finally:
        for handler in handlers:
            log.removeHandler(handler)

    expected, crashed, outside = _records(json_stream)
    assert expected["error"] == "ProviderTransientError: the platform answered 503"
    assert "traceback" not in expected
    assert (expected["conversation_id"], expected["bot_id"], expected["attempt"]) == (
        "c_1",
        "b_1",
        3,
    )
    assert crashed["error"] == "KeyError: 'surprise'"
    assert "Traceback" in crashed["traceback"]
    assert "conversation_id" not in outside

    text = text_stream.getvalue().splitlines()
    assert text[0].endswith(
        " ERROR tests.logs: delivery failed (ProviderTransientError: the platform answered 503)"
        " [conversation_id=c_1 bot_id=b_1 attempt=3]"
    )
    assert text[1].endswith(" ERROR tests.logs: handler crashed [conversation_id=c_1 bot_id=b_1]")
    assert text[2] == "Traceback (most recent call last):"
    assert text[-2] == "KeyError: 'surprise'"
    assert text[-1].endswith(" WARNING tests.logs: outside")


def test_an_unknown_log_level_or_format_is_a_config_error() -> None:
    assert load_settings(log_level="debug").log_level == "DEBUG"
    with pytest.raises(ConfigError, match="config error: log_level: Input should be 'DEBUG'"):
        load_settings(log_level="loud")
    with pytest.raises(ConfigError, match="config error: log_format: Input should be 'text'"):
        load_settings(log_format="xml")

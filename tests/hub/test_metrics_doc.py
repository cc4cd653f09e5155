"""docs/operator.md on metrics and logs is true: its scrape config scrapes several hub
processes as Prometheus would, its table names every metric served, its log line has the
documented fields."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from hub.settings import Settings
from offload_hub.app import create_app
from tests.conftest import ONE_LIVE_PROVIDER, _truncate
from tests.support.chatbot import add_bot

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()
METRICS = DOC[DOC.index("\n## Metrics") :]


def _block(name: str, language: str) -> str:
    found = re.search(rf"<!-- checked: {re.escape(name)} -->\s*```{language}\n(.*?)```", DOC, re.S)
    assert found, name
    return found.group(1)


def _served_name(family: Any) -> str:
    # The parser drops a counter's "_total"; the guide names series as they are served.
    return family.name + "_total" if family.type == "counter" else family.name


async def test_the_table_names_every_metric_served_and_nothing_else(hub):
    response = await hub.client.get("/metrics")
    served = {
        _served_name(family)
        for family in text_string_to_metric_families(await response.text())
        if family.name.startswith("offload_hub_")
    }
    table = {
        name
        for row in re.findall(r"^\| (`offload_hub_[^|]*)\|", METRICS, re.M)
        for name in re.findall(r"`(offload_hub_[a-z_]+)`", row)
    }
    assert table == served
    # The example queries use only what is served (a histogram through its series).
    queries = re.search(r"```promql\n(.*?)```", METRICS, re.S).group(1)
    for name in set(re.findall(r"offload_hub_[a-z_]+", queries)):
        family = re.sub(r"_(bucket|count|sum)$", "", name)
        assert name in served or family in served, name


async def test_the_scrape_config_scrapes_each_process_on_its_own(
    aiohttp_client, postgres_url, tmp_path
):
    """Two hub processes on one database (two apps here), scraped as the example says."""
    await _truncate(postgres_url)
    token = "a-metrics-token-for-the-guide-0123"
    job = yaml.safe_load(_block("prometheus.yml", "yaml"))["scrape_configs"][0]
    credentials = tmp_path / "token"
    credentials.write_text(token + "\n")  # Prometheus trims the file's trailing newline
    targets = job["static_configs"][0]["targets"]
    assert len(targets) == 2
    settings = Settings(database_url=postgres_url, metrics_token=token, **ONE_LIVE_PROVIDER)
    clients = [await aiohttp_client(create_app(settings)) for _ in targets]
    _, secret = await add_bot(clients[0].app)

    # A conversation escalated through the first process, three messages through the second.
    first, second = clients
    answer = await first.post(
        "/v1/escalations",
        json={"sessionId": "s-1"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    cid = (await answer.json())["conversationId"]
    for number in range(3):
        sent = await second.post(
            f"/v1/conversations/{cid}/messages",
            json={"id": f"m-{number}", "message": "hi"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert sent.status == 201

    scraped = {}
    bearer = credentials.read_text().strip()
    assert job.get("authorization", {}).get("type", "Bearer") == "Bearer"
    async with aiohttp.ClientSession() as session:
        for target, client in zip(targets, clients, strict=True):
            assert re.fullmatch(r"[a-z0-9.-]+:\d+", target)  # host:port of one process
            url = f"{job.get('scheme', 'http')}://127.0.0.1:{client.port}{job['metrics_path']}"
            async with session.get(url, headers={"Authorization": f"Bearer {bearer}"}) as r:
                assert r.status == 200
                scraped[target] = {
                    (s.name, frozenset(s.labels.items())): s.value
                    for family in text_string_to_metric_families(await r.text())
                    for s in family.samples
                }
        async with session.get(f"http://127.0.0.1:{first.port}/metrics") as refused:
            assert refused.status == 401

    one, two = (scraped[target] for target in targets)
    escalated = ("offload_hub_request_duration_seconds_count", "POST", "/v1/escalations", "201")
    messages = (
        "offload_hub_request_duration_seconds_count",
        "POST",
        "/v1/conversations/{conversation_id}/messages",
        "201",
    )

    def requests(samples: dict[Any, float], key: tuple[str, str, str, str]) -> float:
        name, method, route, status = key
        labels = frozenset({"method": method, "route": route, "status": status}.items())
        return samples.get((name, labels), 0.0)

    # Each process counts what it served: sum them.
    assert (requests(one, escalated), requests(two, escalated)) == (1, 0)
    assert (requests(one, messages), requests(two, messages)) == (0, 3)
    # The installation's figures are the same on both: take the max.
    queued = ("offload_hub_conversations", frozenset({("state", "queued")}))
    assert one[queued] == two[queued] == 1


def test_the_documented_log_line_has_the_documented_fields():
    line = json.loads(_block("log line", "json"))
    logs = DOC[DOC.index("\n## Logs") : DOC.index("\n## Metrics")]
    documented = {
        name
        for row in re.findall(r"^\| (`[^|]*?) \|", logs, re.M)
        for name in re.findall(r"`([a-z_]+)`", row)
    }
    assert set(line) <= documented
    assert {"time", "level", "logger", "message", "request_id", "conversation_id"} <= set(line)

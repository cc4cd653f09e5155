"""Schemathesis against the real hub, on SQLite and PostgreSQL: every operation of
``/v1/openapi.json`` gets generated valid and invalid requests (examples, coverage and
fuzzing phases, a bounded number each, a fixed seed), and every answer must be documented:
no server error, a documented status and content type, a body that fits its schema,
headers as declared, and 405 with ``Allow`` for a method the API does not serve."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.hub.chatlayer_api import VERIFY_TOKEN, FakeChatlayer
from tests.hub.test_chatlayer import integration

TIME_LIMIT = 300  # the whole run, on a loaded machine; usually well under a minute
# A deeper run by hand: OFFLOAD_HUB_SCHEMA_EXAMPLES=200 (and more checks, comma-separated,
# in OFFLOAD_HUB_SCHEMA_CHECKS, e.g. positive_data_acceptance).
MAX_EXAMPLES = int(os.environ.get("OFFLOAD_HUB_SCHEMA_EXAMPLES", "15"))
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "unsupported_method",
        "allow_header_conformance",
        *filter(None, os.environ.get("OFFLOAD_HUB_SCHEMA_CHECKS", "").split(",")),
    ]
)
OFF = {"per_second": 0, "burst": 1}


async def test_schemathesis_finds_nothing(hub_factory, tmp_path: Path):
    fake = FakeChatlayer()
    await fake.start()
    try:
        hub = await hub_factory(
            providers={"live": {"type": "scripted"}},
            queues=[{"name": "support", "chain": ["live"]}],
            bots={"shop-bot": {"name": "Shop bot"}},
            chatlayer={"shop": integration(fake)},
            allow_private_urls=True,
            rate_limits={"per_address": OFF, "per_bot": OFF, "per_conversation": OFF},
        )
        conversation = (await hub.chatbot.escalate("schema-session"))["conversationId"]
        await hub.settled()
        base = str(hub.client.make_url("")).rstrip("/")
        environment = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks",
            "SCHEMA_CONVERSATION_ID": conversation,
            "SCHEMA_CHATLAYER_NAME": "shop",
            "SCHEMA_TOKEN": VERIFY_TOKEN,
            "PYTHONPATH": str(Path(__file__).parents[2]),
        }
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{base}/v1/openapi.json",
            "--url",
            base,
            "--header",
            f"Authorization: Bearer {hub.chatbot.secret}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "7",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--suppress-health-check",
            "all",
            "--continue-on-failure",
            "--no-color",
            "--warnings",
            "off",
        ]
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=tmp_path,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), TIME_LIMIT)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        report = output.decode(errors="replace")
        assert process.returncode == 0, report
        assert "No issues found" in report or "passed" in report, report
        await hub.settled()
    finally:
        await fake.stop()

"""The command line, run as a user runs it: a separate process."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest


def _env(tmp_path: Path, plugins: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFLOAD_HUB_")}
    env["OFFLOAD_HUB_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([str(plugins), root])
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def cli(tmp_path, test_plugins):
    env = _env(tmp_path, test_plugins)
    return lambda *args: run(list(args), env, tmp_path)


def test_bots_add_prints_the_secret_once_and_list_never(cli):
    added = cli("bots", "add", "Shop bot", "--origin", "https://shop.example", "--json")
    assert added.returncode == 0, added.stderr
    bot = json.loads(added.stdout)
    assert bot["id"].startswith("bot_")
    assert bot["secret"].startswith("sk_")
    assert bot["allowedOrigins"] == ["https://shop.example"]

    listed = cli("bots", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)
    assert entry["id"] == bot["id"]
    assert "secret" not in entry
    assert bot["secret"] not in listed.stdout

    human = cli("bots", "add", "Second bot")
    assert "secret key: sk_" in human.stdout
    assert "cannot be shown again" in human.stdout
    assert len(json.loads(cli("bots", "list", "--json").stdout)) == 2


def test_a_bad_origin_is_refused(cli):
    result = cli("bots", "add", "Shop bot", "--origin", "shop.example")
    assert result.returncode == 2
    assert "--origin" in result.stderr and "is not an origin" in result.stderr


def test_providers_list_shows_adapters_instances_and_health(cli, tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text(
        '[providers.live]\ntype = "scripted"\n\n'
        '[providers.sick]\ntype = "scripted"\nunhealthy = true\n\n'
        '[providers.ghost]\ntype = "nonexistent"\n'
    )
    result = cli("--config", str(config), "providers", "list", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    scripted = next(a for a in report["adapters"] if a["name"] == "scripted")
    assert scripted["capabilities"] == ["media", "queue-position", "read-receipts", "user-typing"]
    instances = {i["name"]: i for i in report["instances"]}
    assert instances["live"]["healthy"] is True
    assert instances["sick"] == {
        "name": "sick",
        "type": "scripted",
        "enabled": True,
        "healthy": False,
        "detail": "configured unhealthy",
    }
    assert "no provider adapter named 'nonexistent'" in instances["ghost"]["detail"]
    human = cli("--config", str(config), "providers", "list")
    assert "UNHEALTHY" in human.stdout and "live" in human.stdout


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("surprise = 1\n", "config error: surprise: unknown key"),
        ('port = "eighty"\n', "config error: port: Input should be a valid integer"),
        (
            '[providers.desk]\ntype = "scripted"\n[[queues]]\nname = "q"\nchain = ["dsek"]\n',
            "queues.0.chain.0.provider: unknown provider instance 'dsek' (configured: desk)",
        ),
        (
            '[providers.live]\ntype = "scripted"\nmdoe = "open"\n',
            "config error: providers.live.mdoe: unknown key",
        ),
        (
            "[limits]\nmax_body_bytes = 10\n",
            "config error: limits.max_body_bytes: Input should be greater than or equal to 1024",
        ),
        ("not toml at all [", "config error:"),
    ],
)
def test_config_errors_stop_start_up_naming_the_key(cli, tmp_path, toml, message):
    config = tmp_path / "hub.toml"
    config.write_text(toml)
    result = cli("--config", str(config), "providers", "list")
    assert result.returncode == 2
    assert message in result.stderr, result.stderr


def test_a_missing_config_file_is_named(cli, tmp_path):
    result = cli("--config", str(tmp_path / "nope.toml"), "bots", "list")
    assert result.returncode == 2
    assert "nope.toml' does not exist" in result.stderr


def test_db_upgrade(cli):
    result = cli("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "is at revision head" in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_runs_a_hub_on_sqlite_with_nothing_else(tmp_path, test_plugins):
    env = _env(tmp_path, test_plugins)
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        "serve",
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.2)
            async with session.get(f"http://127.0.0.1:{port}/v1/openapi.json") as response:
                document = await response.json()
            assert document["info"]["title"] == "offload-hub chatbot API"
        banner = await asyncio.wait_for(process.stdout.readline(), 5)
        assert f"http://127.0.0.1:{port}" in banner.decode()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)
    assert process.returncode == 0
    assert (tmp_path / "cli.db").exists()


def test_bot_callbacks_from_the_command_line(cli):
    added = json.loads(
        cli(
            "bots", "add", "Hooked", "--callback-url", "https://bot.example/offload", "--json"
        ).stdout
    )
    assert added["callbackUrl"] == "https://bot.example/offload"
    assert len(added["callbackSecret"]) >= 32
    changed = cli("bots", "callback", added["id"], "https://bot.example/v2", "--json")
    assert json.loads(changed.stdout)["callbackSecret"] != added["callbackSecret"]
    stopped = cli("bots", "callback", added["id"])
    assert "callbacks stopped" in stopped.stdout
    bad = cli("bots", "callback", added["id"], "ftp://nope")
    assert bad.returncode == 2 and "is not an http(s) URL" in bad.stderr
    missing = cli("bots", "callback", "bot_nope", "https://bot.example")
    assert missing.returncode == 2 and "bot_nope" in missing.stderr

"""The command line, run as a user runs it: a separate process, in its own directory."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from hub.migrate import upgrade
from offload_hub.cli import name_from_email

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, plugins: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFLOAD_HUB_")}
    env["OFFLOAD_HUB_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([str(plugins), root])
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "offload_hub", *args],
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
    assert cli("db", "upgrade").returncode == 0
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


@asynccontextmanager
async def served(
    args: list[str], env: dict[str, str], cwd: Path, *, until: str = "dashboard:"
) -> AsyncIterator[tuple[str, str]]:
    """Run ``offload-hub ARGS`` (serve or demo) until the block ends; yields its banner and
    the address it says it listens on, once that address answers /healthz."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "offload_hub",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        banner = ""
        async with asyncio.timeout(30):
            while until not in banner:
                line = await process.stdout.readline()
                assert line, f"the command stopped: {banner}"
                banner += line.decode()
            base = re.search(r"listening on (http://\S+)", banner).group(1)  # type: ignore[union-attr]
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{base}/healthz") as response,
            ):
                assert response.status == 200
        yield banner, base
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)
    assert process.returncode == 0


async def test_serve_runs_a_hub_on_sqlite_with_nothing_else(tmp_path, test_plugins):
    env = _env(tmp_path, test_plugins)
    async with served(["serve", "--port", "0"], env, tmp_path) as (banner, base):
        port = int(base.rsplit(":", 1)[1])
        assert port != 0
        assert base == f"http://127.0.0.1:{port}"
        # Every address printed is the one really served.
        for address in re.findall(r"http://\S+", banner):
            assert address.startswith(base), address
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/v1/openapi.json") as response:
                document = await response.json()
            assert document["info"]["title"] == "offload-hub chatbot API"
            async with session.get(f"{base}/dashboard/login") as response:
                assert response.status == 200
    assert (tmp_path / "cli.db").exists()


def clean_env(plugins: Path) -> dict[str, str]:
    """A user's shell: no OFFLOAD_HUB_* variables at all (the database is the default file
    in the current directory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFLOAD_HUB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(plugins), str(ROOT)])
    return env


def test_read_only_commands_never_create_a_database(tmp_path, test_plugins):
    env = clean_env(test_plugins)
    for command in (["agents", "list"], ["bots", "list", "--json"], ["providers", "list"]):
        result = run(command, env, tmp_path)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert result.stderr == (
            f"no database at {tmp_path / 'offload-hub.db'}: run  offload-hub db upgrade  "
            "(or start  offload-hub serve) to create it\n"
        )
        assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_read_only_commands_name_an_outdated_or_unreachable_database(tmp_path, test_plugins):
    env = clean_env(test_plugins)
    old = tmp_path / "old.db"
    upgrade(f"sqlite+aiosqlite:///{old}", "0005")
    before = old.read_bytes()
    result = run(["agents", "list", "--database-url", f"sqlite+aiosqlite:///{old}"], env, tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "is at revision 0005; this offload-hub needs" in line
    assert "offload-hub db upgrade" in line
    assert old.read_bytes() == before  # not migrated

    unreachable = "postgresql+asyncpg://offload:s3cret@127.0.0.1:1/nowhere"
    result = run(["bots", "list", "--database-url", unreachable], env, tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("cannot open the database at postgresql+asyncpg://offload:***@")
    assert "s3cret" not in result.stderr


def test_common_options_go_before_or_after_the_command(tmp_path, test_plugins):
    env = clean_env(test_plugins)
    config = tmp_path / "hub.toml"
    config.write_text(f'database_url = "sqlite+aiosqlite:///{tmp_path / "from-config.db"}"\n')
    other = f"sqlite+aiosqlite:///{tmp_path / 'from-option.db'}"
    assert run(["db", "upgrade", "--config", str(config)], env, tmp_path).returncode == 0
    assert run(["--database-url", other, "db", "upgrade"], env, tmp_path).returncode == 0
    assert (
        run(["agents", "add", "ana@example.com", "-c", str(config)], env, tmp_path).returncode == 0
    )
    assert (
        run(["--database-url", other, "agents", "add", "ben@example.com"], env, tmp_path).returncode
        == 0
    )

    def emails(*args: str) -> list[str]:
        result = run([*args], env, tmp_path)
        assert result.returncode == 0, result.stderr
        return [agent["email"] for agent in json.loads(result.stdout)]

    assert emails("--config", str(config), "agents", "list", "--json") == ["ana@example.com"]
    assert emails("agents", "list", "--json", "--config", str(config)) == ["ana@example.com"]
    assert emails("agents", "--config", str(config), "list", "--json") == ["ana@example.com"]
    # The option wins over the config file, wherever it is written.
    assert emails("agents", "list", "--json", "-c", str(config), "--database-url", other) == [
        "ben@example.com"
    ]
    assert not (tmp_path / "offload-hub.db").exists()


@pytest.mark.parametrize(
    ("email", "name"),
    [
        ("ana@example.com", "Ana"),
        ("ana.garcia@example.com", "Ana Garcia"),
        ("j_smith-jones+desk@example.com", "J Smith Jones"),
        ("support2@example.com", "Support"),
        ("42@example.com", "42"),
    ],
)
def test_an_agent_gets_a_readable_name_from_the_address(email, name):
    assert name_from_email(email) == name


def test_agents_add_takes_a_name_or_derives_one(cli):
    named = json.loads(cli("agents", "add", "x1@example.com", "--name", "Xavier", "--json").stdout)
    derived = json.loads(cli("agents", "add", "maria.lopez@example.com", "--json").stdout)
    assert (named["name"], derived["name"]) == ("Xavier", "Maria Lopez")
    listed = cli("agents", "list").stdout
    assert "Maria Lopez <maria.lopez@example.com>" in listed


async def test_the_documented_commands_in_a_clean_directory(tmp_path, test_plugins):
    """docs/operator.md's first steps, in order, as a new user types them."""
    env = clean_env(test_plugins)
    config = tmp_path / "hub.toml"
    config.write_text('[providers.desk]\ntype = "desk"\n')
    async with served(["serve", "--config", str(config), "--port", "0"], env, tmp_path) as (
        banner,
        base,
    ):
        assert "database:     sqlite+aiosqlite:///./offload-hub.db" in banner
        admin = run(["agents", "add", "you@example.com", "--admin"], env, tmp_path)
        assert admin.returncode == 0, admin.stderr
        # It does not know which port the hub serves on, so it names no address.
        assert "http://" not in admin.stdout
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base}/dashboard/login") as response,
        ):
            assert response.status == 200
        assert "admin You <you@example.com> added" in admin.stdout
        bot = run(
            ["bots", "add", "Shop assistant", "--origin", "https://shop.example"], env, tmp_path
        )
        assert bot.returncode == 0 and "secret key: sk_" in bot.stdout
        listed = run(["providers", "list", "--config", str(config)], env, tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert re.search(r"desk\s+type=desk\s+healthy", listed.stdout)
        assert listed.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["offload-hub.db"]


async def test_the_demo_keeps_its_own_database(tmp_path, test_plugins):
    env = clean_env(test_plugins)
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["agents", "add", "real@example.com"], env, tmp_path).returncode == 0
    async with served(["demo", "--port", "0"], env, tmp_path, until="demo page:") as (banner, _):
        assert "database:     sqlite+aiosqlite:///./offload-hub-demo.db" in banner
    demo_db = ["--database-url", "sqlite+aiosqlite:///./offload-hub-demo.db"]
    demo_agents = json.loads(run(["agents", "list", "--json", *demo_db], env, tmp_path).stdout)
    real_agents = json.loads(run(["agents", "list", "--json"], env, tmp_path).stdout)
    assert [a["email"] for a in demo_agents] == ["agent@demo.example"]
    assert [a["email"] for a in real_agents] == ["real@example.com"]


@pytest.mark.parametrize("target", ["run", "demo"])
async def test_make_takes_a_port(tmp_path, target):
    """``make run PORT=...`` and ``make demo PORT=...`` listen where they are told."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFLOAD_HUB_")}
    env["OFFLOAD_HUB_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'make.db'}"
    process = await asyncio.create_subprocess_exec(
        "make",
        "--no-print-directory",
        "-C",
        str(ROOT),
        target,
        f"PORT={port}",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        banner = ""
        async with asyncio.timeout(60):
            while "dashboard" not in banner:
                line = await process.stdout.readline()
                assert line, banner
                banner += line.decode()
        assert f"listening on http://127.0.0.1:{port}" in banner
    finally:
        os.killpg(process.pid, 15)
        await asyncio.wait_for(process.wait(), 15)


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

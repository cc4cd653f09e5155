"""``offload-hub``: serve, migrate, register bots, inspect providers."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from hub import __version__
from hub.agents.accounts import AgentAccounts
from hub.clock import Clock, iso
from hub.db import create_database, create_oneshot_engine
from hub.migrate import upgrade
from hub.settings import ConfigError, Settings, check_origin, load_settings
from hub.store.bots import create_bot, list_bots, set_callback


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return load_settings(args.config, **{k: v for k, v in overrides.items() if v is not None})


@asynccontextmanager
async def _transaction(settings: Settings) -> AsyncIterator[AsyncConnection]:
    """One transaction on an engine made for this command alone."""
    engine = create_oneshot_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            yield conn
    finally:
        await engine.dispose()


@asynccontextmanager
async def _accounts(settings: Settings) -> AsyncIterator[AgentAccounts]:
    database = create_database(settings.database_url)
    try:
        yield AgentAccounts(database, Clock())
    finally:
        await database.dispose()


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line a second otherwise


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


# -- serve ------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args, host=args.host, port=args.port)
    _configure_logging(settings.log_level)
    upgrade(settings.database_url)
    from hub.app import create_app

    app = create_app(settings)
    base = settings.public_base_url
    print(
        f"offload-hub {__version__} on {base}\n"
        f"  database:     {settings.database_url}\n"
        f"  API:          {base}/v1/openapi.json\n"
        f"  health:       {base}/healthz  {base}/readyz\n"
        f"  dashboard:    {base}/dashboard/\n"
        f"  first admin:  offload-hub agents add you@example.com --admin\n"
        f"  add a bot:    offload-hub bots add 'My bot'   (prints its key once)\n",
        flush=True,
    )
    web.run_app(app, host=settings.host, port=settings.port, print=None, shutdown_timeout=10)
    return 0


# -- demo -------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """``serve``, plus the demo page, its bot (allowed from this hub) and a demo agent."""
    settings = _settings(args, host=args.host, port=args.port)
    _configure_logging(settings.log_level)
    upgrade(settings.database_url)
    from hub.app import create_app
    from hub.demo import mount_demo, prepare_demo

    demo = asyncio.run(prepare_demo(settings))
    app = create_app(settings)
    mount_demo(app, demo.bot_id)
    base = settings.public_base_url
    print(
        f"offload-hub {__version__} demo on {base}\n"
        f"  database:     {settings.database_url}\n"
        f"  1. dashboard: {base}/dashboard/\n"
        f"     sign in as {demo.agent_email}  password: {demo.agent_password}\n"
        f"     (a new password at every start) and set your status to Online\n"
        f"  2. demo page: {base}/demo/\n"
        f"     pick 'Talk to a person': the chat arrives in the dashboard\n"
        f"  bot {demo.bot_id} takes browser calls from {', '.join(demo.origins)}\n",
        flush=True,
    )
    web.run_app(app, host=settings.host, port=settings.port, print=None, shutdown_timeout=10)
    return 0


# -- db ---------------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    upgrade(settings.database_url, args.revision)
    print(f"database {settings.database_url} is at revision {args.revision}")
    return 0


# -- bots -------------------------------------------------------------------------------------


async def _bots_add(
    settings: Settings, name: str, origins: list[str], callback_url: str | None
) -> dict[str, Any]:
    async with _transaction(settings) as conn:
        bot, secret = await create_bot(name, conn=conn, clock=Clock(), allowed_origins=origins)
        callback_secret = await set_callback(bot.id, callback_url, conn=conn)
    created = {"id": bot.id, "name": bot.name, "secret": secret, "allowedOrigins": origins}
    if callback_url is not None:
        created.update(callbackUrl=callback_url, callbackSecret=callback_secret)
    return created


def _callback_url(url: str | None) -> str | None:
    if url is not None and not (url.startswith(("https://", "http://")) and len(url) <= 2000):
        raise ConfigError(f"--callback-url: {url!r} is not an http(s) URL")
    return url


def cmd_bots_add(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        origins = [check_origin(origin) for origin in args.origin]
    except ValueError as exc:
        raise ConfigError(f"--origin: {exc}") from None
    callback_url = _callback_url(args.callback_url)
    upgrade(settings.database_url)
    created = asyncio.run(_bots_add(settings, args.name, origins, callback_url))
    if args.json:
        _print_json(created)
    else:
        print(f"bot id:     {created['id']}")
        print(f"secret key: {created['secret']}")
        print("Keep the secret key now: it is stored only as a hash and cannot be shown again.")
        if callback_url is not None:
            print(f"callbacks:  POST {callback_url}")
            print(f"callback signing secret: {created['callbackSecret']}")
    return 0


async def _bots_callback(settings: Settings, bot_id: str, url: str | None) -> str | None:
    async with _transaction(settings) as conn:
        return await set_callback(bot_id, url, conn=conn)


def cmd_bots_callback(args: argparse.Namespace) -> int:
    settings = _settings(args)
    url = _callback_url(args.url)
    upgrade(settings.database_url)
    try:
        secret = asyncio.run(_bots_callback(settings, args.bot_id, url))
    except LookupError as exc:
        print(str(exc).strip("'\""), file=sys.stderr)
        return 2
    if args.json:
        _print_json({"id": args.bot_id, "callbackUrl": url, "callbackSecret": secret})
    elif url is None:
        print(f"{args.bot_id}: callbacks stopped")
    else:
        print(f"{args.bot_id}: every envelope is POSTed to {url}")
        print(f"callback signing secret: {secret}")
        print("Running hubs pick the change up within seconds.")
    return 0


async def _bots_list(settings: Settings) -> list[dict[str, Any]]:
    async with _transaction(settings) as conn:
        bots = await list_bots(conn=conn)
    return [
        {
            "id": bot.id,
            "name": bot.name,
            "allowedOrigins": bot.allowed_origins,
            "source": bot.source,
            "disabled": bot.disabled,
            "createdAt": iso(bot.created_at),
        }
        for bot in bots
    ]


def cmd_bots_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    upgrade(settings.database_url)
    bots = asyncio.run(_bots_list(settings))
    if args.json:
        _print_json(bots)
        return 0
    if not bots:
        print("no bots yet: add one with  offload-hub bots add 'My bot'")
    for bot in bots:
        flags = " (disabled)" if bot["disabled"] else ""
        origins = ", ".join(bot["allowedOrigins"]) or "server-side only"
        print(f"{bot['id']}  {bot['name']}{flags}  [{origins}]")
    return 0


# -- agents -----------------------------------------------------------------------------------


async def _agents_add(settings: Settings, args: argparse.Namespace, password: str) -> Any:
    async with _accounts(settings) as accounts:
        return await accounts.create(
            args.email,
            args.name or args.email.split("@")[0],
            password,
            role="admin" if args.admin else "agent",
            max_chats=args.max_chats,
            skills=args.skill,
            languages=args.language,
        )


def cmd_agents_add(args: argparse.Namespace) -> int:
    from hub.errors import HubError

    settings = _settings(args)
    upgrade(settings.database_url)
    generated = not args.password_stdin
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\n")
    try:
        agent = asyncio.run(_agents_add(settings, args, password))
    except HubError as exc:
        print(f"cannot add the agent: {exc.message}", file=sys.stderr)
        return 2
    result = {"id": agent.id, "email": agent.email, "name": agent.display_name, "role": agent.role}
    if generated:
        result["password"] = password
    if args.json:
        _print_json(result)
    else:
        print(f"{agent.role} {agent.display_name} <{agent.email}> added ({agent.id})")
        if generated:
            print(f"password: {password}")
            print(
                "It is shown once; the agent can sign in at "
                f"{settings.public_base_url}/dashboard/ with it."
            )
    return 0


async def _agents_list(settings: Settings) -> list[dict[str, Any]]:
    async with _accounts(settings) as accounts:
        agents = await accounts.all()
    return [
        {
            "id": a.id,
            "email": a.email,
            "name": a.display_name,
            "role": a.role,
            "maxChats": a.max_chats,
            "skills": a.skills,
            "languages": a.languages,
            "presence": a.presence,
            "disabled": a.disabled,
        }
        for a in agents
    ]


def cmd_agents_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    upgrade(settings.database_url)
    agents = asyncio.run(_agents_list(settings))
    if args.json:
        _print_json(agents)
        return 0
    if not agents:
        print(
            "no agents yet: add the first admin with  offload-hub agents add you@example.com "
            "--admin"
        )
    for agent in agents:
        flags = " (disabled)" if agent["disabled"] else ""
        print(f"{agent['id']}  {agent['role']:<5}  {agent['name']} <{agent['email']}>{flags}")
    return 0


# -- providers --------------------------------------------------------------------------------


async def _providers(settings: Settings) -> dict[str, Any]:
    from hub import keys
    from hub.app import create_app

    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()  # starts every instance and runs its check()
    try:
        host = app[keys.PROVIDERS]
        return {
            "adapters": [
                {
                    "name": adapter.name,
                    "target": adapter.target,
                    "capabilities": adapter.capabilities,
                    "error": adapter.error,
                }
                for adapter in host.adapters.values()
            ],
            "instances": [
                {
                    "name": instance.name,
                    "type": instance.type,
                    "enabled": instance.enabled,
                    "healthy": instance.usable,
                    "detail": instance.detail,
                }
                for instance in host
            ],
        }
    finally:
        await runner.cleanup()


def cmd_providers_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _configure_logging("CRITICAL")
    upgrade(settings.database_url)
    report = asyncio.run(_providers(settings))
    if args.json:
        _print_json(report)
        return 0
    print("installed adapters:")
    for adapter in report["adapters"]:
        state = (
            f"BROKEN: {adapter['error']}"
            if adapter["error"]
            else (", ".join(adapter["capabilities"]) or "no optional capabilities")
        )
        print(f"  {adapter['name']:<12} {state}")
    if not report["adapters"]:
        print("  none")
    print("configured instances:")
    for instance in report["instances"]:
        health = "healthy" if instance["healthy"] else "UNHEALTHY"
        print(
            f"  {instance['name']:<12} type={instance['type']:<10} {health}  {instance['detail']}"
        )
    if not report["instances"]:
        print("  none")
    return 0


# -- the parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="offload-hub", description="The human-agent offload hub.")
    parser.add_argument("--version", action="version", version=f"offload-hub {__version__}")
    parser.add_argument(
        "--config", "-c", help="TOML config file (default: $OFFLOAD_HUB_CONFIG, if set)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate the database and run the hub")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")
    serve.set_defaults(run=cmd_serve)

    demo = commands.add_parser(
        "demo", help="serve the hub with a demo chatbot page and a demo agent"
    )
    demo.add_argument("--host", help="listen address (default 127.0.0.1)")
    demo.add_argument("--port", type=int, help="listen port (default 8080)")
    demo.set_defaults(run=cmd_demo)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db_upgrade = db.add_parser("upgrade", help="apply the migrations")
    db_upgrade.add_argument("revision", nargs="?", default="head")
    db_upgrade.set_defaults(run=cmd_db_upgrade)

    bots = commands.add_parser("bots", help="chatbot instances").add_subparsers(
        dest="bots_command", required=True, metavar="ACTION"
    )
    bots_add = bots.add_parser("add", help="register a bot; prints its secret key once")
    bots_add.add_argument("name")
    bots_add.add_argument(
        "--origin",
        action="append",
        default=[],
        help="an origin its browser widget runs on (repeatable), e.g. https://shop.example",
    )
    bots_add.add_argument(
        "--callback-url", help="POST every envelope of its conversations here (signed)"
    )
    bots_add.add_argument("--json", action="store_true", help="machine-readable output")
    bots_add.set_defaults(run=cmd_bots_add)
    bots_callback = bots.add_parser(
        "callback", help="set (or, without URL, stop) a bot's callback URL; prints its secret"
    )
    bots_callback.add_argument("bot_id")
    bots_callback.add_argument("url", nargs="?")
    bots_callback.add_argument("--json", action="store_true", help="machine-readable output")
    bots_callback.set_defaults(run=cmd_bots_callback)
    bots_list = bots.add_parser("list", help="the registered bots")
    bots_list.add_argument("--json", action="store_true", help="machine-readable output")
    bots_list.set_defaults(run=cmd_bots_list)

    agents = commands.add_parser("agents", help="dashboard agents").add_subparsers(
        dest="agents_command", required=True, metavar="ACTION"
    )
    agents_add = agents.add_parser("add", help="add an agent; prints a generated password once")
    agents_add.add_argument("email")
    agents_add.add_argument("--name", help="display name (default: the email's local part)")
    agents_add.add_argument("--admin", action="store_true", help="may manage agents and bots")
    agents_add.add_argument("--max-chats", type=int, default=3, help="concurrent chats (3)")
    agents_add.add_argument("--skill", action="append", default=[], help="a skill (repeatable)")
    agents_add.add_argument(
        "--language", action="append", default=[], help="a language it answers (repeatable)"
    )
    agents_add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    agents_add.add_argument("--json", action="store_true", help="machine-readable output")
    agents_add.set_defaults(run=cmd_agents_add)
    agents_list = agents.add_parser("list", help="the agents")
    agents_list.add_argument("--json", action="store_true", help="machine-readable output")
    agents_list.set_defaults(run=cmd_agents_list)

    providers = commands.add_parser("providers", help="provider adapters").add_subparsers(
        dest="providers_command", required=True, metavar="ACTION"
    )
    providers_list = providers.add_parser(
        "list", help="installed adapters, configured instances and their health"
    )
    providers_list.add_argument("--json", action="store_true", help="machine-readable output")
    providers_list.set_defaults(run=cmd_providers_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``offload-hub``: serve, migrate, register bots, inspect providers."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from hub import __version__, keys, loop
from hub.agents.accounts import AgentAccounts
from hub.agents.bots import BotRegistry
from hub.clock import Clock, iso
from hub.db import Database, create_database
from hub.errors import NotFound
from hub.journal import Journal
from hub.migrate import DatabaseNotReady, check_schema, shown_url, upgrade
from hub.settings import ConfigError, Settings, check_origin, load_settings
from hub.standalone import standalone_journal
from hub.telemetry.logs import configure_logging as _configure_logging

# ``offload-hub demo`` keeps its own database unless one is configured, so the demo's bot
# and agent never mix with a real hub's (``make run`` and ``make demo`` side by side).
DEMO_DATABASE_URL = "sqlite+aiosqlite:///./offload-hub-demo.db"
# Connections waiting to be accepted: thousands of chatbots reconnect at once after a restart,
# and a short queue (Python's default is 128) drops their SYNs into seconds of TCP backoff.
# The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 4096


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    overrides["database_url"] = args.database_url
    return load_settings(args.config, **{k: v for k, v in overrides.items() if v is not None})


def _ready(settings: Settings) -> None:
    """Read-only commands: the database must exist at this hub's schema (nothing is made
    or migrated); otherwise one line says what is wrong."""
    asyncio.run(check_schema(settings.database_url))


@asynccontextmanager
async def _journal(settings: Settings) -> AsyncIterator[tuple[Database, Journal]]:
    """The database, and a journal of this command's own for its writes."""
    database = create_database(settings.database_url)
    try:
        async with standalone_journal(database, Clock()) as journal:
            yield database, journal
    finally:
        await database.dispose()


@asynccontextmanager
async def _accounts(settings: Settings) -> AsyncIterator[AgentAccounts]:
    async with _journal(settings) as (database, journal):
        yield AgentAccounts(database, journal)


@asynccontextmanager
async def _bots(settings: Settings) -> AsyncIterator[BotRegistry]:
    async with _journal(settings) as (database, journal):
        yield BotRegistry(database, journal)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


# -- serve ------------------------------------------------------------------------------------


def _listen(settings: Settings) -> tuple[socket.socket, Settings]:
    """Bind the listening socket first, so what is printed (and the hub's own address, for
    origins and links) is the address really served, also with ``--port 0``."""
    try:
        family = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server(
            (settings.host, settings.port), family=family, backlog=LISTEN_BACKLOG
        )
    except OSError as exc:
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from None
    port = sock.getsockname()[1]
    return sock, settings.model_copy(update={"port": port})


def _addresses(settings: Settings, sock: socket.socket) -> tuple[str, str]:
    """(the address listened on, the address people use: ``public_url`` or the former)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}", settings.public_base_url


def _run(app: web.Application, sock: socket.socket, banner: str) -> None:
    """Serve until SIGINT/SIGTERM; the banner is printed once the socket accepts."""
    loop.install(app[keys.SETTINGS].event_loop)

    def started(_message: str) -> None:
        print(banner, flush=True)

    web.run_app(app, sock=sock, print=started, shutdown_timeout=10, backlog=LISTEN_BACKLOG)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args, host=args.host, port=args.port)
    _configure_logging(settings.log_level, settings.log_format)
    upgrade(settings.database_url)
    from offload_hub.app import create_app

    sock, settings = _listen(settings)
    app = create_app(settings)
    listening, base = _addresses(settings, sock)
    _run(
        app,
        sock,
        f"offload-hub {__version__} listening on {listening}\n"
        f"  database:     {shown_url(settings.database_url)}\n"
        f"  API:          {base}/v1/openapi.json\n"
        f"  health:       {base}/healthz  {base}/readyz\n"
        f"  dashboard:    {base}/dashboard/\n"
        f"  first admin:  offload-hub agents add you@example.com --admin\n"
        f"  add a bot:    offload-hub bots add 'My bot'   (prints its key once)\n",
    )
    return 0


# -- demo -------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """``serve``, plus the demo page, its bot (allowed from this hub) and a demo agent, on
    the demo's own database unless one is configured."""
    settings = _settings(args, host=args.host, port=args.port)
    if "database_url" not in settings.model_fields_set:
        settings = settings.model_copy(update={"database_url": DEMO_DATABASE_URL})
    _configure_logging(settings.log_level, settings.log_format)
    upgrade(settings.database_url)
    from hub.demo import mount_demo, prepare_demo
    from offload_hub.app import create_app

    sock, settings = _listen(settings)
    demo = asyncio.run(prepare_demo(settings))
    app = create_app(settings)
    mount_demo(app, demo.bot_id)
    listening, base = _addresses(settings, sock)
    _run(
        app,
        sock,
        f"offload-hub {__version__} demo listening on {listening}\n"
        f"  database:     {shown_url(settings.database_url)}\n"
        f"  1. dashboard: {base}/dashboard/\n"
        f"     sign in as {demo.agent_email}  password: {demo.agent_password}\n"
        f"     (a new password at every start) and set your status to Online\n"
        f"  2. demo page: {base}/demo/\n"
        f"     pick 'Talk to a person': the chat arrives in the dashboard\n"
        f"  bot {demo.bot_id} takes browser calls from {', '.join(demo.origins)}\n",
    )
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
    async with _bots(settings) as bots:
        new = await bots.create(name, allowed_origins=origins, callback_url=callback_url)
    created: dict[str, Any] = {
        "id": new.bot.id,
        "name": new.bot.name,
        "secret": new.secret,
        "allowedOrigins": origins,
    }
    if callback_url is not None:
        created.update(callbackUrl=callback_url, callbackSecret=new.callback_secret)
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
    async with _bots(settings) as bots:
        return await bots.set_callback(bot_id, url)


def cmd_bots_callback(args: argparse.Namespace) -> int:
    settings = _settings(args)
    url = _callback_url(args.url)
    upgrade(settings.database_url)
    try:
        secret = asyncio.run(_bots_callback(settings, args.bot_id, url))
    except NotFound as exc:
        print(f"{args.bot_id}: {exc.message}", file=sys.stderr)
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
    async with _bots(settings) as registry:
        bots = await registry.all()
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
    _ready(settings)
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


def name_from_email(email: str) -> str:
    """A readable display name from an address: ``ana.garcia+desk@x`` gives "Ana Garcia"."""
    local = email.split("@")[0].split("+")[0]
    words = [word for word in re.split(r"[._\-\s]+|\d+", local) if word]
    return " ".join(word[:1].upper() + word[1:] for word in words) or local or email


async def _agents_add(settings: Settings, args: argparse.Namespace, password: str) -> Any:
    async with _accounts(settings) as accounts:
        return await accounts.create(
            args.email,
            args.name or name_from_email(args.email),
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
            # Only a configured public_url is known to be where the hub is reached; the
            # listen address of a hub running elsewhere (another --port) is not.
            where = (
                f"{settings.public_url.rstrip('/')}/dashboard/"
                if settings.public_url
                else ("the hub's /dashboard/")
            )
            print(f"It is shown once; the agent signs in at {where} with it.")
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
    _ready(settings)
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


async def _providers(app: web.Application) -> dict[str, Any]:
    from hub import keys

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
    from offload_hub.app import create_app

    settings = _settings(args)
    _configure_logging("CRITICAL")
    app = create_app(settings, background=False)  # every instance's config is checked here
    _ready(settings)
    report = asyncio.run(_providers(app))
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


def _common_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """``--config`` and ``--database-url``, accepted before or after the command: the
    top-level parser holds the defaults, each command's parser leaves them alone unless
    the option is given there (argparse.SUPPRESS)."""
    parser.add_argument(
        "--config",
        "-c",
        default=default,
        help="TOML config file (default: $OFFLOAD_HUB_CONFIG, if set)",
    )
    parser.add_argument(
        "--database-url",
        default=default,
        metavar="URL",
        help="the database (default: $OFFLOAD_HUB_DATABASE_URL, the config file, "
        "or sqlite+aiosqlite:///./offload-hub.db)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="offload-hub", description="The human-agent offload hub.")
    parser.add_argument("--version", action="version", version=f"offload-hub {__version__}")
    _common_options(parser, default=None)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        group: Any, name: str, help: str, run: Callable[[argparse.Namespace], int] | None = None
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=help, parents=[common])
        if run is not None:
            sub.set_defaults(run=run)
        return sub

    def actions(name: str, help: str) -> Any:
        return command(commands, name, help).add_subparsers(
            dest=f"{name}_command", required=True, metavar="ACTION"
        )

    serve = command(commands, "serve", "migrate the database and run the hub", cmd_serve)
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080; 0: any free port)")

    demo = command(
        commands,
        "demo",
        "serve the hub with a demo chatbot page and a demo agent (own database: "
        "./offload-hub-demo.db unless one is configured)",
        cmd_demo,
    )
    demo.add_argument("--host", help="listen address (default 127.0.0.1)")
    demo.add_argument("--port", type=int, help="listen port (default 8080; 0: any free port)")

    db = actions("db", "database schema")
    db_upgrade = command(db, "upgrade", "apply the migrations", cmd_db_upgrade)
    db_upgrade.add_argument("revision", nargs="?", default="head")

    bots = actions("bots", "chatbot instances")
    bots_add = command(bots, "add", "register a bot; prints its secret key once", cmd_bots_add)
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
    bots_callback = command(
        bots,
        "callback",
        "set (or, without URL, stop) a bot's callback URL; prints its secret",
        cmd_bots_callback,
    )
    bots_callback.add_argument("bot_id")
    bots_callback.add_argument("url", nargs="?")
    bots_callback.add_argument("--json", action="store_true", help="machine-readable output")
    bots_list = command(bots, "list", "the registered bots (read-only)", cmd_bots_list)
    bots_list.add_argument("--json", action="store_true", help="machine-readable output")

    agents = actions("agents", "dashboard agents")
    agents_add = command(
        agents, "add", "add an agent; prints a generated password once", cmd_agents_add
    )
    agents_add.add_argument("email")
    agents_add.add_argument(
        "--name", help="display name (default: from the address, ana.garcia@... is Ana Garcia)"
    )
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
    agents_list = command(agents, "list", "the agents (read-only)", cmd_agents_list)
    agents_list.add_argument("--json", action="store_true", help="machine-readable output")

    providers = actions("providers", "provider adapters")
    providers_list = command(
        providers,
        "list",
        "installed adapters, configured instances and their health (read-only)",
        cmd_providers_list,
    )
    providers_list.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except DatabaseNotReady as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The application factory: it only wires. Resources live in ``cleanup_ctx``.

It sits above :mod:`hub` and :mod:`dashboard` (neither imports it): it builds the hub's
services, mounts the v1 route tables (listed in :data:`API_ROUTES`), the provider
instances' inbound routes and the dashboard sub-app."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import aiohttp
from aiohttp import web

import hub
from dashboard import create_dashboard, to_dashboard
from hub import keys, media_links, serve_lock
from hub.agents.accounts import AgentAccounts
from hub.agents.bots import BotRegistry
from hub.agents.canned import CannedResponses
from hub.agents.live import LiveChannel
from hub.agents.notes import Notes
from hub.agents.workspace import HubWorkspace
from hub.api import conversations, escalations, events, health, media, openapi
from hub.api.bots import BotDirectory
from hub.api.cors import cors_middleware
from hub.api.errors import error_middleware
from hub.api.rate_limits import RateLimiter, rate_limit_middleware
from hub.api.registry import Api, ApiRoutes
from hub.api.request_text import request_text_middleware
from hub.callbacks import KIND as CALLBACK_KIND
from hub.callbacks import CallbackDelivery, CallbackDirectory, callback_tap
from hub.chatlayer import endpoint as chatlayer_endpoint
from hub.chatlayer.channel import ChatlayerChannel
from hub.chatlayer.incoming import ChatlayerEvents
from hub.clock import Clock
from hub.conversation.delivery import KIND as PROVIDER_KIND
from hub.conversation.delivery import ProviderDelivery
from hub.conversation.failover import Failover
from hub.conversation.service import ConversationService
from hub.db import create_database, postgres_dsn
from hub.eventbus import EventBus
from hub.fanout import Fanout
from hub.journal import Journal
from hub.lifecycle.scheduler import build_scheduler
from hub.lifecycle.sweeps import Lifecycle
from hub.notices import Fetcher, Notices, PostgresTransport, RedisTransport, Transport
from hub.outbox import Dispatcher
from hub.plugins import Instance, ProviderHost
from hub.provider_context import HubProviderContext
from hub.routing import Router
from hub.security.proxies import forwarded_middleware, parse_networks
from hub.security.tokens import TokenSigner
from hub.settings import Settings
from hub.standalone import standalone_journal
from hub.store.conversations import open_heads
from hub.store.meta import token_key
from hub.streams import LogReader
from hub.telemetry.setup import install as install_telemetry
from hub.writer import journal_writer

log = logging.getLogger(__name__)

# The v1 API, module by module (each module's table lists its routes); the OpenAPI
# document describes exactly these.
API_ROUTES: tuple[ApiRoutes, ...] = (
    health.routes,
    escalations.routes,
    conversations.routes,
    events.routes,
    media.routes,
    chatlayer_endpoint.routes,
    openapi.routes,
)

# Files the hub serves to browsers: the chatbot adapter (/static/offload-hub-adapter.js).
STATIC = Path(hub.__file__).parent / "static"


def create_app(
    settings: Settings, *, clock: Clock | None = None, background: bool = True
) -> web.Application:
    """The hub. ``background=False`` (``offload-hub providers list``) starts the providers
    without the work a serving hub does on its own: no scheduler, no outbox deliveries."""
    app = web.Application(
        # CORS outermost: browsers on other origins must be able to read error answers too.
        middlewares=[
            cors_middleware,
            rate_limit_middleware,
            error_middleware,
            request_text_middleware,
        ],
        client_max_size=settings.limits.max_upload_bytes + 64 * 1024,
    )
    app[keys.SETTINGS] = settings
    app[keys.BACKGROUND] = background
    app[keys.CLOCK] = clock or Clock()
    app[keys.RATE_LIMITER] = RateLimiter(settings.rate_limits, time.monotonic)
    install_telemetry(app)
    if settings.trusted_proxies:  # first: every other middleware sees the client's address
        app.middlewares.insert(0, forwarded_middleware(parse_networks(settings.trusted_proxies)))
    app[keys.BUS] = EventBus()
    app[keys.LIVE] = LiveChannel()
    host = ProviderHost.build(settings, partial(_provider_context, app))
    app[keys.PROVIDERS] = host
    app[keys.ROUTER] = Router(settings.queues, [i.name for i in host if i.enabled])

    api = app[keys.API] = Api(*API_ROUTES)
    api.add_to(app)
    for instance in host:
        if instance.provider is not None and (routes := instance.provider.routes()):
            inbound = web.Application()
            inbound.router.add_routes(routes)
            app.add_subapp(f"/providers/{instance.name}/", inbound)

    app.router.add_routes(media_links.routes)
    app.add_subapp("/dashboard/", create_dashboard())
    app.router.add_get("/", to_dashboard)
    app.router.add_static("/static/", STATIC, name="static")

    app.cleanup_ctx.extend([_database])
    if background:
        app.cleanup_ctx.append(_notices)
    app.cleanup_ctx.extend([_http_session, _core, _providers])
    if background:
        app.cleanup_ctx.append(_scheduler)
    app.on_shutdown.append(_close_streams)
    return app


def _provider_context(app: web.Application, instance: Instance) -> HubProviderContext:
    """An instance's context: what the hub builds at start-up is looked up when used."""
    return HubProviderContext(
        instance.name,
        settings=app[keys.SETTINGS],
        clock=app[keys.CLOCK],
        report=instance.report,
        http=lambda: app[keys.HTTP],
        database=lambda: app[keys.DATABASE],
        journal=lambda: app[keys.JOURNAL],
        workspace=lambda: app[keys.WORKSPACE],
        service=lambda: app[keys.SERVICE],
        tokens=lambda: app[keys.TOKENS],
    )


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    held = serve_lock.acquire(settings.database_url) if app[keys.BACKGROUND] else None
    database = create_database(settings.database_url, pool_size=settings.database_pool_size)
    app[keys.DATABASE] = database
    app[keys.LOG_READER] = LogReader(database)
    fanout = app[keys.FANOUT] = Fanout(app[keys.LOG_READER], app[keys.METRICS])
    await fanout.start()
    app[keys.BOTS] = BotDirectory(database)
    # What must exist before the hub's journal and callbacks start (the token key, the
    # bots of the config file), written by a journal of its own.
    async with standalone_journal(database, app[keys.CLOCK]) as journal:
        secret = settings.secret_key
        key = secret.get_secret_value().encode() if secret is not None else await token_key(journal)
        await BotRegistry(database, journal).sync_config(settings.bots)
    app[keys.TOKENS] = TokenSigner(key)
    async with database.read() as conn:
        app[keys.BUS].seed(await open_heads(conn=conn))
    yield
    await fanout.stop()
    if database.is_sqlite:
        await database.checkpoint()
    await database.dispose()
    serve_lock.release(held)


async def _notices(app: web.Application) -> AsyncIterator[None]:
    """Between processes (PostgreSQL): Redis if configured, else LISTEN/NOTIFY."""
    settings = app[keys.SETTINGS]
    database = app[keys.DATABASE]
    transport: Transport | None = None
    if settings.redis_url:
        transport = RedisTransport(settings.redis_url, settings.notice_prefix)
    elif not database.is_sqlite:
        transport = PostgresTransport(postgres_dsn(database.url), settings.notice_prefix)
    if transport is None:
        yield
        return
    fetcher = Fetcher(app[keys.LOG_READER], app[keys.BUS])
    notices = Notices(transport, app[keys.BUS], app[keys.LIVE], fetcher)
    app[keys.NOTICES] = notices
    await notices.start()
    yield
    await notices.stop()


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=app[keys.SETTINGS].provider_timeout_seconds),
        headers={"User-Agent": "offload-hub"},
    )
    app[keys.HTTP] = session
    yield
    await session.close()


async def _core(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    database = app[keys.DATABASE]
    writer = journal_writer(database.url, database.writer)
    journal = Journal(writer, app[keys.BUS], app[keys.CLOCK], metrics=app[keys.METRICS])
    dispatcher = Dispatcher(
        journal,
        app[keys.CLOCK],
        backoff_base=settings.retry_base_seconds,
        backoff_cap=settings.retry_max_seconds,
    )
    mover = Failover()
    dispatcher.register(
        PROVIDER_KIND,
        ProviderDelivery(
            app[keys.PROVIDERS],
            app[keys.DATABASE],
            dispatcher,
            timeout=settings.provider_timeout_seconds,
            max_attempts=settings.delivery_attempts,
            mover=mover,
        ),
    )
    app[keys.JOURNAL] = journal
    app[keys.DISPATCHER] = dispatcher
    callbacks = CallbackDirectory(app[keys.DATABASE])
    await callbacks.refresh()
    app[keys.CALLBACKS] = callbacks
    journal.taps.append(callback_tap(callbacks, lambda: app.get(keys.DISPATCHER)))
    dispatcher.register(
        CALLBACK_KIND,
        CallbackDelivery(
            callbacks,
            lambda: app[keys.HTTP],
            timeout=settings.provider_timeout_seconds,
            allow_private=settings.allow_private_urls,
            max_attempts=settings.callback_attempts,
        ),
    )
    chatlayer = ChatlayerChannel(
        settings,
        database=database,
        journal=journal,
        http=app[keys.HTTP],
        tokens=app[keys.TOKENS],
        clock=app[keys.CLOCK],
    )
    chatlayer.install(dispatcher)
    app[keys.CHATLAYER] = chatlayer
    app[keys.AGENTS] = AgentAccounts(app[keys.DATABASE], journal)
    app[keys.BOT_REGISTRY] = BotRegistry(database, journal, app[keys.BOTS])
    app[keys.CANNED] = CannedResponses(database, journal)
    app[keys.NOTES] = Notes(journal)
    app[keys.WORKSPACE] = HubWorkspace(app[keys.DATABASE], journal, app[keys.LIVE])
    app[keys.SERVICE] = ConversationService(
        database=app[keys.DATABASE],
        journal=journal,
        dispatcher=dispatcher,
        host=app[keys.PROVIDERS],
        router=app[keys.ROUTER],
        provider_timeout=settings.provider_timeout_seconds,
        lifecycle=settings.lifecycle,
        workspace=app[keys.WORKSPACE],
    )
    app[keys.CHATLAYER_EVENTS] = ChatlayerEvents(
        settings, database=database, service=app[keys.SERVICE], channel=chatlayer
    )
    mover.reroute = app[keys.SERVICE].route
    app[keys.FAILOVER] = mover
    await journal.start()
    yield
    await mover.stop()
    await dispatcher.stop()
    await journal.stop()
    await writer.close()


async def _providers(app: web.Application) -> AsyncIterator[None]:
    host = app[keys.PROVIDERS]
    await host.start()
    yield
    await host.stop()


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    """The one scheduler of periodic work, started after the providers (its first deadline
    sweep runs at once: what came due while the hub was down is acted on at start-up)."""
    settings = app[keys.SETTINGS].lifecycle
    lifecycle = app[keys.LIFECYCLE] = Lifecycle(
        settings,
        database=app[keys.DATABASE],
        journal=app[keys.JOURNAL],
        dispatcher=app[keys.DISPATCHER],
        service=app[keys.SERVICE],
        workspace=app[keys.WORKSPACE],
        host=app[keys.PROVIDERS],
        router=app[keys.ROUTER],
    )
    scheduler = app[keys.SCHEDULER] = build_scheduler(
        settings,
        lifecycle=lifecycle,
        dispatcher=app[keys.DISPATCHER],
        host=app[keys.PROVIDERS],
        callbacks=app[keys.CALLBACKS],
        chatlayer=app[keys.CHATLAYER],
        database=app[keys.DATABASE],
        skipped=app[keys.METRICS].run_skipped,
    )
    scheduler.start()
    yield
    scheduler.shutdown(wait=False)  # cancels the jobs under way
    await asyncio.sleep(0)  # ... and lets them end before the services they use stop


async def _close_streams(app: web.Application) -> None:
    """Shutdown: every stream ends with "going away", so clients resume elsewhere."""
    app[keys.BUS].close_all(aiohttp.WSCloseCode.GOING_AWAY)
    app[keys.LIVE].close_all(aiohttp.WSCloseCode.GOING_AWAY)

"""Typed application keys: every shared resource of the hub, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import ChainMapProxy, web

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from hub.agents.accounts import AgentAccounts
    from hub.agents.bots import BotRegistry
    from hub.agents.canned import CannedResponses
    from hub.agents.live import LiveChannel
    from hub.agents.notes import Notes
    from hub.agents.workspace import HubWorkspace
    from hub.api.bots import BotDirectory
    from hub.api.rate_limits import RateLimiter
    from hub.api.registry import Api
    from hub.callbacks import CallbackDirectory
    from hub.chatlayer.channel import ChatlayerChannel
    from hub.chatlayer.incoming import ChatlayerEvents
    from hub.clock import Clock
    from hub.conversation.failover import Failover
    from hub.conversation.service import ConversationService
    from hub.db import Database
    from hub.eventbus import EventBus
    from hub.fanout import Fanout
    from hub.journal import Journal
    from hub.lifecycle.sweeps import Lifecycle
    from hub.notices import Notices
    from hub.outbox import Dispatcher
    from hub.plugins import ProviderHost
    from hub.routing import Router
    from hub.security.tokens import TokenSigner
    from hub.settings import Settings
    from hub.streams import LogReader
    from hub.telemetry.metrics import HubMetrics

# Where a hub's resources are read: the application, or a request's ``config_dict``
# (which also finds them from a sub-app such as the dashboard).
Resources = web.Application | ChainMapProxy

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
# False for a command that starts the hub only to look (no scheduler, no deliveries).
BACKGROUND: web.AppKey[bool] = web.AppKey("background", bool)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
DATABASE: web.AppKey[Database] = web.AppKey("database")
BOTS: web.AppKey[BotDirectory] = web.AppKey("bots")
BUS: web.AppKey[EventBus] = web.AppKey("bus")
LOG_READER: web.AppKey[LogReader] = web.AppKey("log_reader")
FANOUT: web.AppKey[Fanout] = web.AppKey("fanout")
NOTICES: web.AppKey[Notices] = web.AppKey("notices")
JOURNAL: web.AppKey[Journal] = web.AppKey("journal")
DISPATCHER: web.AppKey[Dispatcher] = web.AppKey("dispatcher")
PROVIDERS: web.AppKey[ProviderHost] = web.AppKey("providers")
ROUTER: web.AppKey[Router] = web.AppKey("router")
SERVICE: web.AppKey[ConversationService] = web.AppKey("service")
TOKENS: web.AppKey[TokenSigner] = web.AppKey("tokens")
HTTP: web.AppKey[aiohttp.ClientSession] = web.AppKey("http")
AGENTS: web.AppKey[AgentAccounts] = web.AppKey("agents")
BOT_REGISTRY: web.AppKey[BotRegistry] = web.AppKey("bot_registry")
CANNED: web.AppKey[CannedResponses] = web.AppKey("canned")
NOTES: web.AppKey[Notes] = web.AppKey("notes")
LIVE: web.AppKey[LiveChannel] = web.AppKey("live")
WORKSPACE: web.AppKey[HubWorkspace] = web.AppKey("workspace")
LIFECYCLE: web.AppKey[Lifecycle] = web.AppKey("lifecycle")
SCHEDULER: web.AppKey[AsyncIOScheduler] = web.AppKey("scheduler")
CALLBACKS: web.AppKey[CallbackDirectory] = web.AppKey("callbacks")
FAILOVER: web.AppKey[Failover] = web.AppKey("failover")
CHATLAYER: web.AppKey[ChatlayerChannel] = web.AppKey("chatlayer")
CHATLAYER_EVENTS: web.AppKey[ChatlayerEvents] = web.AppKey("chatlayer_events")
METRICS: web.AppKey[HubMetrics] = web.AppKey("metrics")
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")
# The v1 routes the app serves (their tables, for the OpenAPI document and the metrics).
API: web.AppKey[Api] = web.AppKey("api")

"""The hub's one scheduler (APScheduler 3.x): every piece of periodic work is a job here.

The deadline sweeps (often) and the rest of the lifecycle, the outbox's sweep (rows no
process holds), each provider instance's ``check()`` (at the adapter's ``check_every``,
else ``lifecycle.health_check_seconds``), the bots' callback URLs, the Chatlayer history's
purge and, on SQLite, the WAL checkpoint. Nothing else in the hub loops on a timer; an app
built with ``background=False`` has no scheduler at all.

A run that takes longer than its job's interval makes APScheduler skip the runs that come
due meanwhile, and it logs a warning for each (a busy hub: one a second). The hub counts
them instead (``offload_hub_scheduled_runs_skipped_total``) and logs one line per job a
minute at most, saying how many runs it skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from hub.callbacks import CallbackDirectory
from hub.chatlayer.channel import ChatlayerChannel
from hub.db import Database
from hub.lifecycle.sweeps import Lifecycle
from hub.outbox import Dispatcher
from hub.plugins import ProviderHost
from hub.settings import Lifecycle as LifecycleSettings

log = logging.getLogger(__name__)

RETENTION_EVERY_SECONDS = 3600
CALLBACKS_EVERY_SECONDS = 10
CHATLAYER_PURGE_EVERY_SECONDS = 3600
# The journal's SQLite connection never checkpoints the WAL itself (that would sync the
# disk on the event loop); this job does, from a reader's thread.
CHECKPOINT_EVERY_SECONDS = 1.0
OVERRUN_LOG_EVERY_SECONDS = 60.0

# APScheduler's own warning for every skipped or missed run (its message templates).
_SKIP_TEMPLATES = ('Execution of job "%s" skipped', 'Run time of job "%s" was missed')


class _NoSkipWarnings(logging.Filter):
    """Drops APScheduler's warning per skipped run: :class:`Overruns` says it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_SKIP_TEMPLATES))


_NO_SKIP_WARNINGS = _NoSkipWarnings()


class Overruns:
    """Runs a job skipped because its last run was still going (or the loop was too busy
    to start it in time): counted, and told in one line per job a minute at most."""

    def __init__(
        self,
        skipped: Callable[[str], None] | None = None,
        *,
        every: float = OVERRUN_LOG_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count = skipped
        self._every = every
        self._clock = clock
        self._pending: dict[str, int] = {}  # skipped runs not told yet, by job
        self._told: dict[str, float] = {}  # when each job's last line was logged

    def __call__(self, event: JobEvent) -> None:
        job = event.job_id
        if self._count is not None:
            self._count(job)
        self._pending[job] = self._pending.get(job, 0) + 1
        now = self._clock()
        if now - self._told.get(job, -self._every) >= self._every:
            log.warning(
                "scheduled job %s skipped %d run(s): its runs take longer than its interval "
                "(the hub or its database is overloaded); this is said once a minute at most",
                job,
                self._pending.pop(job),
            )
            self._told[job] = now


def _guarded(name: str, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("scheduled job %s failed; it runs again at its next time", name)

    return run


async def _checkpoint(database: Database) -> None:
    try:
        await database.checkpoint()
    except Exception as exc:
        log.warning("SQLite checkpoint failed: %s: %s", type(exc).__name__, exc)


def build_scheduler(
    settings: LifecycleSettings,
    *,
    lifecycle: Lifecycle,
    dispatcher: Dispatcher,
    host: ProviderHost,
    callbacks: CallbackDirectory,
    chatlayer: ChatlayerChannel,
    database: Database,
    skipped: Callable[[str], None] | None = None,
) -> AsyncIOScheduler:
    """A scheduler with every job (not started). Jobs marked ``at_once`` run their first
    time when it starts: what came due while the hub was down is acted on at start-up.
    ``skipped(job)`` is called for each run a job skipped (see the module's docstring)."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    report_overruns(scheduler, Overruns(skipped))
    now = datetime.now(UTC)

    def every(
        name: str,
        seconds: float,
        job: Callable[[], Awaitable[Any]],
        *,
        at_once: bool = False,
        late_ok: bool = False,
    ) -> None:
        options: dict[str, Any] = {"max_instances": 1, "coalesce": True}
        if at_once:
            options["next_run_time"] = now
        if late_ok:  # a busy loop delays it; it still runs (not "missed")
            options["misfire_grace_time"] = None
        scheduler.add_job(
            _guarded(name, job), "interval", seconds=seconds, id=name, name=name, **options
        )

    every("deadlines", settings.tick_seconds, lifecycle.tick, at_once=True)
    every("positions", settings.position_refresh_seconds, lifecycle.refresh_positions, at_once=True)
    if settings.retention_days > 0:
        every("retention", RETENTION_EVERY_SECONDS, lifecycle.purge, at_once=True)
    # Rows whose lease ran out (their process died) or that no process took; new rows go
    # to the dispatcher when their batch commits and never wait for this.
    every("outbox", dispatcher.sweep_every, dispatcher.sweep, at_once=True, late_ok=True)
    # An instance that was down (at start-up, say) comes back once its check() passes.
    for instance, seconds in host.checked(settings.health_check_seconds):
        every(f"health:{instance.name}", seconds, partial(host.check_instance, instance))
    # Bots' callback URLs, changed by the CLI or another hub process, are picked up.
    every("callbacks", CALLBACKS_EVERY_SECONDS, callbacks.refresh)
    every("chatlayer-history", CHATLAYER_PURGE_EVERY_SECONDS, chatlayer.purge, at_once=True)
    if database.is_sqlite:
        every(
            "sqlite-checkpoint",
            CHECKPOINT_EVERY_SECONDS,
            partial(_checkpoint, database),
            late_ok=True,
        )
    return scheduler


def report_overruns(scheduler: AsyncIOScheduler, overruns: Overruns) -> None:
    """Skipped runs go to ``overruns``, not to APScheduler's warning per run."""
    scheduler.add_listener(overruns, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
        logger = logging.getLogger(name)
        if _NO_SKIP_WARNINGS not in logger.filters:
            logger.addFilter(_NO_SKIP_WARNINGS)

"""Periodic work has one owner: the hub's scheduler. Nothing else in the hub loops on a
timer, and a hub built with ``background=False`` has no periodic work at all."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from hub import keys
from hub.lifecycle.scheduler import Overruns, report_overruns
from offload_hub.app import create_app
from tests.conftest import ONE_LIVE_PROVIDER


def _seconds(job: Any) -> float:
    return job.trigger.interval.total_seconds()


async def test_every_periodic_job_is_on_the_one_scheduler(hub_factory):
    hub = await hub_factory(**ONE_LIVE_PROVIDER)
    app = hub.app
    jobs = {job.id: job for job in app[keys.SCHEDULER].get_jobs()}
    expected = {"deadlines", "positions", "outbox", "health:live", "callbacks", "chatlayer-history"}
    if app[keys.DATABASE].is_sqlite:
        expected.add("sqlite-checkpoint")
    assert set(jobs) == expected
    # Named as they are here in the scheduler's own log lines, not after the wrapper that
    # runs them.
    assert {job.name for job in jobs.values()} == expected
    lifecycle = app[keys.SETTINGS].lifecycle
    assert _seconds(jobs["health:live"]) == lifecycle.health_check_seconds
    assert _seconds(jobs["deadlines"]) == lifecycle.tick_seconds
    assert _seconds(jobs["outbox"]) == app[keys.DISPATCHER].sweep_every


async def test_a_hub_without_background_work_has_no_scheduler(aiohttp_client, make_settings):
    app = create_app(make_settings(**ONE_LIVE_PROVIDER), background=False)
    await aiohttp_client(app)
    assert app[keys.PROVIDERS].get("live").usable
    assert keys.SCHEDULER not in app
    assert keys.LIFECYCLE not in app


async def test_a_job_slower_than_its_interval_is_told_once_not_every_time(caplog):
    """A run that outlasts its interval makes APScheduler skip the runs due meanwhile and
    warn for each; the hub counts them and says so in one line per job a minute."""
    skipped: list[str] = []
    scheduler = AsyncIOScheduler(timezone=UTC)
    report_overruns(scheduler, Overruns(skipped.append))
    finished = asyncio.Event()
    runs = 0

    async def slow() -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.6)  # the interval is 0.05 s
        if runs == 2:
            finished.set()

    scheduler.add_job(slow, "interval", seconds=0.05, id="slow", name="slow", max_instances=1)
    caplog.set_level(logging.INFO)
    scheduler.start()
    try:
        await asyncio.wait_for(finished.wait(), 5)
    finally:
        scheduler.shutdown(wait=False)
    assert len(skipped) >= 5 and set(skipped) == {"slow"}
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["hub.lifecycle.scheduler"]
    assert warnings[0].getMessage().startswith("scheduled job slow skipped ")
    assert "\n" not in warnings[0].getMessage()


def test_skipped_runs_are_told_again_after_a_minute_with_their_count(caplog):
    now = [0.0]
    counted: list[str] = []
    overruns = Overruns(counted.append, every=60, clock=lambda: now[0])

    class Skipped:
        job_id = "deadlines"

    caplog.set_level(logging.WARNING, logger="hub.lifecycle.scheduler")
    for moment in (0.0, 1.0, 2.0, 59.0, 61.0, 62.0):
        now[0] = moment
        overruns(Skipped())
    told = [r.getMessage() for r in caplog.records]
    assert [line.split(" run(s)")[0] for line in told] == [
        "scheduled job deadlines skipped 1",
        "scheduled job deadlines skipped 4",  # at 1, 2, 59 and 61 s
    ]
    assert len(counted) == 6

"""Periodic work has one owner: the hub's scheduler. Nothing else in the hub loops on a
timer, and a hub built with ``background=False`` has no periodic work at all."""

from __future__ import annotations

from typing import Any

from hub import keys
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
    # Named as they are here in the scheduler's own log lines ("Execution of job
    # "deadlines (trigger: ...)" skipped"), not after the wrapper that runs them.
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

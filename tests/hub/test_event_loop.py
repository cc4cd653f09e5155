"""``serve`` runs on uvloop when it is installed, and on asyncio's own loop when the
``event_loop`` setting says so (the whole suite itself runs on asyncio's loop)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from hub import loop


@pytest.fixture
def policy_kept():
    before = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(before)


def test_auto_and_uvloop_choose_uvloop(policy_kept):
    assert loop.install("auto") == "uvloop"
    assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
    assert loop.install("uvloop") == "uvloop"


def test_asyncio_keeps_pythons_own_loop(policy_kept):
    loop.install("uvloop")
    assert loop.install("asyncio") == "asyncio"
    assert type(asyncio.get_event_loop_policy()) is asyncio.DefaultEventLoopPolicy
    fresh = asyncio.new_event_loop()
    try:
        assert not isinstance(fresh, uvloop.Loop)
    finally:
        fresh.close()

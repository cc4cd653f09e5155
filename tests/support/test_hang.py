"""The suite's watchdog (tests/support/hang.py): a test that hangs is stopped with its
pending task named and the failures before it printed, instead of holding the run until
CI kills it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.hang import EXIT_STATUS, LIMIT_ENV

ROOT = Path(__file__).resolve().parents[2]

HANGING = """
import asyncio


def test_that_fails():
    assert 1 + 1 == 3, "the reason it failed"


async def wait_for_nothing():
    await asyncio.Event().wait()


async def test_that_hangs():
    await wait_for_nothing()


def test_that_passes():
    pass
"""


def run_pytest(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """pytest on the sample, in a process of its own, with this plugin and a 3 s limit."""
    (tmp_path / "test_sample.py").write_text(HANGING)
    plugin = ["-p", "tests.support.hang", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugin, "-q", *arguments],
        cwd=tmp_path,
        env={**os.environ, LIMIT_ENV: "3", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_hanging_test_names_its_task_and_stops_the_run(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "test_sample.py")
    assert done.returncode == EXIT_STATUS, done.stdout + done.stderr
    assert "test_sample.py::test_that_hangs still running after 3 s" in done.stderr
    assert "in wait_for_nothing" in done.stderr  # the pending task's stack
    assert "await asyncio.Event().wait()" in done.stderr
    assert "every thread" in done.stderr and "File " in done.stderr
    # The failure before the hang, which pytest would have printed only at its end.
    assert "FAILED test_sample.py::test_that_fails (call)" in done.stderr
    assert "the reason it failed" in done.stderr


def test_a_test_within_the_limit_runs_as_usual(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "test_sample.py::test_that_passes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout

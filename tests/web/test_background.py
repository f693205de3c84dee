"""Background jobs: a shutdown waits for the pass in progress, thread included, and runs no more."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from starlette.concurrency import run_in_threadpool

from govmobile.web.background import BackgroundJobs


def test_stop_waits_for_the_pass_in_its_thread_and_none_runs_after() -> None:
    in_thread, release = threading.Event(), threading.Event()
    passes: list[str] = []

    def slow_pass() -> None:
        in_thread.set()
        release.wait(10)
        passes.append("finished")

    async def scenario() -> None:
        jobs = BackgroundJobs()
        jobs.every(0.01, lambda: run_in_threadpool(slow_pass), failure="pass failed", at_once=True)
        await run_in_threadpool(in_thread.wait, 10)
        stopping = asyncio.create_task(jobs.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # still waiting for the pass in its thread
        release.set()
        await stopping
        passes.append("stopped")

    asyncio.run(scenario())
    assert passes == ["finished", "stopped"]


def test_a_failing_job_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[int] = []

    async def flaky() -> None:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise RuntimeError("database unreachable")

    async def scenario() -> None:
        jobs = BackgroundJobs()
        jobs.every(0.001, flaky, failure="could not do the thing")
        while len(attempts) < 3:
            await asyncio.sleep(0.001)
        await jobs.stop()

    with caplog.at_level(logging.ERROR, logger="govmobile.web.background"):
        asyncio.run(scenario())
    assert len(attempts) >= 3
    assert [r.getMessage() for r in caplog.records] == ["could not do the thing"] * 2


def test_the_first_pass_waits_one_interval_unless_asked_at_once() -> None:
    ran: list[str] = []

    async def job(name: str) -> None:
        ran.append(name)

    async def scenario() -> None:
        jobs = BackgroundJobs()
        jobs.every(3600, lambda: job("later"), failure="x")
        jobs.every(3600, lambda: job("at once"), failure="x", at_once=True)
        while not ran:
            await asyncio.sleep(0.001)
        await jobs.stop()  # ends the hour-long waits at once

    asyncio.run(scenario())
    assert ran == ["at once"]

"""Jobs that repeat beside a service's requests, and a shutdown that waits for the one running.

Cancelling an asyncio task that awaits ``run_in_threadpool`` does not stop the thread: the task
ends at once and the thread finishes its work after the lifespan is over, against a database
that may be disposed and, in the gateway, after nginx was stopped (a data-plane sync that
finished then found nginx gone and started it again, and nothing ever stopped that one). So the
jobs here are never cancelled mid-pass: ``stop`` asks them to end and waits until the pass in
progress, thread included, has returned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("govmobile.web.background")


class BackgroundJobs:
    """Create inside the lifespan (it needs the running loop); ``await stop()`` before leaving it."""

    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def every(
        self,
        seconds: float,
        job: Callable[[], Awaitable[object]],
        *,
        failure: str,
        logger: logging.Logger = log,
        at_once: bool = False,
    ) -> None:
        """Run ``job`` every ``seconds`` (first after one interval, unless ``at_once``).

        A job that raises is logged with ``failure`` and tried again at the next interval."""
        self._tasks.append(asyncio.create_task(self._repeat(seconds, job, failure, logger, at_once)))

    async def stop(self) -> None:
        """Let every job finish the pass it is in, and run no more."""
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    async def _repeat(
        self,
        seconds: float,
        job: Callable[[], Awaitable[object]],
        failure: str,
        logger: logging.Logger,
        at_once: bool,
    ) -> None:
        if not at_once and await self._stopped_within(seconds):
            return
        while True:
            try:
                await job()
            except Exception:
                logger.exception(failure)
            if await self._stopped_within(seconds):
                return

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

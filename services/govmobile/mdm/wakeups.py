"""Wake-ups: a device keeps a long-poll open and is told "check now" when something is queued.

Queuing a command writes a row to ``wakeup`` in the same transaction. Every MDM process polls
that table (one indexed range query per interval, whatever the number of waiting devices) and
releases the long-polls it holds for those devices. The wake-up carries no payload: commands
are always pulled over a normal check-in. Several wake-ups before the device returns coalesce
into one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, func
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from govmobile.core.database import Database
from govmobile.mdm.models import Wakeup

log = logging.getLogger("govmobile.mdm.wakeups")


class WakeupHub:
    def __init__(self, database: Database, *, poll_interval: float = 0.5) -> None:
        self.database = database
        self.poll_interval = poll_interval
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._last_seq: int | None = None

    @contextmanager
    def listen(self, device_id: str) -> Iterator[asyncio.Event]:
        """Register for the device's wake-ups; register before checking the queue, so none is missed."""
        event = asyncio.Event()
        self._waiters.setdefault(device_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiters.get(device_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[device_id]

    def waiting(self) -> int:
        """Long-polls held now (read from the metrics thread: copy before iterating)."""
        return sum(len(events) for events in list(self._waiters.values()))

    async def poll_once(self) -> None:
        """Release the long-polls of the devices that got a wake-up since the last poll."""
        for device_id in await run_in_threadpool(self._poll):
            for event in self._waiters.get(device_id, ()):
                event.set()

    def _poll(self) -> set[str]:
        with self.database.session() as session:
            if self._last_seq is None:
                self._last_seq = session.exec(select(func.coalesce(func.max(Wakeup.seq), 0))).one()
                return set()
            rows = session.exec(
                select(Wakeup.seq, Wakeup.device_id)
                .where(col(Wakeup.seq) > self._last_seq)
                .order_by(col(Wakeup.seq))
                .limit(10_000)
            ).all()
        if rows:
            self._last_seq = rows[-1][0]
        return {device_id for _, device_id in rows}


def prune_wakeups(database: Database, *, older_than: dt.datetime) -> int:
    """Drop wake-up notes every process has long since read."""
    with database.transaction() as session:
        return int(session.exec(delete(Wakeup).where(col(Wakeup.at) < older_than)).rowcount)

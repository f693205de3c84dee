"""The MDM's access-change feed, read so that no entry is missed, and the certificates each
entry concerns.

An entry says that a device (or every device of a person) may have lost access: locked, lost,
wiped, retired, re-enrolled, non-compliant, its person disabled or moved out of a group. The
gateway then retires the cached decisions of those devices' certificates.

Sequence numbers are handed out when a row is inserted, not when its transaction commits: on
PostgreSQL, a row with a lower number can become visible after a higher one has been read. So a
number skipped over is watched for a while (``patience``) instead of being passed for good; a
transaction that rolled back leaves a gap for ever, which is given up after that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from govmobile.gateway import readers
from govmobile.gateway.dataplane.access_state import nginx_serial

#: Devices or people looked up per statement.
_CHUNK = 500


@dataclass(frozen=True)
class AccessChange:
    seq: int
    device_id: str | None
    person_id: str | None


class AccessFeed:
    """Entries not seen before, each once."""

    def __init__(self, *, patience: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.patience = patience
        self.clock = clock
        self._last: int | None = None
        #: Numbers skipped over, with when they were first missed.
        self._gaps: dict[int, float] = {}

    @property
    def watching(self) -> bool:
        """Whether some skipped number may still turn up (read again even if nothing is newer)."""
        return bool(self._gaps)

    def read(self, connection: Connection) -> list[AccessChange]:
        """New entries since the last read (none at the first: the data plane starts empty)."""
        feed = readers.access_changes.c
        top = int(connection.execute(select(func.max(feed.seq))).scalar() or 0)
        if self._last is None:
            self._last = top
            return []
        if top < self._last:
            # The newest entries were pruned, and SQLite may hand their numbers out again.
            self._last = top
            self._gaps = {seq: since for seq, since in self._gaps.items() if seq <= top}
        low = min(self._gaps, default=self._last + 1)
        rows = connection.execute(
            select(feed.seq, feed.device_id, feed.person_id).where(feed.seq >= low).order_by(feed.seq)
        ).all()
        now = self.clock()
        new: list[AccessChange] = []
        present: set[int] = set()
        for row in rows:
            present.add(row.seq)
            if row.seq > self._last or self._gaps.pop(row.seq, None) is not None:
                new.append(AccessChange(row.seq, row.device_id, row.person_id))
        highest = max(present, default=self._last)
        for missing in range(self._last + 1, highest):
            if missing not in present:
                self._gaps[missing] = now
        self._last = max(self._last, highest)
        self._gaps = {seq: since for seq, since in self._gaps.items() if now - since < self.patience}
        return new


def certificate_serials(connection: Connection, changes: Iterable[AccessChange]) -> set[str]:
    """The serials (as nginx names them) of the certificates of the devices these entries
    concern: the current one and, during a renewal, the one it replaces."""
    device_ids = sorted({c.device_id for c in changes if c.device_id})
    person_ids = sorted({c.person_id for c in changes if c.person_id})
    d = readers.devices.c
    serials: set[str] = set()
    for column, ids in ((d.id, device_ids), (d.person_id, person_ids)):
        for start in range(0, len(ids), _CHUNK):
            rows = connection.execute(
                select(d.cert_serial, d.previous_cert_serial).where(column.in_(ids[start : start + _CHUNK]))
            )
            for current, previous in rows:
                serials.update(nginx_serial(s) for s in (current, previous) if s)
    return serials

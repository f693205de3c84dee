"""The access audit: nginx writes one JSON line per request; this summarises them into the
audit store off the hot path.

Refusals are recorded one by one (who, which route, why); allowed requests are counted per
route, tenant and device for each summary period. The log file is rotated here too.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from govmobile.core import audit
from govmobile.core.database import Database, utcnow

log = logging.getLogger("govmobile.gateway.access")

MAX_REFUSALS_PER_PASS = 1000
ROTATE_BYTES = 64 * 1024 * 1024


@dataclass
class AccessSummary:
    lines: int = 0
    allowed: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    refused: list[dict[str, object]] = field(default_factory=list)
    malformed: int = 0


class AccessLogSummariser:
    def __init__(
        self,
        path: Path,
        database: Database,
        *,
        reopen: Callable[[], None],
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.path = path
        self.database = database
        self.reopen = reopen
        self.clock = clock
        self._offset = 0
        self._inode: int | None = None

    def run_once(self) -> AccessSummary:
        """Read what was logged since the last pass and record it."""
        summary = self._read()
        if summary.lines:
            self._record(summary)
        self._rotate_if_large()
        return summary

    def _read(self) -> AccessSummary:
        summary = AccessSummary()
        if not self.path.exists():
            return summary
        stat = self.path.stat()
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self._inode, self._offset = stat.st_ino, 0  # a new or truncated file
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line being written is read next time
        self._offset += len(complete)
        for raw in complete.splitlines():
            summary.lines += 1
            try:
                entry = json.loads(raw)
            except ValueError:
                summary.malformed += 1
                continue
            if entry.get("listener") != "public" or not entry.get("route"):
                continue
            status = int(entry.get("status", 0))
            if 200 <= status < 400:
                summary.allowed[(entry["route"], entry.get("tenant", ""), entry.get("device", ""))] += 1
            elif len(summary.refused) < MAX_REFUSALS_PER_PASS:
                summary.refused.append(entry)
        return summary

    def _record(self, summary: AccessSummary) -> None:
        now = self.clock()
        with self.database.transaction() as session:
            for entry in summary.refused:
                audit.record(
                    session,
                    actor=f"device:{entry.get('device') or entry.get('device_serial') or 'unknown'}",
                    action="access.refused",
                    target=f"route:{entry.get('route')}",
                    tenant_id=str(entry.get("tenant")) or None,
                    details={
                        k: entry.get(k)
                        for k in ("time", "status", "decision", "path", "person", "tenant", "request_id")
                    },
                    now=now,
                )
            by_tenant: dict[str, list[dict[str, object]]] = {}
            totals: Counter[str] = Counter()
            for (route, tenant, device), count in summary.allowed.most_common():
                by_tenant.setdefault(tenant, []).append({"route": route, "device": device, "requests": count})
                totals[tenant] += count
            for tenant, rows in by_tenant.items():
                audit.record(
                    session,
                    actor="gateway",
                    action="access.summary",
                    target="gateway",
                    tenant_id=tenant or None,
                    details={"requests": totals[tenant], "by_route_and_device": rows[:500]},
                    now=now,
                )

    def _rotate_if_large(self) -> None:
        if (
            self.path.exists()
            and self.path.stat().st_size > ROTATE_BYTES
            and self._offset >= self.path.stat().st_size
        ):
            self.path.replace(self.path.with_suffix(".log.1"))
            self.reopen()
            self._offset = 0
            self._inode = None

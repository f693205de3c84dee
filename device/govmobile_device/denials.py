"""Protection events waiting to be reported: each denial (and each wipe) the tablet enforced.

Kept in ``protection-events.json`` in the state directory (0600, replaced atomically) until the
portal has them: the agent sends them at check-in, at most ``MAX_EVENTS_PER_REPORT`` at a time,
to ``POST /portal/v1/devices/{id}/protection-events``, and drops only those the portal accepted.
Each event has a random id, so a report repeated after a lost answer is recorded once.

The queue is bounded: a device that cannot reach the appliance for weeks keeps the newest
``MAX_QUEUED`` events and counts the ones it had to drop, and that count is reported too.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from govmobile_device.errors import StateError
from govmobile_device.files import read_private, write_atomic

REPORT_PATH = "/portal/v1/devices/{device_id}/protection-events"
MAX_EVENTS_PER_REPORT = 100
MAX_QUEUED = 1000
MAX_REASON = 500

Outcome = Literal["denied", "data_wiped"]


class ProtectionEvent(BaseModel):
    """One enforcement, as the portal receives it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: secrets.token_hex(16), pattern=r"^[0-9a-f]{32}$")
    package: str
    action: str
    outcome: Outcome
    code: str
    reason: str = Field(max_length=MAX_REASON)
    occurred_at: dt.datetime
    #: The other end, where there is one: the app pasted into, the place saved to.
    destination: str | None = None


class _QueueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[ProtectionEvent] = Field(default_factory=list)
    #: Events dropped because the queue was full, not yet reported.
    dropped: int = 0


class DenialQueue:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_state(cls, state_dir: Path) -> DenialQueue:
        return cls(state_dir / "protection-events.json")

    def add(self, event: ProtectionEvent) -> None:
        queue = self._load()
        queue.events.append(event)
        overflow = len(queue.events) - MAX_QUEUED
        if overflow > 0:
            queue.events = queue.events[overflow:]
            queue.dropped += overflow
        self._save(queue)

    def pending(self) -> list[ProtectionEvent]:
        return self._load().events

    def dropped(self) -> int:
        return self._load().dropped

    def next_batch(self) -> tuple[list[ProtectionEvent], int]:
        """The oldest events to report now, and how many were dropped unreported."""
        queue = self._load()
        return queue.events[:MAX_EVENTS_PER_REPORT], queue.dropped

    def delivered(self, ids: set[str], dropped_reported: int) -> None:
        queue = self._load()
        queue.events = [e for e in queue.events if e.id not in ids]
        queue.dropped = max(0, queue.dropped - dropped_reported)
        self._save(queue)

    def _load(self) -> _QueueFile:
        try:
            return _QueueFile.model_validate_json(read_private(self.path))
        except FileNotFoundError:
            return _QueueFile()
        except ValidationError:
            raise StateError(
                f"{self.path} is damaged; it holds protection events not yet reported. Move it aside to go on "
                "(those events are then lost)"
            ) from None

    def _save(self, queue: _QueueFile) -> None:
        write_atomic(self.path, queue.model_dump_json().encode())

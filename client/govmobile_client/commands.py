"""The command queue: one device at a time, or in bulk after a preview."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from govmobile_client.connection import Connection, segment
from govmobile_client.models import BulkOutcome, Command, CommandType
from govmobile_client.queries import BulkTarget


class Commands:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def send(
        self,
        device_id: str,
        kind: CommandType,
        payload: dict[str, Any] | None = None,
        *,
        deadline_hours: int | None = None,
    ) -> Command:
        """Queue a command; the device is woken and pulls it at its next check-in."""
        body = {"type": kind.value, "payload": payload or {}, "deadline_hours": deadline_hours}
        return self._connection.call(
            Command, "POST", f"/api/v1/devices/{segment(device_id)}/commands", body=body
        )

    def list(self, device_id: str) -> Sequence[Command]:
        """A device's latest commands, newest first."""
        return self._connection.call_list(Command, "GET", f"/api/v1/devices/{segment(device_id)}/commands")

    def show(self, command_id: str) -> Command:
        """A command with the device's result, when there is one."""
        return self._connection.call(Command, "GET", f"/api/v1/commands/{segment(command_id)}")

    def cancel(self, command_id: str) -> Command:
        """Withdraw a command the device has not acknowledged yet."""
        return self._connection.call(Command, "POST", f"/api/v1/commands/{segment(command_id)}/cancel")

    def preview_bulk(
        self, target: BulkTarget, kind: CommandType, payload: dict[str, Any] | None = None
    ) -> int:
        """How many devices a bulk command would reach now (nothing is queued)."""
        body = {"target": target.body(), "type": kind.value, "payload": payload or {}, "preview": True}
        return self._connection.call(BulkOutcome, "POST", "/api/v1/commands/bulk", body=body).count

    def send_bulk(
        self,
        target: BulkTarget,
        kind: CommandType,
        payload: dict[str, Any] | None = None,
        *,
        expected_count: int,
        deadline_hours: int | None = None,
    ) -> BulkOutcome:
        """Queue one command per targeted device, if the target still has the previewed count.

        A different count is refused (``Conflict``, code ``count_changed``) and nothing is sent.
        """
        body = {
            "target": target.body(),
            "type": kind.value,
            "payload": payload or {},
            "deadline_hours": deadline_hours,
            "preview": False,
            "expected_count": expected_count,
        }
        return self._connection.call(BulkOutcome, "POST", "/api/v1/commands/bulk", body=body)

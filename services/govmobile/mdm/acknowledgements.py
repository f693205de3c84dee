"""What a device's acknowledgement of a command means for the device: one handler per type.

The device's state follows what it confirmed, never what is merely queued (ARCHITECTURE.md,
"MDM protocol semantics"): a lock is in force once the device says it locked. Each handler
applies one command type's acknowledgement to the device, inside the check-in's transaction;
the queue itself (the command's own state, the stored result) is ``queue``'s business. This is
the server's half of the device agent's ``commands.py``, and it has the same shape.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from govmobile.core.errors import InvalidInput
from govmobile.mdm import queue
from govmobile.mdm.compliance import Location
from govmobile.mdm.lifecycle import record_event, set_state
from govmobile.mdm.models import Command, CommandState, CommandType, Device, DeviceState
from govmobile.mdm.receipts import verify_receipt
from govmobile.web.device_identity import PresentedCertificate


@dataclass
class Acknowledgement:
    """One acknowledged command, with what its handler may need."""

    session: Session
    device: Device
    command: Command
    #: The result the device reported with it.
    result: dict[str, Any]
    #: The certificate the device checked in with (a receipt is signed with its key).
    presented: PresentedCertificate
    now: dt.datetime
    #: Certificates to revoke once the transaction has committed: (serial, reason).
    revoke: list[tuple[str, str]] = field(default_factory=list)

    @property
    def actor(self) -> str:
        return f"device:{self.device.id}"

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.command.payload)
        return payload

    def become(self, state: DeviceState, reason: str) -> None:
        """Move the device to ``state``, recorded as the device's doing."""
        set_state(self.session, self.device, state, actor=self.actor, now=self.now, reason=reason)

    def bad_result(self, message: str) -> InvalidInput:
        """A refusal that names the command, so the device can drop or redo this result alone."""
        return InvalidInput(message, code="bad_result", details={"command_ids": [self.command.id]})


Handler = Callable[[Acknowledgement], None]


def lock(ack: Acknowledgement) -> None:
    ack.become(DeviceState.LOCKED, "lock acknowledged")
    ack.device.lock_message = ack.payload.get("message") or None


def unlock(ack: Acknowledgement) -> None:
    if ack.device.state is DeviceState.LOCKED:
        ack.become(DeviceState.ACTIVE, "unlock acknowledged")
    ack.device.lock_message = None


def lost_mode_on(ack: Acknowledgement) -> None:
    ack.become(DeviceState.LOST, "lost mode acknowledged")
    ack.device.lost_mode = True


def lost_mode_off(ack: Acknowledgement) -> None:
    if ack.device.state is DeviceState.LOST:
        ack.become(DeviceState.ACTIVE, "lost mode ended")
    ack.device.lost_mode = False


def wipe(ack: Acknowledgement) -> None:
    # The device confirms before it wipes, so from here on the server knows it is gone.
    ack.become(DeviceState.WIPED, "wipe confirmed by the device")
    queue.close_open_commands(
        ack.session, ack.device, CommandState.CANCELLED, reason="device wiped", now=ack.now
    )
    # The certificate stays bound, revoked, so that the device is told it was wiped.
    for serial in (ack.device.cert_serial, ack.device.previous_cert_serial):
        if serial:
            ack.revoke.append((serial, "cessationOfOperation"))


def selective_wipe(ack: Acknowledgement) -> None:
    try:
        receipt = verify_receipt(
            ack.result,
            certificate=ack.presented.load(),
            device_id=ack.device.id,
            command_id=ack.command.id,
        )
    except InvalidInput as refused:
        # Name the command, so the device can drop or redo this result alone.
        raise InvalidInput(
            refused.public_message, code=refused.code, details={"command_ids": [ack.command.id]}
        ) from None
    ack.device.work_container_wiped_at = ack.now
    record_event(
        ack.session,
        ack.device,
        actor=ack.actor,
        change="work container wiped",
        now=ack.now,
        details={"destroyed": receipt.get("destroyed"), "receipt_at": receipt.get("at")},
    )


def locate(ack: Acknowledgement) -> None:
    location = ack.result.get("location")
    if location is None:
        raise ack.bad_result("a locate result needs a 'location'")
    try:
        ack.device.last_location = Location.model_validate(location).model_dump_json()
    except ValidationError:
        raise ack.bad_result("the locate result's location is not a valid position") from None


def nothing_to_record(ack: Acknowledgement) -> None:
    """The command changes nothing the server keeps about the device (a message shown, an app
    installed: the next posture report says so)."""


HANDLERS: dict[CommandType, Handler] = {
    CommandType.LOCK: lock,
    CommandType.UNLOCK: unlock,
    CommandType.WIPE: wipe,
    CommandType.SELECTIVE_WIPE: selective_wipe,
    CommandType.LOCATE: locate,
    CommandType.LOST_MODE_ON: lost_mode_on,
    CommandType.LOST_MODE_OFF: lost_mode_off,
    CommandType.MESSAGE: nothing_to_record,
    CommandType.INSTALL_APP: nothing_to_record,
    CommandType.REMOVE_APP: nothing_to_record,
    CommandType.RENEW_CERTIFICATE: nothing_to_record,
    CommandType.REFRESH_POLICY: nothing_to_record,
}


def apply(ack: Acknowledgement) -> None:
    """Apply an acknowledgement to the device; every one is a change the gateway must notice."""
    HANDLERS[CommandType(ack.command.type)](ack)
    ack.device.revision += 1
    ack.session.add(ack.device)

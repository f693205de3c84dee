"""What the device does for each MDM command (docs/device-protocol.md, "Commands").

Each handler changes the agent's state in memory and returns the result to report; the agent
saves both before it tells the server, so a crash never loses a command that was carried out.
A command of a type this agent does not know is answered with an error, so it does not block
the queue. ``wipe`` is the one command whose work happens after it is reported: the agent
confirms first, then destroys everything (agent.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from govmobile_device.apps import AppPortal, NoPortal
from govmobile_device.container import WorkContainer
from govmobile_device.errors import AgentError
from govmobile_device.profile import DeviceProfile
from govmobile_device.protocol import Command, CommandResult
from govmobile_device.sandbox import AppSpaces, ManagedApps
from govmobile_device.state import AgentState, DeviceIdentity, Message, PendingInstall


class ProfileSource(Protocol):
    def load(self) -> DeviceProfile: ...

    def save(self, profile: DeviceProfile) -> None: ...


@dataclass
class CommandContext:
    identity: DeviceIdentity
    state: AgentState
    profile: ProfileSource
    container: WorkContainer
    portal: AppPortal
    now: dt.datetime
    #: Runs simplereenroll now and returns the new identity.
    renew: Callable[[], Awaitable[DeviceIdentity]]
    #: The managed apps and their data spaces (selective wipe); none on simulated fleet devices.
    managed_apps: ManagedApps | None = None
    app_spaces: AppSpaces | None = None


Handler = Callable[[CommandContext, Command], Awaitable[CommandResult]]


class _Payload(BaseModel):
    # Fields a newer server adds are ignored; the ones we use must have the right type.
    model_config = ConfigDict(extra="ignore")


class _Lock(_Payload):
    message: str = ""
    phone: str = ""


class _LostMode(_Payload):
    message: str = ""
    phone: str = ""


class _Message(_Payload):
    text: str = Field(min_length=1)


class _App(_Payload):
    app_id: str = Field(min_length=1)
    version: str | None = None


def acknowledged(command: Command, result: dict[str, Any] | None = None) -> CommandResult:
    return CommandResult(command_id=command.id, status="acknowledged", result=result or {})


def failed(command: Command, error: str) -> CommandResult:
    return CommandResult(command_id=command.id, status="error", error=error[:1000])


async def lock(ctx: CommandContext, command: Command) -> CommandResult:
    payload = _Lock.model_validate(command.payload)
    ctx.state.locked = True
    ctx.state.lock_message = payload.message or None
    ctx.state.lock_phone = payload.phone or None
    return acknowledged(command)


async def unlock(ctx: CommandContext, command: Command) -> CommandResult:
    ctx.state.locked = False
    ctx.state.lock_message = None
    ctx.state.lock_phone = None
    return acknowledged(command)


async def wipe(ctx: CommandContext, command: Command) -> CommandResult:
    # Acknowledged first; the agent marks the wipe pending before this result is saved, and
    # destroys everything once the server has it (or at the next start, after a crash).
    return acknowledged(command)


WIPED_NO_APPS = "a selective wipe removed the government apps from this device: they come back when the device is enrolled again"


async def selective_wipe(ctx: CommandContext, command: Command) -> CommandResult:
    """Remove the managed apps and their data spaces, crypto-erase the work container, and sign a
    receipt of what was destroyed (``app:<package>`` for each app). Personal apps stay."""
    apps: list[str] = []
    if ctx.managed_apps is not None:
        packages = ctx.managed_apps.managed_packages()
        if ctx.app_spaces is not None:
            ctx.app_spaces.remove_spaces(packages)
        for package in packages:
            ctx.managed_apps.remove_managed_app(package)
        apps = [f"app:{package}" for package in packages]
    destroyed = [*apps, *ctx.container.erase()]
    ctx.state.pending_installs = []
    ctx.state.work_container_wiped_at = ctx.now
    return acknowledged(command, signed_receipt(ctx.identity, command.id, destroyed, ctx.now))


def signed_receipt(
    identity: DeviceIdentity, command_id: str, destroyed: list[str], at: dt.datetime
) -> dict[str, Any]:
    """The receipt and its ECDSA-SHA256 signature over the canonical JSON, base64 DER."""
    receipt = {
        "device_id": identity.device_id,
        "command_id": command_id,
        "destroyed": destroyed,
        "data_key_destroyed": True,
        "at": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
    signature = identity.key.sign(canonical_json(receipt), ec.ECDSA(hashes.SHA256()))
    return {"receipt": receipt, "signature": base64.b64encode(signature).decode()}


def canonical_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


async def locate(ctx: CommandContext, command: Command) -> CommandResult:
    location = current_location(ctx.profile.load(), ctx.now)
    if location is None:
        return failed(command, "this device cannot tell where it is (its profile has no location)")
    return acknowledged(command, {"location": location})


def current_location(profile: DeviceProfile, now: dt.datetime) -> dict[str, Any] | None:
    if profile.location is None:
        return None
    return {**profile.location.model_dump(exclude_none=True), "at": now.isoformat()}


async def lost_mode_on(ctx: CommandContext, command: Command) -> CommandResult:
    payload = _LostMode.model_validate(command.payload)
    ctx.state.lost_mode = True
    ctx.state.lost_message = payload.message or None
    ctx.state.lost_phone = payload.phone or None
    return acknowledged(command)


async def lost_mode_off(ctx: CommandContext, command: Command) -> CommandResult:
    ctx.state.lost_mode = False
    ctx.state.lost_message = None
    ctx.state.lost_phone = None
    return acknowledged(command)


async def message(ctx: CommandContext, command: Command) -> CommandResult:
    payload = _Message.model_validate(command.payload)
    ctx.state.keep_message(Message(text=payload.text, at=ctx.now, command_id=command.id))
    return acknowledged(command)


async def install_app(ctx: CommandContext, command: Command) -> CommandResult:
    """Install (or update) an app the desired state offers this device, through the portal, now.

    An app the device cannot install now (not offered, refused, unreachable) is answered with an
    error naming the reason; a required app keeps being retried at check-ins on its own."""
    payload = _App.model_validate(command.payload)
    if ctx.state.work_container_wiped_at is not None:
        return failed(command, WIPED_NO_APPS)
    try:
        version_code = await ctx.portal.install(ctx.identity, payload.app_id)
    except NoPortal as error:
        others = [p for p in ctx.state.pending_installs if p.app_id != payload.app_id]
        ctx.state.pending_installs = [
            *others,
            PendingInstall(
                app_id=payload.app_id, version=payload.version, command_id=command.id, requested_at=ctx.now
            ),
        ]
        return failed(
            command, f"{error.message}; {payload.app_id} is kept as a pending install on the device"
        )
    except AgentError as error:
        return failed(command, f"installing {payload.app_id} failed: {error.message}")
    ctx.state.pending_installs = [p for p in ctx.state.pending_installs if p.app_id != payload.app_id]
    return acknowledged(command, {"installed": payload.app_id, "version_code": version_code})


async def remove_app(ctx: CommandContext, command: Command) -> CommandResult:
    """Uninstall a managed app (its data space goes with it) or an app of the profile; the
    administrator's order, so even a required app (the desired state may install it again)."""
    payload = _App.model_validate(command.payload)
    try:
        managed = await ctx.portal.remove(ctx.identity, payload.app_id, ordered=True)
    except AgentError as error:
        return failed(command, f"removing {payload.app_id} failed: {error.message}")
    profile = ctx.profile.load()
    personal = payload.app_id in profile.installed_apps
    if personal:
        profile.installed_apps = [a for a in profile.installed_apps if a != payload.app_id]
        ctx.profile.save(profile)
    ctx.state.pending_installs = [p for p in ctx.state.pending_installs if p.app_id != payload.app_id]
    return acknowledged(command, {"removed": managed or personal})


async def renew_certificate(ctx: CommandContext, command: Command) -> CommandResult:
    try:
        identity = await ctx.renew()
    except AgentError as error:
        return failed(command, f"renewal failed: {error.message}")
    ctx.identity = identity
    return acknowledged(command, {"not_after": identity.not_after.isoformat()})


async def refresh_policy(ctx: CommandContext, command: Command) -> CommandResult:
    # The policy comes with every check-in answer; the one this result rides on refreshes it.
    version = ctx.state.policy.version if ctx.state.policy else None
    return acknowledged(command, {"policy_version": version})


HANDLERS: dict[str, Handler] = {
    "lock": lock,
    "unlock": unlock,
    "wipe": wipe,
    "selective_wipe": selective_wipe,
    "locate": locate,
    "lost_mode_on": lost_mode_on,
    "lost_mode_off": lost_mode_off,
    "message": message,
    "install_app": install_app,
    "remove_app": remove_app,
    "renew_certificate": renew_certificate,
    "refresh_policy": refresh_policy,
}


async def execute(ctx: CommandContext, command: Command) -> CommandResult:
    """Carry out one command; every outcome, even a bad payload, is a result for the server."""
    handler = HANDLERS.get(command.type)
    if handler is None:
        return failed(
            command,
            f"unsupported command type {command.type[:40]!r}: this agent knows {', '.join(sorted(HANDLERS))}",
        )
    try:
        return await handler(ctx, command)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors()[:3]
        )
        return failed(command, f"bad payload for {command.type}: {problems}")

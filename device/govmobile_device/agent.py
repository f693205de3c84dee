"""The agent: check in, carry out commands, renew the certificate, stay reachable.

A check-in is a loop of rounds (docs/device-protocol.md, "Check-in"). Each round sends the
posture and the results not yet delivered, and gets the device's status, the policy and at most
one command. The command is carried out and its result saved at once; the next round delivers
it. The loop ends when the server has nothing more and every result is delivered.

Durability, in the order things happen: a command's effect and its result are saved together
before anything is sent; results leave the state only when the server has accepted them (200),
or said it already has them or no longer wants them (409 ``result_already_recorded`` /
``command_closed``, 404 ``unknown_command_id``: drop those and check in again). A wipe is marked
pending on disk before it is acknowledged, and the destruction follows the server's answer; if
the agent dies in between, the next start finishes the wipe.

``run`` keeps a long-poll open for wake-ups, checks in on a jittered heartbeat, renews at two
thirds of the certificate's life, and backs off exponentially (with jitter) on errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from govmobile_device import __version__, commands
from govmobile_device.apps import AppPortal, PortalNotAvailable
from govmobile_device.denials import MAX_EVENTS_PER_REPORT, REPORT_PATH
from govmobile_device.enrollment import renew_certificate
from govmobile_device.errors import (
    AgentError,
    CertificateRejected,
    DeviceLocked,
    DeviceWiped,
    NotAvailable,
    ServerRefused,
    ServerUnreachable,
    StateError,
    UsageError,
)
from govmobile_device.gateway import Gateway
from govmobile_device.profile import DeviceProfile
from govmobile_device.protocol import (
    MAX_RESULTS_PER_CHECKIN,
    CheckinRequest,
    CheckinResponse,
    CommandResult,
    Location,
    Posture,
)
from govmobile_device.sandbox import ManagedApps
from govmobile_device.state import AgentState, DeviceIdentity, StateStore
from govmobile_device.tablet import DeviceProtection

#: A check-in stops after this many rounds even if commands keep coming; the next one goes on.
MAX_ROUNDS = 50
#: At most this many reports of protection events per check-in; the rest wait for the next one.
MAX_REPORTS_PER_CHECKIN = 10
#: Answers to a check-in that mean "drop these results and check in again".
_DROP_RESULTS = {"result_already_recorded", "command_closed", "unknown_command_id"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: half of the doubled delay fixed, half random, capped."""

    base: float = 1.0
    cap: float = 300.0

    def delay(self, failures: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** max(0, failures - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class Agent:
    def __init__(
        self,
        store: StateStore,
        profile: commands.ProfileSource,
        *,
        portal: AppPortal | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        connect: Callable[[DeviceIdentity], Gateway] = Gateway.mutual,
        rng: random.Random | None = None,
        wait_timeout: float = 55.0,
        backoff: Backoff | None = None,
        min_wake_interval: float = 1.0,
        log: Callable[[str], None] | None = None,
        protection: DeviceProtection | None = None,
    ) -> None:
        self.store = store
        #: App protection (data spaces, denial events); None for simulated fleet devices.
        self.protection = protection
        self.profile = profile
        self.portal: AppPortal = portal or PortalNotAvailable()
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self.wait_timeout = wait_timeout
        self.backoff = backoff or Backoff()
        self.min_wake_interval = min_wake_interval
        self.log = log or (lambda text: None)
        self._connect = connect
        self._identity: DeviceIdentity | None = None
        self._gateway: Gateway | None = None
        self._retired: list[Gateway] = []
        #: Bumped whenever the certificate changes, so the long-poll reconnects with the new one.
        self.generation = 0
        self._after_checkin: asyncio.Event | None = None

    # -- connection ------------------------------------------------------------------------

    def identity(self) -> DeviceIdentity:
        if self._identity is None:
            self._identity = self.store.load_identity()
        return self._identity

    def gateway(self) -> Gateway:
        if self._gateway is None:
            self._gateway = self._connect(self.identity())
        return self._gateway

    async def aclose(self) -> None:
        for gateway in [*self._retired, *([self._gateway] if self._gateway else [])]:
            await gateway.aclose()
        self._retired = []
        self._gateway = None

    def _use_identity(self, identity: DeviceIdentity) -> None:
        self._identity = identity
        if self._gateway is not None:
            # A long-poll may still be running on the old connection; it is closed at the end.
            self._retired.append(self._gateway)
            self._gateway = None
        self.generation += 1

    # -- check-in ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def exclusive(self, timeout: float = 30.0) -> AsyncIterator[None]:
        """Hold the state store against other processes (see ``FileStore.try_lock``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (handle := self.store.try_lock()) is None:
            if loop.time() > deadline:
                raise StateError("another govmobile-device process is using this device's state; try again")
            await asyncio.sleep(0.05)
        try:
            yield
        finally:
            self.store.unlock(handle)

    async def check_in(self, *, asked: bool = False) -> CheckinResponse:
        """Check in until the server has nothing more for the device; return the last answer.

        ``asked``: a person asked for this check-in (the command line's ``checkin``, a "sync now"
        button), so the apps follow every change committed so far; a periodic check-in takes the
        gateway's held answer, which trails a change by about a second."""
        async with self.exclusive():
            return await self._check_in(asked)

    async def _check_in(self, asked: bool = False) -> CheckinResponse:
        await self._finish_pending_wipe()
        await self.renew_if_due()
        last: CheckinResponse | None = None
        for _ in range(MAX_ROUNDS):
            response, more = await self._round()
            last = response or last
            if not more:
                break
        if await self._converge_apps(asked) and last is not None:
            # Managed apps came or went: the MDM hears of it now (app admission), not a heartbeat later.
            response, _ = await self._round()
            last = response or last
        if last is not None:
            await self._report_protection_events()
        if last is None:
            raise ServerRefused(
                "the server refused every result this device had to report; they were dropped",
                status=409,
                code="results_dropped",
            )
        return last

    async def _round(self) -> tuple[CheckinResponse | None, bool]:
        identity = self.identity()
        state = self.store.load_state()
        profile = self.profile.load()
        sent = state.pending_results[:MAX_RESULTS_PER_CHECKIN]
        request = CheckinRequest(
            device_id=identity.device_id, posture=self._posture(profile, state), results=sent
        )
        wipe_id = self.store.wipe_pending()
        try:
            response = await self.gateway().checkin(request)
        except CertificateRejected:
            if wipe_id is not None and any(r.command_id == wipe_id for r in sent):
                # The server already took the confirmation and revoked the certificate.
                self._complete_wipe()
            raise
        except ServerRefused as error:
            dropped = set(error.command_ids())
            if error.code not in _DROP_RESULTS or not dropped:
                raise
            if wipe_id in dropped:
                self._complete_wipe()
            state.pending_results = [r for r in state.pending_results if r.command_id not in dropped]
            self.store.save_state(state)
            self.log(f"the server already had or no longer wants results for {', '.join(sorted(dropped))}")
            return None, True
        delivered = {r.command_id for r in sent}
        if wipe_id is not None and (wipe_id in delivered or response.device.state == "wiped"):
            self._complete_wipe()
        state.pending_results = [r for r in state.pending_results if r.command_id not in delivered]
        state.server_view = response.device
        state.policy = response.policy
        state.last_checkin_at = self.clock()
        command = response.command
        if command is not None and not any(r.command_id == command.id for r in state.pending_results):
            if command.type == "wipe":
                self.store.mark_wipe_pending(command.id)
            context = commands.CommandContext(
                identity=identity,
                state=state,
                profile=self.profile,
                container=self.store.container(),
                portal=self.portal,
                now=self.clock(),
                renew=self.renew,
                **self._protection_context(),
            )
            result = await commands.execute(context, command)
            state.pending_results.append(result)
            self.log(f"command {command.type} ({command.id}): {result.status}")
        self.store.save_state(state)
        return response, command is not None or bool(state.pending_results)

    def _posture(self, profile: DeviceProfile, state: AgentState) -> Posture:
        location = commands.current_location(profile, self.clock()) if state.lost_mode else None
        return Posture(
            os_name=profile.os_name,
            os_version=profile.os_version,
            storage_encrypted=profile.storage_encrypted,
            passcode_set=profile.passcode_set,
            rooted=profile.rooted,
            installed_apps=self._installed_apps(profile),
            battery_percent=profile.battery_percent,
            location=Location.model_validate(location) if location else None,
            agent_version=__version__,
            **self._app_inventory(),
        )

    # -- managed apps (the portal) ----------------------------------------------------------

    def _installed_apps(self, profile: DeviceProfile) -> list[str]:
        """The profile's (personal) apps and the managed apps the portal installed."""
        managed = self.portal.installed_packages()
        return [*profile.installed_apps, *(p for p in managed if p not in profile.installed_apps)]

    def _app_inventory(self) -> dict[str, Any]:
        """The posture's ``app_inventory`` (package, version code, signer per managed app), once the
        protocol has the field (MDM app admission adds it); older servers refuse unknown fields."""
        if "app_inventory" not in Posture.model_fields:
            return {}
        return {"app_inventory": self.portal.inventory()}

    async def _converge_apps(self, fresh: bool = False) -> bool:
        """Required apps in, uninstalled apps out, due retries, the report; True when the managed
        apps changed. A portal failure never fails the check-in (the MDM part of it is done): it is
        logged and tried again next time."""
        if self.store.load_state().work_container_wiped_at is not None:
            return False  # government apps stay away after a selective wipe (AgentState)
        before = self.portal.inventory()
        try:
            await self.portal.converge(self.identity(), fresh=fresh)
        except NotAvailable:
            return False
        except AgentError as error:
            self.log(f"apps: {error.message}")
        return self.portal.inventory() != before

    # -- app protection ----------------------------------------------------------------------

    def _protection_context(self) -> dict[str, Any]:
        if self.protection is None:
            return {}
        managed = _ManagedApps(self.portal, self.protection.managed_apps())
        return {"managed_apps": managed, "app_spaces": self.protection.spaces()}

    async def _report_protection_events(self) -> None:
        """Send the queued protection events to the portal; a failure leaves them for next time.

        Reporting never fails a check-in: the MDM has the device's results already, and the
        events keep in the queue. A batch the portal refuses as invalid (422) is dropped, since
        sending it again cannot help; any other refusal keeps it."""
        if self.protection is None:
            return
        queue = self.protection.denials()
        path = REPORT_PATH.format(device_id=self.identity().device_id)
        for _ in range(MAX_REPORTS_PER_CHECKIN):
            events, dropped = queue.next_batch()
            if not events and not dropped:
                return
            body = json.dumps(
                {"events": [e.model_dump(mode="json") for e in events], "dropped": dropped}
            ).encode()
            try:
                await self.gateway().post_json(path, body)
            except ServerRefused as error:
                if error.status != 422:
                    self.log(f"protection events not reported ({error.message}); kept for the next check-in")
                    return
                self.log(f"the portal refused {len(events)} protection events as invalid ({error.message})")
            except ServerUnreachable as error:
                self.log(f"protection events not reported ({error.message}); kept for the next check-in")
                return
            queue.delivered({e.id for e in events}, dropped)
            if len(events) < MAX_EVENTS_PER_REPORT:
                return

    # -- wipe --------------------------------------------------------------------------------

    async def finish_pending_wipe(self) -> None:
        """After a crash between confirming a wipe and finishing it: confirm once more, then wipe."""
        async with self.exclusive():
            await self._finish_pending_wipe()

    async def _finish_pending_wipe(self) -> None:
        command_id = self.store.wipe_pending()
        if command_id is None:
            return
        try:
            state = self.store.load_state()
            if not any(r.command_id == command_id for r in state.pending_results):
                state.pending_results.append(
                    CommandResult(command_id=command_id, status="acknowledged", result={})
                )
                self.store.save_state(state)
            await self._round()
        except DeviceWiped:
            raise
        except AgentError as error:
            self.log(f"could not confirm the wipe to the server ({error.message}); wiping anyway")
        self._complete_wipe()

    def _complete_wipe(self) -> None:
        self.store.destroy_all()
        self._identity = None
        raise DeviceWiped(
            "this device was wiped on its administrator's order: its keys, certificate, government files "
            "and agent state are destroyed. Enroll it again to use it"
        )

    # -- renewal -----------------------------------------------------------------------------

    async def renew_if_due(self) -> bool:
        """Renew at two thirds of the certificate's life; an expired one is renewed or refused."""
        identity = self.identity()
        now = self.clock()
        if now < identity.renew_after:
            return False
        expired = now >= identity.not_after
        try:
            await self.renew(expired=expired)
        except CertificateRejected as error:
            when = f"{identity.not_after:%Y-%m-%d %H:%M} UTC"
            raise CertificateRejected(
                f"the certificate {'expired on' if expired else 'expires on'} {when} and could not be "
                f"renewed: {error.message}",
                status=error.status,
                code=error.code,
                details=error.details,
            ) from error
        except (ServerUnreachable, ServerRefused) as error:
            if expired:
                raise
            self.log(f"renewal failed ({error.message}); the current certificate still works, will retry")
            return False
        return True

    async def renew(self, *, expired: bool = False) -> DeviceIdentity:
        """EST simplereenroll now; the new certificate and key replace the old at once.

        An expired certificate is renewed through the grace-window endpoint instead, proving
        possession of the old key (the CA refuses once the grace window has passed)."""
        identity = self.identity()
        serial = self.profile.load().serial_number
        if expired:
            async with Gateway.pinned(identity.server, identity.root) as pinned:
                renewed = await renew_certificate(pinned, identity, serial, now=self.clock(), expired=True)
        else:
            renewed = await renew_certificate(self.gateway(), identity, serial, now=self.clock())
        self.store.save_identity(renewed)
        self._resign_receipts(renewed)
        self._use_identity(renewed)
        self.log(f"certificate renewed; valid until {renewed.not_after:%Y-%m-%d %H:%M} UTC")
        return renewed

    def _resign_receipts(self, identity: DeviceIdentity) -> None:
        # The server checks a receipt against the certificate the result arrives with, which
        # from now on is the new one.
        state = self.store.load_state()
        changed = False
        for index, result in enumerate(state.pending_results):
            receipt = result.result.get("receipt")
            if isinstance(receipt, dict) and "signature" in result.result:
                signature = commands.signed_receipt(
                    identity, result.command_id, list(receipt.get("destroyed", [])), self.clock()
                )
                state.pending_results[index] = result.model_copy(update={"result": signature})
                changed = True
        if changed:
            self.store.save_state(state)

    # -- apps --------------------------------------------------------------------------------

    def require_unlocked(self) -> None:
        state = self.store.load_state()
        if state.locked:
            contact = f" Call {state.lock_phone}." if state.lock_phone else ""
            reason = f": {state.lock_message}" if state.lock_message else ""
            raise DeviceLocked(
                f"this device is locked by its administrator{reason}.{contact} Government apps stay closed "
                "until it is unlocked"
            )

    def require_work_container(self) -> None:
        """Government apps install only while the work container has not been wiped."""
        if self.store.load_state().work_container_wiped_at is not None:
            raise UsageError(commands.WIPED_NO_APPS)

    # -- long-running ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, heartbeat: float | None = None) -> None:
        """Stay in touch until ``stop`` is set: wake-ups, heartbeat, renewal, backoff."""
        wake = asyncio.Event()
        poller: asyncio.Task[None] | None = None
        poller_generation = -1
        failures = 0
        last_checkin = -float("inf")
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                wake.clear()
                since = loop.time() - last_checkin
                if since < self.min_wake_interval:
                    await asyncio.sleep(self.min_wake_interval - since)
                try:
                    last_checkin = loop.time()
                    response = await self.check_in()
                    failures = 0
                    interval = heartbeat or response.policy.checkin_interval_seconds
                    delay = interval * self.rng.uniform(0.9, 1.1)
                except CertificateRejected:
                    raise
                except (ServerUnreachable, ServerRefused) as error:
                    failures += 1
                    delay = self.backoff.delay(failures, self.rng)
                    self.log(f"check-in failed: {error.message}; next try in {delay:.1f} s")
                finally:
                    if self._after_checkin is not None:
                        self._after_checkin.set()
                        self._after_checkin = None
                if poller is None or poller_generation != self.generation:
                    if poller is not None:
                        poller.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await poller
                    poller = asyncio.create_task(self._long_poll(wake, stop))
                    poller_generation = self.generation
                await _first_of(stop, wake, delay)
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller

    async def _long_poll(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                woke = await self.gateway().wait(self.wait_timeout)
                failures = 0
            except AgentError as error:
                failures += 1
                delay = self.backoff.delay(failures, self.rng)
                self.log(f"wake-up channel: {error.message}; reconnecting in {delay:.1f} s")
                await _first_of(stop, asyncio.Event(), delay)
                continue
            if woke:
                # Wait for the check-in this wake-up causes before asking again: until then the
                # server would answer "wake" at once, over and over.
                done = asyncio.Event()
                self._after_checkin = done
                wake.set()
                await _first_of(stop, done, None)


async def _first_of(stop: asyncio.Event, other: asyncio.Event, timeout: float | None) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(other.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


class _ManagedApps:
    """What a selective wipe removes: the apps the portal installed (their records, packages and
    data spaces go), and any other app with a data space on the tablet."""

    def __init__(self, portal: AppPortal, spaces: ManagedApps) -> None:
        self.portal = portal
        self.spaces = spaces

    def managed_packages(self) -> list[str]:
        return sorted({*self.portal.installed_packages(), *self.spaces.managed_packages()})

    def remove_managed_app(self, package: str) -> None:
        if package in self.portal.installed_packages():
            self.portal.forget(package)
        else:
            self.spaces.remove_managed_app(package)

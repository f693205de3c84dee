"""A fleet of simulated devices in one asyncio process, for load tests and benchmarks.

Each simulated device is a real ``Agent`` with its own P-256 key and certificate, talking
mutual TLS to the gateway's public address exactly as a single agent does; only its state lives
in memory (``MemoryStore``) and its work container is empty. The simulator:

1. makes enrollment tokens through the admin API (one token serves up to 1,000 devices), in a
   tenant and for a person it is given or creates;
2. enrolls N devices over EST, a bounded number at a time, and measures the rate;
3. brings them online: each device's first check-in (it becomes active), measured apart because
   it costs more (a new TLS session, the first posture, the state change);
4. fires check-ins at an aggregate rate R for S seconds (open loop: a tick is not delayed by a
   slow answer; a tick that finds its device still busy, or too many requests in flight,
   is counted as skipped), optionally queueing commands through the admin API that the devices
   then answer in their check-ins;
5. lets every device a command was sent to check in once more after the run, as it would at its
   next check-in, so that every queued command is answered whatever the run's latencies were
   (these check-ins are counted apart: they are not part of the timed run);
6. reports throughput, p50/p95/p99 latency of the check-in requests, and errors by kind.

Devices do not hold long-polls open here: at fleet scale that measures idle connections, not
the check-in path.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import secrets
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from govmobile_device import pki
from govmobile_device.admin import AdminClient
from govmobile_device.agent import Agent, utcnow
from govmobile_device.enrollment import fetch_trusted_root, request_certificate
from govmobile_device.errors import AgentError, ServerRefused, ServerUnreachable, UsageError
from govmobile_device.gateway import Gateway, mutual_context
from govmobile_device.profile import DeviceProfile, FixedProfile, ProfileLocation
from govmobile_device.protocol import CheckinRequest, CheckinResponse
from govmobile_device.state import DeviceIdentity, MemoryStore

MAX_TOKEN_USES = 1000
#: Harmless commands the simulator queues (with their payloads) when asked to.
COMMAND_MIX: list[tuple[str, dict[str, Any]]] = [
    ("message", {"text": "Simulated notice from the IT desk"}),
    ("locate", {}),
    ("lock", {"message": "Simulated lock"}),
    ("unlock", {}),
    ("refresh_policy", {}),
    ("lost_mode_on", {"message": "Simulated lost mode"}),
    ("lost_mode_off", {}),
    ("selective_wipe", {}),
]


@dataclass(frozen=True)
class _TimedRun:
    """What the timed part of a run did."""

    commands_queued: int
    #: The devices (their indexes) a command went to: they check in once more after the run.
    commanded: frozenset[int]
    #: Turns at the target rate, and those skipped (the device still busy, or too many in flight).
    ticks: int
    skipped: int
    seconds: float


@dataclass(frozen=True)
class SimulationConfig:
    server: str
    devices: int
    rate: float
    duration: float
    admin_url: str
    admin_token: str | None = None
    admin_username: str | None = None
    admin_password: str | None = None
    admin_verify: Any = True
    tenant: str | None = None
    person: str | None = None
    ca_fingerprint: str | None = None
    enroll_concurrency: int = 32
    max_in_flight: int = 256
    commands: int = 0
    timeout: float = 30.0


@dataclass
class Measurements:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)

    def record(self, seconds: float) -> None:
        self.latencies.append(seconds)


@dataclass
class SimulationReport:
    devices_requested: int
    devices_enrolled: int
    enroll_seconds: float
    enroll_latency: dict[str, float]
    enroll_errors: dict[str, int]
    activate_seconds: float
    activate_latency: dict[str, float]
    activate_errors: dict[str, int]
    duration: float
    target_rate: float
    checkins: int
    checkin_latency: dict[str, float]
    checkin_errors: dict[str, int]
    ticks: int
    skipped_ticks: int
    settle_checkins: int
    commands_queued: int
    command_results: dict[str, int]
    tenant_id: str

    @property
    def enroll_rate(self) -> float:
        return self.devices_enrolled / self.enroll_seconds if self.enroll_seconds else 0.0

    @property
    def activate_rate(self) -> float:
        return self.devices_enrolled / self.activate_seconds if self.activate_seconds else 0.0

    @property
    def throughput(self) -> float:
        return self.checkins / self.duration if self.duration else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "devices_requested": self.devices_requested,
            "devices_enrolled": self.devices_enrolled,
            "enroll_seconds": round(self.enroll_seconds, 3),
            "enroll_rate": round(self.enroll_rate, 2),
            "enroll_latency_ms": self.enroll_latency,
            "enroll_errors": self.enroll_errors,
            "activate_seconds": round(self.activate_seconds, 3),
            "activate_rate": round(self.activate_rate, 2),
            "activate_latency_ms": self.activate_latency,
            "activate_errors": self.activate_errors,
            "duration_seconds": round(self.duration, 3),
            "target_rate": self.target_rate,
            "checkins": self.checkins,
            "checkin_throughput": round(self.throughput, 2),
            "checkin_latency_ms": self.checkin_latency,
            "checkin_errors": self.checkin_errors,
            "ticks": self.ticks,
            "skipped_ticks": self.skipped_ticks,
            "settle_checkins": self.settle_checkins,
            "commands_queued": self.commands_queued,
            "command_results": self.command_results,
            "tenant_id": self.tenant_id,
        }

    def render(self) -> str:
        def ms(figures: dict[str, float]) -> str:
            if not figures:
                return "no samples"
            return ", ".join(f"{k} {v:.1f} ms" for k, v in figures.items())

        def errors(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"

        return "\n".join(
            [
                f"enrollment: {self.devices_enrolled} of {self.devices_requested} devices in "
                f"{self.enroll_seconds:.1f} s ({self.enroll_rate:.1f}/s); latency {ms(self.enroll_latency)}; "
                f"errors: {errors(self.enroll_errors)}",
                f"first check-ins: {self.activate_rate:.1f} devices/s; latency {ms(self.activate_latency)}; "
                f"errors: {errors(self.activate_errors)}",
                f"check-ins: {self.checkins} in {self.duration:.1f} s = {self.throughput:.1f}/s "
                f"(target {self.target_rate:g}/s, {self.skipped_ticks} of {self.ticks} ticks skipped)",
                f"check-in latency: {ms(self.checkin_latency)}",
                f"check-in errors: {errors(self.checkin_errors)}",
                f"commands: {self.commands_queued} queued; results delivered: {errors(self.command_results)} "
                f"({self.settle_checkins} check-ins after the run by the devices they went to)",
            ]
        )


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds (nearest rank)."""
    if not samples:
        return {}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": ordered[-1] * 1000}


class _MeasuredGateway(Gateway):
    """A device's gateway client that times its check-ins and counts the results it delivers."""

    #: The measurements of the phase under way (activation, then the timed run).
    phase: Callable[[], Measurements]

    async def checkin(self, request: CheckinRequest) -> CheckinResponse:
        measurements = self.phase()
        started = time.perf_counter()
        try:
            response = await super().checkin(request)
        except AgentError as error:
            measurements.errors[_error_kind(error)] += 1
            raise
        measurements.record(time.perf_counter() - started)
        for result in request.results:
            measurements.results[result.status] += 1
        return response


def _error_kind(error: AgentError) -> str:
    if isinstance(error, ServerRefused):
        return error.code
    if isinstance(error, ServerUnreachable):
        return f"unreachable_{error.cause}"
    return type(error).__name__


class Simulation:
    def __init__(self, config: SimulationConfig, *, log: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.log = log or (lambda text: None)
        self.activation = Measurements()
        self.measurements = Measurements()
        self.settling = Measurements()
        self._phase = self.activation
        self.rng = random.Random()  # noqa: S311 - load pattern, not secrets
        self.run_id = secrets.token_hex(3)

    async def run(self) -> SimulationReport:
        config = self.config
        admin = AdminClient(
            config.admin_url, token=config.admin_token, verify=config.admin_verify, timeout=config.timeout
        )
        agents: list[Agent] = []
        try:
            if not config.admin_token:
                if not (config.admin_username and config.admin_password):
                    raise UsageError(
                        "the simulator needs an admin API token (--admin-token or GOVMOBILE_ADMIN_TOKEN), or "
                        "--admin-user with GOVMOBILE_ADMIN_PASSWORD"
                    )
                await admin.login(config.admin_username, config.admin_password)
            tenant_id, person_id = await self._directory(admin)
            tokens, pin = await self._tokens(admin, tenant_id, person_id)
            root = await fetch_trusted_root(
                config.server, pin, insecure_first_use=False, timeout=config.timeout
            )
            enroll_started = time.perf_counter()
            identities, enroll_latencies, enroll_errors = await self._enroll_all(root, tokens)
            enroll_seconds = time.perf_counter() - enroll_started
            self.log(f"enrolled {len(identities)} devices in {enroll_seconds:.1f} s")
            agents = [self._agent(identity, index) for index, identity in enumerate(identities)]
            activate_started = time.perf_counter()
            await self._activate_all(agents)
            activate_seconds = time.perf_counter() - activate_started
            self._phase = self.measurements
            run = await self._drive(agents, admin)
            self._phase = self.settling
            await self._settle([agents[index] for index in sorted(run.commanded)])
            return SimulationReport(
                devices_requested=config.devices,
                devices_enrolled=len(identities),
                enroll_seconds=enroll_seconds,
                enroll_latency=percentiles(enroll_latencies),
                enroll_errors=dict(enroll_errors),
                activate_seconds=activate_seconds,
                activate_latency=percentiles(self.activation.latencies),
                activate_errors=dict(self.activation.errors),
                duration=run.seconds,
                target_rate=config.rate,
                checkins=len(self.measurements.latencies),
                checkin_latency=percentiles(self.measurements.latencies),
                checkin_errors=dict(self.measurements.errors + self.settling.errors),
                ticks=run.ticks,
                skipped_ticks=run.skipped,
                settle_checkins=len(self.settling.latencies),
                commands_queued=run.commands_queued,
                command_results=dict(self.measurements.results + self.settling.results),
                tenant_id=tenant_id,
            )
        finally:
            await asyncio.gather(*(agent.aclose() for agent in agents), return_exceptions=True)
            await admin.aclose()

    # -- setup -------------------------------------------------------------------------------

    async def _directory(self, admin: AdminClient) -> tuple[str, str]:
        if self.config.tenant:
            tenant = await admin.tenant(self.config.tenant)
        else:
            slug = f"sim-{self.run_id}"
            tenant = await admin.create_tenant(slug, f"Simulated fleet {self.run_id}")
            self.log(f"created tenant {slug} ({tenant['id']})")
        tenant_id = str(tenant["id"])
        username = self.config.person or "simulator"
        person = await admin.find_person(tenant_id, username)
        if person is None:
            person = await admin.create_person(tenant_id, username, "Fleet simulator")
        return tenant_id, str(person["id"])

    async def _tokens(self, admin: AdminClient, tenant_id: str, person_id: str) -> tuple[list[str], str]:
        tokens: list[str] = []
        pin = self.config.ca_fingerprint
        remaining = self.config.devices
        while remaining > 0:
            uses = min(MAX_TOKEN_USES, remaining)
            issued = await admin.enrollment_token(tenant_id, person_id, max_uses=uses)
            tokens += [str(issued["token"])] * uses
            remaining -= uses
            if pin is None:
                query = urllib.parse.parse_qs(str(issued["qr_payload"]).partition("?")[2])
                pin = pki.normalise_fingerprint(query["ca_sha256"][0])
        assert pin is not None
        return tokens, pin

    async def _enroll_all(
        self, root: x509.Certificate, tokens: list[str]
    ) -> tuple[list[DeviceIdentity], list[float], Counter[str]]:
        config = self.config
        gate = asyncio.Semaphore(config.enroll_concurrency)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        identities: list[DeviceIdentity | None] = [None] * len(tokens)
        async with Gateway.pinned(config.server, root, timeout=config.timeout) as gateway:

            async def enroll(index: int) -> None:
                async with gate:
                    started = time.perf_counter()
                    try:
                        identities[index] = await request_certificate(
                            gateway, root, tokens[index], self._profile(index), now=utcnow()
                        )
                    except AgentError as error:
                        errors[_error_kind(error)] += 1
                        return
                    latencies.append(time.perf_counter() - started)

            await asyncio.gather(*(enroll(i) for i in range(len(tokens))))
        return [i for i in identities if i is not None], latencies, errors

    def _profile(self, index: int) -> DeviceProfile:
        return DeviceProfile(
            serial_number=f"SIM-{self.run_id}-{index:06d}",
            model="GovMobile simulated tablet",
            installed_apps=[],
            battery_percent=self.rng.randint(20, 100),
            location=ProfileLocation(
                latitude=27.7 + self.rng.uniform(-0.1, 0.1), longitude=85.3 + self.rng.uniform(-0.1, 0.1)
            ),
        )

    def _agent(self, identity: DeviceIdentity, index: int) -> Agent:
        store = MemoryStore()
        store.save_identity(identity)
        timeout = self.config.timeout

        def connect(who: DeviceIdentity) -> Gateway:
            gateway = _MeasuredGateway(who.server, mutual_context(who), timeout=timeout)
            gateway.phase = lambda: self._phase
            return gateway

        return Agent(store, FixedProfile(self._profile(index)), connect=connect, rng=self.rng)

    # -- the run -----------------------------------------------------------------------------

    async def _activate_all(self, agents: list[Agent]) -> None:
        """Each device's first check-in (it becomes active), as the fleet comes online."""
        await self._check_in_each(agents)

    async def _check_in_each(self, agents: list[Agent]) -> None:
        """One check-in from each device, a bounded number at a time."""
        gate = asyncio.Semaphore(self.config.enroll_concurrency)

        async def check_in(agent: Agent) -> None:
            async with gate:
                with contextlib.suppress(AgentError):  # counted by the measured gateway
                    await agent.check_in()

        await asyncio.gather(*(check_in(agent) for agent in agents))

    async def _drive(self, agents: list[Agent], admin: AdminClient) -> _TimedRun:
        """The timed run: check-ins at the target rate, and the commands queued meanwhile."""
        config = self.config
        if not agents:
            return _TimedRun(commands_queued=0, commanded=frozenset(), ticks=0, skipped=0, seconds=0.0)
        loop = asyncio.get_running_loop()
        busy: set[int] = set()
        tasks: set[asyncio.Task[None]] = set()
        skipped = 0
        interval = 1.0 / config.rate
        # A whole number of ticks, each at its own time from the start (no drift, and the same
        # count on a slow machine as on a fast one: only what is skipped differs).
        ticks = max(1, round(config.duration * config.rate))
        started = loop.time()
        deadline = started + config.duration
        command_task = (
            asyncio.create_task(self._queue_commands(admin, agents, started, deadline))
            if config.commands
            else None
        )

        async def check_in(index: int) -> None:
            try:
                await agents[index].check_in()
            except AgentError:
                pass  # counted by the measured gateway
            finally:
                busy.discard(index)

        for tick in range(ticks):
            delay = started + tick * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            index = tick % len(agents)
            if index in busy or len(busy) >= config.max_in_flight:
                skipped += 1
                continue
            busy.add(index)
            task = asyncio.create_task(check_in(index))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks), timeout=config.timeout)
        elapsed = loop.time() - started
        queued, commanded = (0, set()) if command_task is None else await command_task
        return _TimedRun(
            commands_queued=queued,
            commanded=frozenset(commanded),
            ticks=ticks,
            skipped=skipped,
            seconds=elapsed,
        )

    async def _queue_commands(
        self, admin: AdminClient, agents: list[Agent], started: float, deadline: float
    ) -> tuple[int, set[int]]:
        """Spread the commands over the first half of the run, so devices can answer them; the
        number queued and the devices they went to."""
        loop = asyncio.get_running_loop()
        spacing = (deadline - started) / 2 / self.config.commands
        queued = 0
        commanded: set[int] = set()
        for number in range(self.config.commands):
            await asyncio.sleep(max(0.0, started + number * spacing - loop.time()))
            index = number % len(agents)
            kind, payload = COMMAND_MIX[number % len(COMMAND_MIX)]
            try:
                await admin.send_command(agents[index].identity().device_id, kind, payload)
                queued += 1
                commanded.add(index)
            except AgentError as error:
                self.measurements.errors[f"queue_{_error_kind(error)}"] += 1
        return queued, commanded

    async def _settle(self, agents: list[Agent]) -> None:
        """One more check-in from each device a command was sent to: a device answers its commands
        at its next check-in, which a slow run may not have left time for. A check-in delivers
        results round after round until the server has nothing more (Agent.check_in)."""
        await self._check_in_each(agents)


def run_simulation(config: SimulationConfig, *, log: Callable[[str], None] | None = None) -> SimulationReport:
    return asyncio.run(Simulation(config, log=log).run())

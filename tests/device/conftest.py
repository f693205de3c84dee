"""The device agent against the real CA and MDM on loopback, behind the mutual-TLS gateway stub.

Everything the agent does goes over real sockets: EST and check-ins through the stub
(tests/support/gateway_stub.py), which verifies the device's certificate and forwards to the
MDM with the identity headers the gateway will set. The admin's view (``platform``) talks to
the MDM's admin API directly, as the console will.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from govmobile.ca.app import create_app as create_ca
from govmobile.ca.hierarchy import CaLayout
from govmobile.core.accounts import Role
from govmobile.core.database import Database
from govmobile.mdm.app import create_app as create_mdm
from govmobile.mdm.signer import HttpCertificateSigner
from govmobile_device import pki
from govmobile_device.agent import Agent, Backoff
from govmobile_device.cli import main
from govmobile_device.gateway import Gateway
from govmobile_device.profile import DeviceProfile, ProfileFile
from govmobile_device.state import FileStore
from tests.support.admins import make_admin
from tests.support.ca import DEPLOY_SECRET, MDM_SECRET, Clock, ca_settings
from tests.support.databases import DatabaseFactory
from tests.support.gateway_stub import GatewayStub, issue_server_certificate
from tests.support.mdm import GATEWAY_SECRET, Admin, Department, make_department, mdm_settings, new_token
from tests.support.servers import serving

__all__ = ["GATEWAY_SECRET", "Admin", "Department", "new_token"]

# One database, CA, MDM and gateway stub serve the whole device suite (starting them per test
# cost more than the tests themselves). Tests stay apart by working in a department of their
# own (``water``); the shared clock and the stub's test hooks are reset before each test.


@pytest.fixture(scope="package")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="package")
def shared_database(database_factory: DatabaseFactory) -> Iterator[tuple[str, Database]]:
    with database_factory.fresh() as url:
        database = Database(url)
        yield url, database
        database.dispose()


@pytest.fixture(scope="package")
def ca_url(ca_layout: CaLayout, shared_database: tuple[str, Database], clock: Clock) -> Iterator[str]:
    url, database = shared_database
    with serving(create_ca(ca_settings(ca_layout, url), database=database, clock=clock)) as served:
        yield served


@pytest.fixture(scope="package")
def mdm_url(shared_database: tuple[str, Database], ca_url: str, clock: Clock) -> Iterator[str]:
    url, database = shared_database
    signer = HttpCertificateSigner(ca_url, ra_name="mdm", ra_secret=MDM_SECRET)
    try:
        with serving(create_mdm(mdm_settings(url), database=database, signer=signer, clock=clock)) as served:
            yield served
    finally:
        signer.close()


@pytest.fixture(scope="package")
def platform(mdm_url: str, shared_database: tuple[str, Database]) -> Iterator[Admin]:
    with httpx.Client(base_url=mdm_url, timeout=30) as client:
        yield Admin(
            client, make_admin(shared_database[1], Role.PLATFORM_ADMIN, username="device-suite-admin")
        )


@pytest.fixture
def water(platform: Admin) -> Department:
    """A department of this test's own."""
    return make_department(platform, f"water-{secrets.token_hex(4)}")


@pytest.fixture(scope="package")
def gateway(ca_url: str, mdm_url: str, clock: Clock) -> Iterator[GatewayStub]:
    chain, key, trusted = issue_server_certificate(ca_url, ("deploy", DEPLOY_SECRET))
    stub = GatewayStub(
        mdm_url,
        gateway_secret=GATEWAY_SECRET,
        certificate_chain_pem=chain,
        key_pem=key,
        trusted_ca_pem=trusted,
        crl_url=f"{ca_url}/pki/crl",
        crl_max_age=3600,  # revocation tests refresh it explicitly
        clock=clock,
    )
    with stub.serving():
        yield stub


@pytest.fixture(autouse=True)
def _fresh_hooks(clock: Clock, gateway: GatewayStub) -> None:
    clock.now = dt.datetime.now(dt.UTC)
    gateway.checkin_faults = []
    gateway.rewrite_checkin = None
    gateway.refused.clear()
    gateway.paths.clear()
    gateway.paths_by_serial.clear()
    gateway.requests = 0


@pytest.fixture
def pin(ca_layout: CaLayout) -> str:
    return pki.fingerprint(x509.load_pem_x509_certificate(ca_layout.root_certificate.read_bytes()))


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    raw: bytes


def run_cli(
    argv: list[str], *, clock: Clock, environ: dict[str, str] | None = None, stdin: bytes = b""
) -> Outcome:
    """``govmobile-device`` in this process, with its output captured (bytes and text)."""
    out, err = io.BytesIO(), io.BytesIO()
    wrappers = (
        io.TextIOWrapper(out, encoding="utf-8", write_through=True),
        io.TextIOWrapper(err, encoding="utf-8", write_through=True),
        io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
    )
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr, sys.stdin = wrappers
    try:
        code = main(argv, environ=environ or {}, clock=clock)
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
        for wrapper in wrappers:
            wrapper.flush()
            wrapper.detach()  # keep the buffers open after the wrappers are collected
    raw = out.getvalue()
    return Outcome(code, raw.decode(errors="replace"), err.getvalue().decode(), raw)


@dataclass
class Tablet:
    """A device under test: a state directory, and the agent's command line pointed at it."""

    state: Path
    server: str
    pin: str
    clock: Clock
    environ: dict[str, str]

    def __call__(self, *argv: str, stdin: bytes = b"") -> Outcome:
        return run_cli(
            ["--state", str(self.state), *argv], clock=self.clock, environ=self.environ, stdin=stdin
        )

    def ok(self, *argv: str, stdin: bytes = b"") -> Outcome:
        outcome = self(*argv, stdin=stdin)
        assert outcome.code == 0, f"{argv}: exit {outcome.code}\n{outcome.err}"
        return outcome

    def enroll(self, token: str, *extra: str) -> Outcome:
        return self("enroll", "--server", self.server, "--token", token, "--ca-fingerprint", self.pin, *extra)

    @property
    def store(self) -> FileStore:
        return FileStore(self.state, passphrase=self.environ.get("GOVMOBILE_DEVICE_PASSPHRASE"))

    @property
    def profile(self) -> ProfileFile:
        return ProfileFile(self.state / "profile.json")

    def edit_profile(self, **changes: Any) -> DeviceProfile:
        profile = DeviceProfile.model_validate({**self.profile.load().model_dump(mode="json"), **changes})
        self.profile.save(profile)
        return profile

    @property
    def device_id(self) -> str:
        return self.store.load_identity().device_id

    def agent(self, **options: Any) -> Agent:
        options.setdefault("backoff", Backoff(base=0.05, cap=0.2))
        options.setdefault("min_wake_interval", 0.0)
        return Agent(
            self.store,
            self.profile,
            clock=self.clock,
            connect=lambda identity: Gateway.mutual(identity, timeout=10),
            **options,
        )


@pytest.fixture
def device_factory(tmp_path: Path, gateway: GatewayStub, pin: str, clock: Clock) -> Any:
    def make(name: str = "tablet", **environ: str) -> Tablet:
        return Tablet(tmp_path / name, gateway.url, pin, clock, dict(environ))

    return make


@pytest.fixture
def device(device_factory: Any) -> Tablet:
    made: Tablet = device_factory()
    return made


@pytest.fixture
def enrolled(device: Tablet, platform: Admin, water: Department) -> Tablet:
    outcome = device.enroll(new_token(platform, water))
    assert outcome.code == 0, outcome.err
    return device


def server_view(admin: Admin, device_id: str) -> dict[str, Any]:
    view: dict[str, Any] = admin.ok("GET", f"/api/v1/devices/{device_id}")
    return view


def send(admin: Admin, device_id: str, kind: str, payload: dict[str, Any] | None = None) -> str:
    command = admin.ok(
        "POST", f"/api/v1/devices/{device_id}/commands", json={"type": kind, "payload": payload or {}}
    )
    return str(command["id"])


def command_of(admin: Admin, command_id: str) -> dict[str, Any]:
    found: dict[str, Any] = admin.ok("GET", f"/api/v1/commands/{command_id}")
    return found

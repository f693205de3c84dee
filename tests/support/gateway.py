"""A real gateway on loopback: nginx from Debian's packages run by the control plane, in front of
a CA, an MDM and a recording intranet app, all sharing one real database; and a scripted device
that speaks to it with mutual TLS (a pytest plugin: ``tests/conftest.py``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from govmobile.ca import keyfiles
from govmobile.ca.hierarchy import CaLayout, IssuerKey
from govmobile.ca.revocation_list import root_crl
from govmobile.core.database import Database
from govmobile.gateway.app import create_app
from govmobile.gateway.settings import GatewaySettings
from tests.support.ca import Clock
from tests.support.devices import ScriptedDevice, ThroughGateway
from tests.support.mdm import GATEWAY_SECRET, Admin, Department, new_token
from tests.support.pki import issue_server_certificate
from tests.support.servers import free_port, serving
from tests.support.upstreams import RecordingUpstream

#: How long a test waits for the gateway to act on an access change (a refusal, access given
#: back, a reload). Generous on purpose: tests prove what the gateway decides; how fast (its
#: 5 s promise) is measured by bench/gateway.py and checked on the deployed appliance, not on a
#: machine that a soak or a CPU hog may starve for seconds.
DECISION_TIMEOUT = 30.0


@dataclass(frozen=True)
class GatewayTls:
    directory: Path
    public: tuple[Path, Path]
    management: tuple[Path, Path]
    client_ca: Path
    root: Path
    root_crl: Path


@pytest.fixture(scope="session")
def gateway_tls(ca_layout: CaLayout, tmp_path_factory: pytest.TempPathFactory) -> GatewayTls:
    directory = tmp_path_factory.mktemp("gateway-tls")
    public = issue_server_certificate(
        ca_layout, directory, "public", ("localhost", "oa.gm.test"), ("127.0.0.1",)
    )
    management = issue_server_certificate(ca_layout, directory, "management", ("localhost",), ("127.0.0.1",))
    root_cert = keyfiles.read_certificates(ca_layout.root_certificate)[0]
    issuing = keyfiles.read_certificates(ca_layout.issuing_certificate)[0]
    client_ca = directory / "client-ca.pem"
    keyfiles.write_certificates(client_ca, [issuing, root_cert])
    root_key = keyfiles.read_private_key(ca_layout.directory / "root-offline" / "root.key")
    crl = directory / "root-crl.pem"
    crl.write_bytes(
        root_crl(
            IssuerKey(root_cert, root_key, root_cert),
            now=dt.datetime.now(dt.UTC),
            validity=dt.timedelta(days=30),
        )
    )  # type: ignore[arg-type]
    return GatewayTls(directory, public, management, client_ca, ca_layout.root_certificate, crl)


@pytest.fixture
def upstream() -> Iterator[tuple[RecordingUpstream, str]]:
    recorder = RecordingUpstream()
    with serving(recorder.app()) as url:
        yield recorder, url


@dataclass
class Gateway:
    public_url: str
    management_url: str
    public_port: int
    app: Any
    tls: GatewayTls
    settings: GatewaySettings

    def client(self, cert: tuple[Path, Path] | None = None, **kwargs: Any) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.tls.root))
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        return httpx.Client(base_url=self.public_url, verify=context, timeout=30, **kwargs)

    def status_of(self, path: str, cert: tuple[Path, Path] | None = None) -> int:
        with self.client(cert) as client:
            return client.get(path).status_code

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10) -> float:
        """Poll until the condition holds; return how long it took."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise AssertionError("the gateway did not reach the expected state in time")
            time.sleep(0.05)
        return time.monotonic() - started

    def wait_for_generation(self, after: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.app.state.controller.generation <= after:
            if time.monotonic() > deadline:
                raise AssertionError("the gateway did not pick up the change")
            time.sleep(0.05)

    def desired_state_generation(self) -> int:
        """The database's desired-state generation (migration 0011), as committed now."""
        with self.app.state.controller.database.engine.connect() as connection:
            return int(connection.execute(text("SELECT value FROM desired_state_generation")).scalar_one())

    def wait_for_documents(self, timeout: float = DECISION_TIMEOUT) -> None:
        """Wait until nginx has been told the desired-state generation committed now: from then on
        no answer held from before is used (the gateway polls for it about once a second)."""
        now = self.desired_state_generation()
        controller = self.app.state.controller
        self.wait_until(lambda: (controller.documents_generation or 0) >= now, timeout)

    @contextlib.contextmanager
    def not_syncing(self) -> Iterator[None]:
        """Hold the control plane's polls for the block, so that nginx goes on answering from what
        it was last told: the window a change spends committed but not yet seen by the gateway
        (about a second deployed, 0.2 s here), made as long as the test needs."""
        controller = self.app.state.controller
        controller.sync = lambda: None  # the poll looks the method up each time
        try:
            time.sleep(self.settings.poll_interval_seconds * 2)  # a poll in flight finishes
            yield
        finally:
            del controller.sync

    def workers(self, master: int | None = None) -> set[int]:
        """nginx's worker processes: the children of `master`, or of the running master; none
        while no master runs (the pid is read once: nginx may be reaped between two reads)."""
        master = master or self.app.state.controller.nginx.pid
        if master is None:
            return set()
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except FileNotFoundError:  # the master ended between reading its pid and its children
            return set()
        return {int(pid) for pid in children}

    @contextlib.contextmanager
    def reloaded(self, timeout: float = 10) -> Iterator[None]:
        """Wait, after the block, until the gateway has picked up what the block changed and nginx
        runs only workers started since: for a moment after a reload the old workers still
        accept connections, which they serve with the old configuration."""
        generation, old_workers = self.app.state.controller.generation, self.workers()
        yield
        self.wait_for_generation(generation, timeout)
        self.wait_until(lambda: not self.workers() & old_workers, timeout)

    def curl(self, target: str, *args: str, cert: tuple[Path, Path] | None = None) -> tuple[int, str]:
        """``curl`` (a real client) for ``target``, a path on the public listener or a whole URL;
        the status (0 when nothing answered) and the body."""
        command = ["curl", "-sS", "--cacert", str(self.tls.root), "-o", "-", "-w", "\n%{http_code}"]
        command += ["--max-time", "20"]
        if cert is not None:
            command += ["--cert", str(cert[0]), "--key", str(cert[1])]
        url = target if target.startswith("https://") else f"{self.public_url}{target}"
        result = subprocess.run(
            [*command, *args, url], capture_output=True, text=True, errors="replace", timeout=30
        )
        body, _, status = result.stdout.rpartition("\n")
        return int(status or 0), body

    def s_client(self, version: str, cert: tuple[Path, Path] | None = None) -> list[str]:
        """The ``openssl s_client`` command for the public listener, as a device would connect."""
        command = ["openssl", "s_client", "-connect", f"127.0.0.1:{self.public_port}"]
        command += ["-servername", "localhost", version, "-CAfile", str(self.tls.root)]
        if cert is not None:
            command += ["-cert", str(cert[0]), "-key", str(cert[1])]
        return command

    def add_route(self, admin: Any, **route: Any) -> dict[str, Any]:
        """Create an intranet-app route through ``admin`` and wait until nginx serves it."""
        with self.reloaded():
            created: dict[str, Any] = admin.ok("POST", "/api/v1/routes", json=route)
        return created


def gateway_settings(
    database_url: str, ca_url: str, mdm_url: str, tls: GatewayTls, directory: Path, **overrides: Any
) -> GatewaySettings:
    """A gateway on free loopback ports, its files under ``directory``; ``overrides`` change settings."""
    return GatewaySettings(
        database_url=database_url,
        listen_port=free_port(),
        public_hostname="localhost",
        public_listen=f"127.0.0.1:{free_port()}",
        management_listen=f"127.0.0.1:{free_port()}",
        public_tls_cert=tls.public[0],
        public_tls_key=tls.public[1],
        management_tls_cert=tls.management[0],
        management_tls_key=tls.management[1],
        client_ca_file=tls.client_ca,
        root_crl_file=tls.root_crl,
        internal_ca_file=tls.root,
        ca_url=ca_url,
        mdm_url=mdm_url,
        gateway_secret=GATEWAY_SECRET,  # type: ignore[arg-type]
        run_dir=directory / "run",
        keys_dir=directory / "keys",
        poll_interval_seconds=0.2,
        access_summary_seconds=3600,
        log_to_stdout=False,
        worker_processes="2",
        client_timeout_seconds=3,
        **overrides,
    )


def _port(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


@contextlib.contextmanager
def running_gateway(app: Any, settings: GatewaySettings) -> Iterator[None]:
    """Serve the control plane (which runs nginx); afterwards, nginx must have stopped with it.

    A data plane left running would hold its ports, and its process object, collected later,
    would fail whichever test happens to run then (ResourceWarning from ``Popen.__del__``)."""
    with serving(app, port=settings.listen_port):
        yield
    nginx = app.state.nginx
    if nginx.pid is not None:
        left = nginx.pid
        nginx.stop()
        pytest.fail(f"nginx (pid {left}) was still running after the gateway's control plane stopped")


@pytest.fixture
def gateway_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings a test changes (``@pytest.mark.parametrize(..., indirect=True)``)."""
    return dict(getattr(request, "param", {}))


@dataclass(frozen=True)
class GatewayApp:
    """The control plane's app, built but not serving yet."""

    app: Any
    settings: GatewaySettings


@pytest.fixture
def gateway_app(
    database: Database,
    database_url: str,
    ca_url: str,
    mdm_url: str,
    gateway_tls: GatewayTls,
    tmp_path: Path,
    clock: Clock,
    gateway_overrides: dict[str, Any],
    portal_url: str,
    portal_data: Path,
) -> GatewayApp:
    # The whole appliance behind the gateway: the portal too, with its repository's files.
    overrides = {
        "portal_url": portal_url,
        "portal_files_dir": portal_data / "repository",
        **gateway_overrides,
    }
    settings = gateway_settings(database_url, ca_url, mdm_url, gateway_tls, tmp_path, **overrides)
    return GatewayApp(create_app(settings, database=database, clock=clock), settings)


@pytest.fixture
def gateway(gateway_app: GatewayApp, gateway_tls: GatewayTls) -> Iterator[Gateway]:
    app, settings = gateway_app.app, gateway_app.settings
    with running_gateway(app, settings):
        public_port, management_port = _port(settings.public_listen), _port(settings.management_listen)
        yield Gateway(
            f"https://localhost:{public_port}",
            f"https://localhost:{management_port}",
            public_port,
            app,
            gateway_tls,
            settings,
        )


def through_gateway(gateway: Gateway, directory: Path, serial_number: str) -> ScriptedDevice:
    """A scripted device that reaches the MDM and the apps through ``gateway``, with mutual TLS."""
    return ScriptedDevice(ThroughGateway(gateway, directory), serial_number)


@pytest.fixture
def mobile(gateway: Gateway, platform: Admin, water: Department, tmp_path: Path) -> ScriptedDevice:
    """A device enrolled through the gateway, checked in once (active, compliant)."""
    device = through_gateway(gateway, tmp_path / "mobile", "SN-GW-0001")
    response = device.enroll(new_token(platform, water, group_id=water.group_id))
    assert response.status_code == 200, response.text
    assert device.checkin().json()["device"]["state"] == "active"
    return device


@pytest.fixture
def management(gateway: Gateway, platform: Admin) -> Iterator[Admin]:
    """The platform admin, through the gateway's management listener."""
    context = ssl.create_default_context(cafile=str(gateway.tls.root))
    with httpx.Client(base_url=gateway.management_url, verify=context, timeout=30) as client:
        yield Admin(client, platform.token)


@pytest.fixture
def oa_route(
    management: Admin, water: Department, upstream: tuple[RecordingUpstream, str], gateway: Gateway
) -> dict[str, Any]:
    """The office app route, admitting the water department's field staff."""
    route = gateway.add_route(
        management,
        name="oa",
        upstream_url=upstream[1],
        allowed_tenants=[water.tenant_id],
        allowed_groups=["field-staff"],
        identity_mode="assertion_and_headers",
        websocket=True,
        rate_limit=50,
    )
    # The route is live: its location answers (401 without a certificate).
    assert gateway.status_of("/apps/oa/") == 401
    return route

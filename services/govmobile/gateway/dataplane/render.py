"""Render nginx's configuration from the gateway's settings and routes."""

from __future__ import annotations

import os
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import jinja2

from govmobile.gateway.dataplane.admin_api import ADMIN_API, Service
from govmobile.gateway.models import IdentityMode, Route

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("govmobile.gateway.dataplane", "templates"),
    undefined=jinja2.StrictUndefined,  # a missing value is a bug, never an empty directive
    autoescape=False,  # noqa: S701 - nginx configuration, not HTML; values are validated at input
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
#: govmobile_gateway.lua, the per-request checks in nginx's shared memory.
LUA_DIR = Path(__file__).parent / "lua"


@dataclass(frozen=True)
class Upstream:
    """A service the gateway proxies to (CA, MDM, its own control plane)."""

    name: str
    hostport: str
    tls: bool
    tls_name: str

    @classmethod
    def from_url(cls, name: str, url: str) -> Upstream:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{name}: {url!r} is not an http(s) URL")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
        return cls(name, f"{host}:{port}", parsed.scheme == "https", parsed.hostname)


@dataclass(frozen=True)
class RenderedRoute:
    name: str
    slug: str
    host: str | None
    hostport: str
    upstream_host: str
    upstream_path: str
    tls: bool
    trust_file: str
    rate_limit: int
    websocket: bool
    legacy_headers: bool
    user_header: str
    groups_header: str
    connect_timeout: int
    read_timeout: int


@dataclass(frozen=True)
class DataPlaneLayout:
    """Files the data plane reads, all under the run directory (a tmpfs in the container)."""

    run_dir: Path

    @property
    def config(self) -> Path:
        return self.run_dir / "nginx.conf"

    @property
    def crl(self) -> Path:
        return self.run_dir / "crl.pem"

    @property
    def access_socket(self) -> Path:
        """Where nginx takes access changes from the control plane (a unix socket)."""
        return self.run_dir / "access.sock"

    @property
    def access_log(self) -> Path:
        return self.run_dir / "access.log"

    @property
    def pid(self) -> Path:
        return self.run_dir / "nginx.pid"

    def upstream_trust(self, route_name: str) -> Path:
        return self.run_dir / "upstream-ca" / f"{route_name}.pem"

    def prepare(self) -> None:
        for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "upstream-ca"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    @property
    def worker_user(self) -> str | None:
        # nginx started as root would drop its workers to "nobody", who cannot use this private
        # run directory. That happens only outside the container (a workstation, the test
        # suite): the appliance runs the whole gateway as an unprivileged user.
        return "root root" if os.geteuid() == 0 else None


@dataclass(frozen=True)
class RenderInputs:
    public_hostname: str
    public_listen: str
    management_listen: str
    public_cert: Path
    public_key: Path
    management_cert: Path
    management_key: Path
    client_ca: Path
    internal_ca: Path
    ca: Upstream
    mdm: Upstream
    control: Upstream
    gateway_secret: str
    internal_secret: str
    decision_ttl: int
    #: Shared memory for refused certificates and access versions (never evicted), and for the
    #: decision cache (nginx sizes: "32m").
    access_memory: str
    decision_memory: str
    #: Shared memory for the portal's last answers to desired-state fetches (least recently used
    #: make room), from which nginx answers unchanged fetches itself.
    document_memory: str
    #: Debian's dynamic modules (the Lua module and the NDK it needs).
    modules_dir: Path
    worker_processes: str
    max_body_size: str
    client_timeout: int
    log_to_stdout: bool
    system_trust: Path
    #: The app portal and its repository's files, when one is deployed.
    portal: Upstream | None = None
    portal_files: Path | None = None
    portal_max_upload: str = "300m"


def render(
    inputs: RenderInputs, layout: DataPlaneLayout, routes: list[Route], *, generation: int
) -> tuple[str, dict[str, str]]:
    """The configuration text, and the routes left out (with why) so one bad route cannot stop all."""
    rendered: list[RenderedRoute] = []
    skipped: dict[str, str] = {}
    for route in routes:
        if not route.enabled:
            continue
        parsed = urllib.parse.urlsplit(route.upstream_url)
        host = parsed.hostname or ""
        try:
            socket.getaddrinfo(host, None)
        except OSError:
            skipped[route.name] = f"upstream host {host!r} does not resolve"
            continue
        tls = parsed.scheme == "https"
        trust = inputs.system_trust
        if tls and route.upstream_ca_pem:
            trust = layout.upstream_trust(route.name)
            trust.write_text(route.upstream_ca_pem)
        port = parsed.port or (443 if tls else 80)
        rendered.append(
            RenderedRoute(
                name=route.name,
                slug=route.name.replace("-", "_"),
                host=route.host,
                hostport=f"{host}:{port}",
                upstream_host=host,
                upstream_path=parsed.path.rstrip("/"),
                tls=tls,
                trust_file=str(trust),
                rate_limit=route.rate_limit,
                websocket=route.websocket,
                legacy_headers=route.identity_mode is IdentityMode.ASSERTION_AND_HEADERS,
                user_header=route.user_header,
                groups_header=route.groups_header,
                connect_timeout=route.connect_timeout_seconds,
                read_timeout=route.read_timeout_seconds,
            )
        )
    admin_upstreams = {Service.CA: inputs.ca, Service.MDM: inputs.mdm, Service.CONTROL: inputs.control}
    if inputs.portal is not None:
        admin_upstreams[Service.PORTAL] = inputs.portal
    text = _TEMPLATES.get_template("nginx.conf.j2").render(
        generation=generation,
        worker_user=layout.worker_user,
        run_dir=str(layout.run_dir),
        crl_file=str(layout.crl),
        lua_dir=str(LUA_DIR),
        routes=rendered,
        admin_api=[prefix for prefix in ADMIN_API if prefix.service in admin_upstreams],
        admin_upstreams=admin_upstreams,
        **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(inputs).items()},
    )
    return text, skipped

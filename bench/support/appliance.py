"""The appliance as the benchmarks run it: CA, MDM and the gateway (govmobile-gateway with the
nginx it renders and runs), and on request the app portal, as processes on loopback, on one
SQLite database with durable commits, configured by environment exactly as the containers are
(the services behind the gateway listen on plain HTTP on loopback; deployed, on TLS on the
internal network). An admin is logged in through the management listener, and a department
("water") with a person and a group exists.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.support.procs import BIN, Processes, free_port, http_ok, wait_until
from govmobile.portal.trust import KEY_FILES
from govmobile.portal.trust_root import generate_key, key_to_pem, make_root


@dataclass
class Appliance:
    work: Path
    database_url: str
    ca_dir: Path
    root: Path
    client_ca: Path
    public: tuple[Path, Path]
    public_port: int
    management_port: int
    run_dir: Path
    #: The control plane's own listener (loopback): its /metrics count nginx reloads.
    control_url: str
    #: The portal's process and volume (its repository under ``repository/``), when started.
    portal: subprocess.Popen[bytes] | None = None
    portal_data: Path | None = None
    token: str = ""
    tenant_id: str = ""
    person_id: str = ""
    group_id: str = ""

    @property
    def public_url(self) -> str:
        return f"https://localhost:{self.public_port}"

    @property
    def management_url(self) -> str:
        return f"https://localhost:{self.management_port}"

    def context(self, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.root))
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        return context

    def reloads(self) -> int:
        """How many times the control plane has reloaded nginx (on a route change, and at most
        once a minute to re-read a new CRL; access changes reload nothing)."""
        metrics = httpx.get(f"{self.control_url}/metrics", timeout=10).text
        match = re.search(r"^govmobile_gateway_reloads(?:\{[^}]*\})? ([\d.e+]+)$", metrics, re.MULTILINE)
        if not match:
            raise SystemExit("the gateway's /metrics has no govmobile_gateway_reloads")
        return int(float(match.group(1)))

    def wait_until_settled(self, quiet: float = 3.0) -> None:
        """Wait until nginx has not been reloaded for ``quiet`` seconds: a reload closes keep-alive
        connections, which ab counts as failures."""
        deadline = time.monotonic() + 60
        last, since = self.reloads(), time.monotonic()
        while time.monotonic() - since < quiet:
            if time.monotonic() > deadline:
                raise SystemExit("the gateway keeps reloading nginx")
            time.sleep(0.25)
            now = self.reloads()
            if now != last:
                last, since = now, time.monotonic()

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        with httpx.Client(base_url=self.management_url, verify=self.context(), timeout=30) as client:
            response = client.request(
                method, path, headers={"Authorization": f"Bearer {self.token}"}, **kwargs
            )
        if not response.is_success:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def service_certificate(work: Path, ca_env: dict[str, str], name: str) -> tuple[Path, Path]:
    """A TLS server certificate issued by the appliance CA (``govmobile-ca issue``, as bootstrap does)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .sign(key, hashes.SHA256())
    )
    (work / f"{name}.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    cert, key_path = work / f"{name}.crt", work / f"{name}.key"
    write_key(key_path, key)
    run(
        [
            str(BIN / "govmobile-ca"),
            "issue",
            "--profile",
            "service",
            "--csr",
            str(work / f"{name}.csr"),
            "--dns",
            "localhost",
            "--ip",
            "127.0.0.1",
            "--out",
            str(cert),
        ],
        ca_env,
    )
    return cert, key_path


def wait_healthy(name: str, process: subprocess.Popen[bytes], url: str, root: Path) -> None:
    wait_until(lambda: http_ok(url, cafile=str(root)), what=name, alive=lambda: process.poll() is None)


def portal_keys(directory: Path) -> Path:
    """What the controller hands the portal (docs/portal.md): the root metadata it signed offline
    and the online keys; the root key itself is thrown away here. Returns the root file."""
    directory.mkdir(parents=True)
    online = {role: generate_key() for role in KEY_FILES}
    root = make_root(
        [generate_key()],
        {role: online[role].public_key for role in ("targets", "snapshot", "timestamp")},
        now=dt.datetime.now(dt.UTC),
    )
    for role, name in KEY_FILES.items():
        (directory / name).write_bytes(key_to_pem(online[role]))
        (directory / name).chmod(0o600)
    (directory / "root.json").write_bytes(root.to_bytes())
    return directory / "root.json"


def start_appliance(
    work: Path, procs: Processes, *, portal_workers: int = 0
) -> tuple[Appliance, subprocess.Popen[bytes]]:
    """The appliance; with ``portal_workers``, the portal too (that many worker processes), the
    gateway sending devices' portal requests to it and its packages from its volume."""
    database_url = f"sqlite:///{work / 'govmobile.sqlite3'}"
    ca_dir = work / "ca"
    run([str(BIN / "govmobile-ca"), "init", "--ca-dir", str(ca_dir)])
    run([str(BIN / "govmobile-db"), "upgrade"], {"GOVMOBILE_DB_DATABASE_URL": database_url})
    ca_env = {"GOVMOBILE_CA_CA_DIR": str(ca_dir), "GOVMOBILE_CA_DATABASE_URL": database_url}
    tls = work / "tls"
    tls.mkdir()
    public = service_certificate(tls, ca_env, "public")
    management = service_certificate(tls, ca_env, "management")
    root = ca_dir / "root.crt"
    client_ca = tls / "client-ca.pem"
    client_ca.write_bytes((ca_dir / "issuing.crt").read_bytes() + root.read_bytes())
    root_crl = tls / "root-crl.pem"
    run(
        [
            str(BIN / "govmobile-ca"),
            "root-crl",
            "--root-cert",
            str(root),
            "--root-key",
            str(ca_dir / "root-offline" / "root.key"),
            "--out",
            str(root_crl),
        ]
    )

    ra_secret, gateway_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    ca_port, mdm_port, control_port = free_port(), free_port(), free_port()
    public_port, management_port = free_port(), free_port()
    ca = procs.start(
        "ca",
        [str(BIN / "govmobile-ca"), "serve"],
        {
            **ca_env,
            "GOVMOBILE_CA_RA_SECRETS": json.dumps({"mdm": ra_secret}),
            "GOVMOBILE_CA_LISTEN_PORT": str(ca_port),
            "GOVMOBILE_CA_LOG_LEVEL": "warning",
        },
    )
    mdm_env = {
        "GOVMOBILE_MDM_DATABASE_URL": database_url,
        "GOVMOBILE_MDM_CA_URL": f"http://127.0.0.1:{ca_port}",
        "GOVMOBILE_MDM_CA_RA_SECRET": ra_secret,
        "GOVMOBILE_MDM_GATEWAY_SECRET": gateway_secret,
        "GOVMOBILE_MDM_PUBLIC_URL": f"https://localhost:{public_port}",
        "GOVMOBILE_MDM_LISTEN_PORT": str(mdm_port),
        "GOVMOBILE_MDM_LOG_LEVEL": "warning",
    }
    mdm = procs.start("mdm", [str(BIN / "govmobile-mdm"), "serve"], mdm_env)
    password = work / "admin-password"
    password.write_text(secrets.token_urlsafe(24))
    password.chmod(0o600)
    run([str(BIN / "govmobile-mdm"), "bootstrap-admin", "--password-file", str(password)], mdm_env)
    # The gateway fetches the CA's first CRL when it starts (and refuses to start without it).
    wait_healthy("govmobile-ca", ca, f"http://127.0.0.1:{ca_port}/healthz", root)
    wait_healthy("govmobile-mdm", mdm, f"http://127.0.0.1:{mdm_port}/healthz", root)
    portal, portal_env, portal_data = None, {}, None
    if portal_workers:
        portal_port, portal_data = free_port(), work / "portal"
        root_file = portal_keys(work / "portal-keys")
        portal = procs.start(
            "portal",
            [str(BIN / "govmobile-portal"), "serve"],
            {
                "GOVMOBILE_PORTAL_DATABASE_URL": database_url,
                "GOVMOBILE_PORTAL_GATEWAY_SECRET": gateway_secret,
                "GOVMOBILE_PORTAL_LISTEN_PORT": str(portal_port),
                "GOVMOBILE_PORTAL_WORKERS": str(portal_workers),
                "GOVMOBILE_PORTAL_DATA_DIR": str(portal_data),
                "GOVMOBILE_PORTAL_ROOT_FILE": str(root_file),
                "GOVMOBILE_PORTAL_KEYS_DIR": str(root_file.parent),
                "GOVMOBILE_PORTAL_LOG_LEVEL": "warning",
            },
        )
        wait_healthy("govmobile-portal", portal, f"http://127.0.0.1:{portal_port}/healthz", root)
        portal_env = {
            "GOVMOBILE_GATEWAY_PORTAL_URL": f"http://127.0.0.1:{portal_port}",
            "GOVMOBILE_GATEWAY_PORTAL_FILES_DIR": str(portal_data / "repository"),
        }
    run_dir = work / "gateway-run"
    gateway = procs.start(
        "gateway",
        [str(BIN / "govmobile-gateway"), "run"],
        {
            "GOVMOBILE_GATEWAY_DATABASE_URL": database_url,
            "GOVMOBILE_GATEWAY_LISTEN_PORT": str(control_port),
            "GOVMOBILE_GATEWAY_PUBLIC_HOSTNAME": "localhost",
            "GOVMOBILE_GATEWAY_PUBLIC_URL": f"https://localhost:{public_port}",
            "GOVMOBILE_GATEWAY_PUBLIC_LISTEN": f"127.0.0.1:{public_port}",
            "GOVMOBILE_GATEWAY_MANAGEMENT_LISTEN": f"127.0.0.1:{management_port}",
            "GOVMOBILE_GATEWAY_PUBLIC_TLS_CERT": str(public[0]),
            "GOVMOBILE_GATEWAY_PUBLIC_TLS_KEY": str(public[1]),
            "GOVMOBILE_GATEWAY_MANAGEMENT_TLS_CERT": str(management[0]),
            "GOVMOBILE_GATEWAY_MANAGEMENT_TLS_KEY": str(management[1]),
            "GOVMOBILE_GATEWAY_CLIENT_CA_FILE": str(client_ca),
            "GOVMOBILE_GATEWAY_ROOT_CRL_FILE": str(root_crl),
            "GOVMOBILE_GATEWAY_INTERNAL_CA_FILE": str(root),
            "GOVMOBILE_GATEWAY_CA_URL": f"http://127.0.0.1:{ca_port}",
            "GOVMOBILE_GATEWAY_MDM_URL": f"http://127.0.0.1:{mdm_port}",
            "GOVMOBILE_GATEWAY_GATEWAY_SECRET": gateway_secret,
            "GOVMOBILE_GATEWAY_RUN_DIR": str(run_dir),
            "GOVMOBILE_GATEWAY_KEYS_DIR": str(work / "gateway-keys"),
            "GOVMOBILE_GATEWAY_LOG_LEVEL": "warning",
            **portal_env,
        },
    )
    wait_healthy("govmobile-gateway", gateway, f"https://localhost:{management_port}/healthz", root)
    appliance = Appliance(
        work,
        database_url,
        ca_dir,
        root,
        client_ca,
        public,
        public_port,
        management_port,
        run_dir,
        f"http://127.0.0.1:{control_port}",
        portal,
        portal_data,
    )
    with httpx.Client(base_url=appliance.management_url, verify=appliance.context(), timeout=30) as client:
        response = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": password.read_text().strip()}
        )
        if response.status_code != 200:
            raise SystemExit(f"login through the management listener: {response.status_code} {response.text}")
        appliance.token = response.json()["token"]
    tenant = appliance.admin("POST", "/api/v1/tenants", json={"slug": "water", "name": "Water Resources"})
    person = appliance.admin(
        "POST",
        "/api/v1/people",
        json={"tenant_id": tenant["id"], "username": "inspector", "display_name": "Field Inspector"},
    )
    group = appliance.admin("POST", "/api/v1/groups", json={"tenant_id": tenant["id"], "name": "field-staff"})
    appliance.tenant_id, appliance.person_id, appliance.group_id = tenant["id"], person["id"], group["id"]
    return appliance, gateway
